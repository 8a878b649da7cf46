"""What the policies run from an export of the torch model share (ONNX Runtime, TensorRT).

Neither has a torch model that would tokenise the text or carry the statistics, so both read
the checkpoint's normalisation statistics and tokenizer themselves, and both feed their
encoder the same named numpy arrays (the TensorRT engines are built from the ONNX graphs, so
their inputs are the same) and read the same head outputs. `ExportedPolicy` holds that, so
the two backends answer an observation the same way; each adds only how it runs a graph.

No runtime is imported here: a backend imports its runtime through `import_runtime`, on use,
and gets an actionable error where it is missing; the Kosmos-2 tokenisation imports its
processor on use.
"""

from __future__ import annotations

import abc
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .action_space import Normalizer
from .base import NORMALIZATION_FILE, Policy, TOKENIZER_DIR
from .config import NanoBackboneConfig, RoboVLMsConfig
from .errors import BackendUnavailableError, CheckpointError
from .text import CharTokenizer

#: texts -> the encoder's text inputs ('input_ids', 'attention_mask', ...) as numpy arrays.
TextInputs = Callable[[Sequence[str]], Dict[str, np.ndarray]]


def import_runtime(module: str, backend: str, install: str) -> Any:
    """`import <module>` for the `backend` backend, or a BackendUnavailableError that says
    what to install (`install`) instead of a bare ImportError."""
    try:
        return __import__(module)
    except ImportError as exc:
        raise BackendUnavailableError(f'the {backend} backend needs {install}') from exc


def text_inputs_for(cfg: RoboVLMsConfig, tokenizer_dir: str) -> TextInputs:
    """The checkpoint's tokenisation as numpy arrays (no torch model needed)."""
    if isinstance(cfg.backbone, NanoBackboneConfig):
        tok = CharTokenizer.load(tokenizer_dir)

        def encode(texts: Sequence[str]) -> Dict[str, np.ndarray]:
            ids, mask = tok(texts)
            return {'input_ids': ids, 'attention_mask': mask}
        return encode
    from .backbones.kosmos2 import Kosmos2TextInputs, load_processor

    model_config = cfg.backbone.model_config or {}
    return Kosmos2TextInputs(load_processor(tokenizer_dir),
                             int(model_config.get('latent_query_num', 64)),
                             cfg.backbone.max_text_tokens)


def load_checkpoint_inputs(path: str, cfg: RoboVLMsConfig) -> Tuple[Normalizer, TextInputs]:
    """The normalisation statistics and the tokenisation of the checkpoint directory `path`.

    Without a torch model nothing else brings the tokenizer, so a checkpoint without its
    tokenizer directory is refused here (CheckpointError naming it), before any graph or
    engine is loaded.
    """
    normalizer = Normalizer.load(os.path.join(path, NORMALIZATION_FILE))
    tok_dir = os.path.join(path, TOKENIZER_DIR)
    if not os.path.isdir(tok_dir):
        raise CheckpointError(f'{path}: tokenizer directory {TOKENIZER_DIR}/ missing')
    return normalizer, text_inputs_for(cfg, tok_dir)


def encoder_feeds(images: Tuple[np.ndarray, ...], text: str, state: Optional[np.ndarray],
                  text_inputs: TextInputs) -> Dict[str, np.ndarray]:
    """The encoder's inputs for one step, by the names `export_onnx` gives them.

    images (1, K, S, S, 3) uint8, the text arrays, and the normalised state (1, state_dim)
    float32 when there is one. A runtime takes from these only the inputs its graph has.
    """
    feeds: Dict[str, np.ndarray] = {'images': np.stack(images)[None]}
    feeds.update(text_inputs([text]))
    if state is not None:
        feeds['state'] = state.reshape(1, -1).astype(np.float32)
    return feeds


#: The head graph's outputs (the second only with a done head).
HEAD_OUTPUTS = ('actions', 'done')


def head_outputs(names: Sequence[str], done_head: bool, where: str) -> Tuple[int, int]:
    """Indices of 'actions' and 'done' (-1 without a done head) among a head graph's or
    engine's output names; CheckpointError when an export predates the checkpoint's done
    head (it would silently drop the termination signal)."""
    names = list(names)
    if HEAD_OUTPUTS[0] not in names:
        raise CheckpointError(f'{where}: the head has no {HEAD_OUTPUTS[0]!r} output ({names})')
    if done_head and HEAD_OUTPUTS[1] not in names:
        raise CheckpointError(f'{where}: the checkpoint has a done head but this export has no '
                              f'{HEAD_OUTPUTS[1]!r} output: export it again')
    return names.index(HEAD_OUTPUTS[0]), names.index(HEAD_OUTPUTS[1]) if done_head else -1


class ExportedPolicy(Policy):
    """A policy run from an export of its torch model: the checkpoint's statistics and
    tokenisation, the encoder's named inputs and the head's outputs are shared; a backend
    implements `_run_encoder` and `_run_head` and sets `_outputs` (from `head_outputs`)."""

    def __init__(self, config: RoboVLMsConfig, normalizer: Normalizer,
                 text_inputs: TextInputs) -> None:
        super().__init__(config, normalizer)
        self._text_inputs = text_inputs
        self._image_size = int(getattr(config.backbone, 'image_size', 0) or 224)
        self._outputs: Tuple[int, int] = (0, -1)

    @property
    def image_size(self) -> int:
        return self._image_size

    @abc.abstractmethod
    def _run_encoder(self, feeds: Dict[str, np.ndarray]) -> np.ndarray:
        """The encoder's first output for `encoder_feeds` (it takes the inputs it has)."""

    @abc.abstractmethod
    def _run_head(self, embeddings: np.ndarray) -> List[np.ndarray]:
        """The head's outputs, in its output order, for (1, T, D) float32 embeddings."""

    def _encode_step(self, images: Tuple[np.ndarray, ...], text: str,
                     state: Optional[np.ndarray]) -> np.ndarray:
        feeds = encoder_feeds(images, text, state, self._text_inputs)
        return self._run_encoder(feeds)[0].astype(np.float32)

    def _predict_with_done(self, history: List[np.ndarray]
                           ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        out = self._run_head(np.stack(history)[None].astype(np.float32))
        actions, done = self._outputs
        return (out[actions][0].astype(np.float32),
                out[done][0].astype(np.float32) if done >= 0 else None)

    def _predict_normalized(self, history: List[np.ndarray]) -> np.ndarray:
        return self._predict_with_done(history)[0]
