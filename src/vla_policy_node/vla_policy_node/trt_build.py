"""`build_trt_engine`: build the TensorRT engines of a checkpoint ON the device that runs them.

    build_trt_engine CHECKPOINT [--precision fp16|int8|fp32] [--calib-images DIR]
                     [--calib-text TEXT ...] [--calib-cache FILE] [--workspace-mb 2048]

Input: `<checkpoint>/onnx/{encoder,head}.onnx` (`export_policy_onnx`, which can run anywhere).
Output: `<checkpoint>/trt/{encoder,head}.engine` + `engine.json` (device model, SoC, L4T,
JetPack, TensorRT version, precision, engine hashes), read by the `tensorrt` backend.
Dynamic axes get optimisation profiles: text tokens 1..max_text_tokens (opt: the example
instruction's length), window steps 1..window_size (opt: window_size).

INT8 needs calibration: sample observations (images from `--calib-images`, instructions from
`--calib-text`, default the preset examples) are encoded into the encoder's inputs with the
checkpoint's own tokenizer and image preparation, and the head is calibrated on the
embeddings ONNX Runtime computes for them. The calibration cache is written next to the
engines (`--calib-cache` reuses one) so a rebuild does not recalibrate.
`trtexec --onnx=... --saveEngine=... --fp16 --minShapes/--optShapes/--maxShapes` builds the
same engines (the tool prints that command with `--print-trtexec`), but writes no metadata.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .policies.errors import BackendUnavailableError, PolicyError
from .policies.tensorrt_backend import (ENCODER_ENGINE, EngineMeta, HEAD_ENGINE, PRECISIONS,
                                        sha256_file, tensorrt_module, TRT_DIR,
                                        write_engine_meta)


def shape_profiles(info: Dict[str, Any], opt_tokens: int, max_tokens: int
                   ) -> Dict[str, Dict[str, Tuple[Tuple[int, ...], ...]]]:
    """{graph: {input: (min, opt, max) shapes}} for the export described by export.json."""
    size, k, dim = int(info['image_size']), int(info['num_cameras']), int(info['embed_dim'])
    window = int(info.get('window_size', 16))
    enc: Dict[str, Tuple[Tuple[int, ...], ...]] = {}
    for name in info['inputs']:
        if name == 'images':
            s: Tuple[int, ...] = (1, k, size, size, 3)
            enc[name] = (s, s, s)
        elif name == 'state':
            continue  # static (1, state_dim): taken from the graph
        else:
            enc[name] = ((1, 1), (1, opt_tokens), (1, max_tokens))
    head = {'embeddings': ((1, 1, dim), (1, window, dim), (1, window, dim))}
    return {'encoder': enc, 'head': head}


def trtexec_command(onnx: str, engine: str, profile: Dict[str, Tuple[Tuple[int, ...], ...]],
                    precision: str, calib_cache: str = '') -> List[str]:
    """The equivalent trtexec call (no metadata file: prefer this tool)."""
    def shapes(i: int) -> str:
        return ','.join(f'{n}:{"x".join(str(d) for d in s[i])}' for n, s in profile.items())
    cmd = ['trtexec', f'--onnx={onnx}', f'--saveEngine={engine}', f'--minShapes={shapes(0)}',
           f'--optShapes={shapes(1)}', f'--maxShapes={shapes(2)}']
    if precision in ('fp16', 'int8'):
        cmd.append('--fp16')
    if precision == 'int8':
        cmd += ['--int8'] + ([f'--calib={calib_cache}'] if calib_cache else [])
    return cmd


def calibration_feeds(checkpoint: str, info: Dict[str, Any], images_dir: str,
                      texts: Sequence[str], limit: int = 64) -> List[Dict[str, np.ndarray]]:
    """Encoder inputs for sample observations, prepared exactly as the policy prepares them."""
    import cv2

    from .policies.base import read_config, TOKENIZER_DIR
    from .policies.exported import text_inputs_for

    cfg = read_config(checkpoint)
    encode = text_inputs_for(cfg, os.path.join(checkpoint, TOKENIZER_DIR))
    size, k = int(info['image_size']), int(info['num_cameras'])
    paths = sorted(p for ext in ('png', 'jpg', 'jpeg')
                   for p in glob.glob(os.path.join(images_dir, f'*.{ext}')))[:limit]
    if not paths:
        raise PolicyError(f'no calibration images (*.png, *.jpg) in {images_dir!r}')
    feeds = []
    for i, path in enumerate(paths):
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise PolicyError(f'cannot read calibration image {path}')
        rgb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (size, size),
                         interpolation=cv2.INTER_AREA)
        feed = {'images': np.stack([rgb] * k)[None].astype(np.uint8)}
        feed.update(encode([texts[i % len(texts)]]))
        if 'state' in info['inputs']:
            feed['state'] = np.zeros((1, int(cfg.state_dim)), np.float32)
        feeds.append(feed)
    return feeds


def _calibrator(trt: Any, batches: List[Dict[str, np.ndarray]], cache: str) -> Any:
    """An entropy calibrator over `batches` (one observation each) with a cache file."""
    from .policies.tensorrt_backend import _Cuda

    cuda = _Cuda()

    class Calibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self._it: Iterator[Dict[str, np.ndarray]] = iter(batches)
            self._mem: Dict[str, Tuple[int, Any]] = {}

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: List[str]) -> Optional[List[int]]:
            batch = next(self._it, None)
            if batch is None:
                return None
            ptrs = []
            for name in names:
                array = np.ascontiguousarray(batch[name])
                if name not in self._mem or self._mem[name][1] < array.nbytes:
                    self._mem[name] = (cuda.malloc(array.nbytes)[0], array.nbytes)
                cuda.to_device(self._mem[name][0], array)
                ptrs.append(self._mem[name][0])
            cuda.synchronize()
            return ptrs

        def read_calibration_cache(self) -> Optional[bytes]:
            if cache and os.path.isfile(cache):
                with open(cache, 'rb') as f:
                    return f.read()
            return None

        def write_calibration_cache(self, data: Any) -> None:
            with open(cache, 'wb') as f:
                f.write(bytes(data))

    return Calibrator()


def build_engine(trt: Any, onnx_path: str, engine_path: str,
                 profile: Dict[str, Tuple[Tuple[int, ...], ...]], precision: str,
                 workspace_mb: int, calibrator: Any = None,
                 calib_shapes: Optional[Dict[str, Tuple[int, ...]]] = None) -> None:
    """Parse `onnx_path`, build with one optimisation profile, write `engine_path`."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, 'EXPLICIT_BATCH'):  # TensorRT 8.x
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    with open(onnx_path, 'rb') as f:
        if not parser.parse(f.read()):
            errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
            raise PolicyError(f'TensorRT cannot parse {onnx_path}: {"; ".join(errors)}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if precision in ('fp16', 'int8'):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == 'int8':
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
    opt = builder.create_optimization_profile()
    for name, (lo, mid, hi) in profile.items():
        opt.set_shape(name, lo, mid, hi)
    config.add_optimization_profile(opt)
    if precision == 'int8':
        # Calibration runs at one fixed shape per input: that of the sample batches.
        cal = builder.create_optimization_profile()
        for name, (lo, mid, hi) in profile.items():
            shape = (calib_shapes or {}).get(name, mid)
            cal.set_shape(name, shape, shape, shape)
        config.set_calibration_profile(cal)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise PolicyError(f'TensorRT failed to build {onnx_path} (see the log above)')
    with open(engine_path, 'wb') as f:
        f.write(serialized)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point `build_trt_engine`."""
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('checkpoint')
    ap.add_argument('--precision', choices=PRECISIONS, default='fp16')
    ap.add_argument('--calib-images', default='', help='INT8: directory of sample camera frames')
    ap.add_argument('--calib-text', nargs='*', default=None,
                    help='INT8: instructions paired with the images (default: preset examples)')
    ap.add_argument('--calib-cache', default='', help='INT8: existing calibration cache')
    ap.add_argument('--workspace-mb', type=int, default=2048)
    ap.add_argument('--max-tokens', type=int, default=0,
                    help='longest text (default: the backbone max_text_tokens)')
    ap.add_argument('--print-trtexec', action='store_true',
                    help='print the equivalent trtexec commands and exit')
    args = ap.parse_args(argv)

    from .policies.base import ONNX_DIR, read_config
    from .policies.onnx_backend import EXPORT_FILE
    from .policies.presets import EXAMPLE_INSTRUCTIONS
    from .preflight import read_device_info

    onnx_dir = os.path.join(args.checkpoint, ONNX_DIR)
    out_dir = os.path.join(args.checkpoint, TRT_DIR)
    try:
        cfg = read_config(args.checkpoint)
        try:
            with open(os.path.join(onnx_dir, EXPORT_FILE), encoding='utf-8') as f:
                info = json.load(f)
        except OSError:
            raise PolicyError(f'no ONNX export in {onnx_dir}: run `export_policy_onnx '
                              f'{args.checkpoint}` first') from None
        texts = list(args.calib_text or EXAMPLE_INSTRUCTIONS)
        max_tokens = args.max_tokens or int(getattr(cfg.backbone, 'max_text_tokens', 0) or 128)
        opt_tokens = 16
        if any(n != 'images' and n != 'state' for n in info['inputs']):
            from .policies.base import TOKENIZER_DIR
            from .policies.exported import text_inputs_for
            sample = text_inputs_for(cfg, os.path.join(args.checkpoint, TOKENIZER_DIR))(texts[:1])
            opt_tokens = int(sample['input_ids'].shape[1])
            max_tokens = max(max_tokens, opt_tokens)
        profiles = shape_profiles(info, opt_tokens, max_tokens)
        cache = args.calib_cache or os.path.join(out_dir, 'calibration.cache')
        if args.print_trtexec:
            for graph, engine in (('encoder', ENCODER_ENGINE), ('head', HEAD_ENGINE)):
                print(' '.join(trtexec_command(os.path.join(onnx_dir, info[graph]),
                                               os.path.join(out_dir, engine), profiles[graph],
                                               args.precision, cache)))
            return 0
        device = read_device_info()
        if not device.is_jetson:
            print('warning: not a Jetson - engines built here run only on this GPU',
                  file=sys.stderr)
        trt = tensorrt_module()
        os.makedirs(out_dir, exist_ok=True)
        enc_cal = head_cal = None
        enc_shapes: Dict[str, Tuple[int, ...]] = {}
        if args.precision == 'int8':
            enc_feeds: List[Dict[str, np.ndarray]] = []
            if not (args.calib_cache and os.path.isfile(args.calib_cache)):
                if not args.calib_images:
                    raise PolicyError('--precision int8 needs --calib-images DIR (sample '
                                      'camera frames) or an existing --calib-cache')
                enc_feeds = calibration_feeds(args.checkpoint, info, args.calib_images, texts)
            enc_feeds, enc_shapes = same_shape(enc_feeds)
            enc_cal = _calibrator(trt, enc_feeds, cache + '.encoder')
            head_cal = _calibrator(trt, _head_feeds(onnx_dir, info, enc_feeds),
                                   cache + '.head')
        build_engine(trt, os.path.join(onnx_dir, info['encoder']),
                     os.path.join(out_dir, ENCODER_ENGINE), profiles['encoder'],
                     args.precision, args.workspace_mb, enc_cal, enc_shapes)
        build_engine(trt, os.path.join(onnx_dir, info['head']),
                     os.path.join(out_dir, HEAD_ENGINE), profiles['head'],
                     args.precision, args.workspace_mb, head_cal)
        meta = EngineMeta(device.model, device.soc, device.l4t, device.jetpack,
                          str(trt.__version__), args.precision,
                          sha256_file(os.path.join(out_dir, ENCODER_ENGINE)),
                          sha256_file(os.path.join(out_dir, HEAD_ENGINE)), max_tokens,
                          int(info.get('window_size', 0)),
                          cache if args.precision == 'int8' else '',
                          datetime.datetime.now(datetime.timezone.utc).isoformat())
        write_engine_meta(out_dir, meta)
    except (PolicyError, BackendUnavailableError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(json.dumps(meta.to_dict(), indent=2))
    return 0


def _head_feeds(onnx_dir: str, info: Dict[str, Any], enc_feeds: List[Dict[str, np.ndarray]]
                ) -> List[Dict[str, np.ndarray]]:
    """Head calibration windows: embeddings of the samples from the encoder in ONNX Runtime."""
    if not enc_feeds:
        return []
    import onnxruntime as ort

    sess = ort.InferenceSession(os.path.join(onnx_dir, info['encoder']),
                                providers=['CPUExecutionProvider'])
    names = [i.name for i in sess.get_inputs()]
    embs = [sess.run(None, {n: f[n] for n in names})[0][0] for f in enc_feeds]
    window = max(1, int(info.get('window_size', 1)))
    # Full windows only (the calibration shape): the start is padded with the first step.
    padded = [embs[0]] * (window - 1) + embs
    return [{'embeddings': np.stack(padded[i:i + window])[None].astype(np.float32)}
            for i in range(len(embs))]


def same_shape(feeds: List[Dict[str, np.ndarray]]
               ) -> Tuple[List[Dict[str, np.ndarray]], Dict[str, Tuple[int, ...]]]:
    """The feeds whose shapes equal the first one's (calibration uses one shape per input)."""
    if not feeds:
        return [], {}
    shapes = {k: tuple(v.shape) for k, v in feeds[0].items()}
    kept = [f for f in feeds if {k: tuple(v.shape) for k, v in f.items()} == shapes]
    return kept, shapes
