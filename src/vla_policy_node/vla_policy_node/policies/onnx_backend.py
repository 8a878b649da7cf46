"""ONNX export of a RoboVLMs policy and a policy that runs the export in ONNX Runtime.

The export is two graphs stored next to the checkpoint (`<checkpoint>/onnx/`):
  encoder.onnx  one step: images (1, K, S, S, 3) uint8, token ids/masks (1, L) int64
                [, image_embeds_position_mask (1, L)] [, state (1, state_dim) normalised]
                -> embedding (1, D)
  head.onnx     the window: embeddings (1, T, D) -> normalised chunk `actions` (1, chunk,
                dims) [, `done` (1, chunk) termination probabilities with a done head]
plus `export.json` describing them. Splitting at the step embedding keeps the history window
a cache of embeddings, exactly as in the torch policy, so each inference runs the backbone
once. `OnnxPolicy` shares the checkpoint's config, normalisation and tokenizer and inherits
the whole `Policy` behaviour (through `ExportedPolicy`, shared with TensorRT), so the
backends answer the same observation the same way.
The same graphs are the input of TensorRT engine builds on the Jetson.

onnxruntime is imported lazily; a missing package or export raises an actionable error.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .action_space import Normalizer
from .base import ONNX_DIR, read_config, warn_without_done_signal
from .config import RoboVLMsConfig
from .errors import CheckpointError, EngineNotSavableError, read_json
from .exported import (ExportedPolicy, HEAD_OUTPUTS, head_outputs, import_runtime,
                       load_checkpoint_inputs, TextInputs)

EXPORT_FILE = 'export.json'
ENCODER_FILE = 'encoder.onnx'
HEAD_FILE = 'head.onnx'
DEFAULT_OPSET = 17
TEXT_KEYS = ('input_ids', 'attention_mask', 'image_embeds_position_mask')


def _onnxruntime() -> Any:
    return import_runtime('onnxruntime', 'onnx', 'onnxruntime: pip install onnxruntime (x86) '
                          'or the onnxruntime-gpu wheel for JetPack on the Jetson')


# --------------------------------------------------------------------------- export

def _wrappers(model: Any, names: Sequence[str]) -> Tuple[Any, Any]:
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: Any) -> Any:
            d = dict(zip(names, args))
            text = {k: d[k] for k in TEXT_KEYS if k in d}
            state = d['state'].unsqueeze(1) if 'state' in d else None
            return self.model.embed(d['images'].unsqueeze(1), text, state)[:, 0]

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, embeddings: Any) -> Any:
            actions, done = self.model.predict(embeddings)
            return actions[:, -1] if done is None else (actions[:, -1], done[:, -1])

    return Encoder().eval(), Decoder().eval()


def export_onnx(policy: Any, out_dir: Optional[str] = None, opset: int = DEFAULT_OPSET,
                verify: bool = True, tolerance: float = 1e-4,
                example_text: str = '박스를 왼쪽으로 돌아서 컵까지 가세요') -> Dict[str, Any]:
    """Export a RoboVLMsPolicy to `out_dir` (default `<policy.source>/onnx`).

    With `verify`, runs torch and ONNX Runtime on an example and raises if the chunks differ
    by more than `tolerance`. Returns the export description (also in export.json).
    """
    import torch

    if out_dir is None:
        if not policy.source:
            raise CheckpointError('export_onnx needs out_dir for a policy that was not loaded '
                                  'from a checkpoint (save_pretrained it first)')
        out_dir = os.path.join(policy.source, ONNX_DIR)
    cfg = policy.config
    model = policy.model.eval()
    size, k = policy.image_size, cfg.num_cameras
    text = policy.model.backbone.tokenize([example_text])
    names = ['images'] + [n for n in TEXT_KEYS if n in text]
    args: List[Any] = [torch.randint(0, 255, (1, k, size, size, 3), dtype=torch.uint8)]
    args += [text[n] for n in names[1:]]
    if cfg.state_dim:
        names.append('state')
        args.append(torch.zeros(1, cfg.state_dim))
    encoder, decoder = _wrappers(model, names)
    outputs = HEAD_OUTPUTS if cfg.done_head else HEAD_OUTPUTS[:1]
    steps = max(2, min(cfg.window_size, 3))
    emb = torch.randn(1, steps, model.embed_dim)
    tmp = tempfile.mkdtemp(prefix='onnx-export-')
    try:
        dynamic = {n: {1: 'tokens'} for n in names if n in TEXT_KEYS}
        with torch.no_grad(), warnings.catch_warnings():
            # Tracing notes about Python-side shape checks (constant for batch 1, which is
            # what the export serves) and the legacy exporter's deprecation notice.
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            warnings.simplefilter('ignore', DeprecationWarning)
            warnings.filterwarnings('ignore', message='Exporting a model to ONNX with a batch')
            torch.onnx.export(encoder, tuple(args), os.path.join(tmp, ENCODER_FILE),
                              input_names=names, output_names=['embedding'],
                              dynamic_axes=dynamic, opset_version=opset, dynamo=False)
            torch.onnx.export(decoder, (emb,), os.path.join(tmp, HEAD_FILE),
                              input_names=['embeddings'], output_names=list(outputs),
                              dynamic_axes={'embeddings': {1: 'steps'}}, opset_version=opset,
                              dynamo=False)
        info = {'format': 'vla_policy_node.onnx/1', 'encoder': ENCODER_FILE, 'head': HEAD_FILE,
                'opset': opset, 'torch': torch.__version__, 'inputs': names,
                'head_outputs': list(outputs),
                'image_size': size, 'num_cameras': k, 'embed_dim': int(model.embed_dim),
                'chunk_size': cfg.chunk_size, 'dims': policy.action_space.dims,
                'window_size': cfg.window_size}
        if verify:
            info['max_abs_diff'] = _verify(tmp, encoder, decoder, names, args, emb, tolerance)
        with open(os.path.join(tmp, EXPORT_FILE), 'w', encoding='utf-8') as f:
            json.dump(info, f, indent=2)
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        shutil.copytree(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def _verify(directory: str, encoder: Any, decoder: Any, names: Sequence[str],
            args: Sequence[Any], emb: Any, tolerance: float) -> float:
    import torch

    ort = _onnxruntime()
    enc = ort.InferenceSession(os.path.join(directory, ENCODER_FILE),
                               providers=['CPUExecutionProvider'])
    head = ort.InferenceSession(os.path.join(directory, HEAD_FILE),
                                providers=['CPUExecutionProvider'])
    feeds = {n: a.numpy() for n, a in zip(names, args)}
    inputs = {i.name for i in enc.get_inputs()}
    got_emb = enc.run(None, {n: v for n, v in feeds.items() if n in inputs})[0]
    got_head = head.run(None, {'embeddings': emb.numpy()})
    with torch.no_grad():
        want_emb = encoder(*args).numpy()
        want = decoder(emb)
        want_head = [t.numpy() for t in (want if isinstance(want, tuple) else (want,))]
    diff = float(max([np.abs(got_emb - want_emb).max()]
                     + [np.abs(g - w).max() for g, w in zip(got_head, want_head)]))
    if not diff <= tolerance:
        raise CheckpointError(f'ONNX export differs from torch by {diff:.3g} (> {tolerance})')
    return diff


# --------------------------------------------------------------------------- runtime

class OnnxPolicy(ExportedPolicy):
    """The same policy, run from its ONNX export in ONNX Runtime (no torch model)."""

    backend = 'onnx'

    def __init__(self, config: RoboVLMsConfig, normalizer: Normalizer, onnx_dir: str,
                 text_inputs: TextInputs, num_threads: int = 0,
                 providers: Optional[Sequence[str]] = None) -> None:
        super().__init__(config, normalizer, text_inputs)
        ort = _onnxruntime()
        self.info = read_json(os.path.join(onnx_dir, EXPORT_FILE),
                              f'no ONNX export in {onnx_dir} ({EXPORT_FILE} missing): run '
                              f'`export_policy_onnx {os.path.dirname(onnx_dir)}` first')
        opts = ort.SessionOptions()
        if num_threads:
            opts.intra_op_num_threads = int(num_threads)
            opts.inter_op_num_threads = 1
        providers = list(providers or ['CPUExecutionProvider'])
        self._sessions = []
        for key in ('encoder', 'head'):
            path = os.path.join(onnx_dir, str(self.info.get(key, '')))
            if not os.path.isfile(path):
                raise CheckpointError(f'ONNX file missing: {path}')
            try:
                self._sessions.append(ort.InferenceSession(path, opts, providers=providers))
            except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
                raise CheckpointError(f'cannot load {path}: {type(exc).__name__}: {exc}') \
                    from exc
        self._encoder, self._head = self._sessions
        self._encoder_inputs = [i.name for i in self._encoder.get_inputs()]
        self._outputs = head_outputs([o.name for o in self._head.get_outputs()],
                                     config.done_head, onnx_dir)
        self._image_size = int(self.info['image_size'])

    def _run_encoder(self, feeds: Dict[str, np.ndarray]) -> np.ndarray:
        return self._encoder.run(None, {n: feeds[n] for n in self._encoder_inputs})[0]

    def _run_head(self, embeddings: np.ndarray) -> List[np.ndarray]:
        return self._head.run(None, {'embeddings': embeddings})

    def save_pretrained(self, path: str) -> None:
        """Always EngineNotSavableError: the export is made from a checkpoint, not one."""
        raise EngineNotSavableError(
            f'an ONNX export cannot be saved as a checkpoint ({path}): it holds no trainable '
            'weights. Save the PyTorch policy instead and export it with '
            '`export_policy_onnx <checkpoint>`')

    @classmethod
    def from_pretrained(cls, path: str, num_threads: int = 0,
                        providers: Optional[Sequence[str]] = None, **kwargs: Any
                        ) -> 'OnnxPolicy':
        """Load `<path>` (config, statistics, tokenizer) and its `<path>/onnx/` export."""
        cfg = read_config(path)
        warn_without_done_signal(cfg, path)
        normalizer, text_inputs = load_checkpoint_inputs(path, cfg)
        policy = cls(cfg, normalizer, os.path.join(path, ONNX_DIR), text_inputs, num_threads,
                     providers)
        policy.source = os.path.abspath(path)
        return policy
