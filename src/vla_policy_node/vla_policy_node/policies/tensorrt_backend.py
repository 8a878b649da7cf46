"""TensorRT engines built on the Jetson from the ONNX export, and the policy that runs them.

Layout next to the checkpoint (`<checkpoint>/trt/`): `encoder.engine`, `head.engine` and
`engine.json`, the metadata TensorRT itself does not keep: the device model, SoC, L4T and
JetPack release, TensorRT version and precision the engines were built with, and the SHA-256
of each engine file (so a metadata file cannot describe other engines). A serialized engine
only runs on the GPU model and TensorRT version that built it, so `TensorRTPolicy` refuses an
engine whose metadata does not match this device (`engine_mismatch`, a pure function) instead
of failing somewhere inside the runtime.

`tensorrt` and CUDA bindings (`cuda-python`'s `cudart`, or `pycuda`) are imported lazily; where
they are missing `BackendUnavailableError` says what to install. The engines are built by the
`build_trt_engine` tool (trt_build.py) on the device itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .action_space import Normalizer
from .base import ONNX_DIR, read_config, warn_without_done_signal
from .config import RoboVLMsConfig
from .errors import (BackendUnavailableError, CheckpointError, EngineNotSavableError,
                     read_json)
from .exported import (ExportedPolicy, head_outputs, import_runtime, load_checkpoint_inputs,
                       TextInputs)

TRT_DIR = 'trt'
ENGINE_META_FILE = 'engine.json'
ENCODER_ENGINE = 'encoder.engine'
HEAD_ENGINE = 'head.engine'
ENGINE_FORMAT = 'vla_policy_node.trt/1'
PRECISIONS = ('fp32', 'fp16', 'int8')


def tensorrt_module() -> Any:
    """`import tensorrt`, or an actionable BackendUnavailableError."""
    return import_runtime(
        'tensorrt', 'tensorrt', 'TensorRT\'s Python bindings: on JetPack 6 `sudo apt install '
        'python3-libnvinfer` (in the l4t images it is preinstalled); on x86 `pip install '
        'tensorrt`. Use backend onnx (or robovlms) where there is no TensorRT')


def installed_tensorrt_version() -> str:
    """TensorRT's version, or '' where it is not importable (never raises)."""
    try:
        return str(tensorrt_module().__version__)
    except BackendUnavailableError:
        return ''


@dataclass(frozen=True)
class EngineMeta:
    """What engine.json records about a build."""

    device_model: str
    soc: str
    l4t: str
    jetpack: str
    tensorrt: str
    precision: str
    encoder_sha256: str = ''
    head_sha256: str = ''
    max_text_tokens: int = 0
    window_size: int = 0
    calibration_cache: str = ''
    built_at: str = ''
    format: str = ENGINE_FORMAT

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'EngineMeta':
        if not isinstance(data, dict) or data.get('format') != ENGINE_FORMAT:
            raise CheckpointError(f'engine metadata format {data.get("format") if isinstance(data, dict) else None!r} is not {ENGINE_FORMAT!r}')  # noqa: E501
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        try:
            return cls(**known)
        except TypeError as exc:
            raise CheckpointError(f'engine metadata incomplete: {exc}') from exc


def _major_minor(version: str) -> str:
    return '.'.join(version.split('.')[:2])


def engine_mismatch(meta: EngineMeta, device_model: str, soc: str,
                    tensorrt_version: str) -> Optional[str]:
    """Why an engine built as `meta` cannot run here, or None when it can.

    Engines are specific to the GPU (device model / SoC) and to the TensorRT version (the
    serialization format changes between minor releases; patch releases are compatible).
    """
    if not device_model:
        return (f'this machine is not a Jetson; the engine was built on {meta.device_model!r} '
                '(rebuild it on this machine with build_trt_engine)')
    if meta.device_model.strip() != device_model.strip() or \
            (meta.soc and soc and meta.soc != soc):
        return (f'engine built on {meta.device_model!r} ({meta.soc or "?"}), this device is '
                f'{device_model!r} ({soc or "?"}): rebuild it here with build_trt_engine')
    if not tensorrt_version:
        return 'TensorRT is not installed on this device'
    if _major_minor(meta.tensorrt) != _major_minor(tensorrt_version):
        return (f'engine built with TensorRT {meta.tensorrt}, this device has '
                f'{tensorrt_version}: rebuild it with build_trt_engine')
    return None


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def read_engine_meta(trt_dir: str) -> EngineMeta:
    return EngineMeta.from_dict(read_json(
        os.path.join(trt_dir, ENGINE_META_FILE),
        f'no TensorRT engines in {trt_dir} ({ENGINE_META_FILE} missing): run '
        f'`build_trt_engine {os.path.dirname(trt_dir)}` on this device'))


def write_engine_meta(trt_dir: str, meta: EngineMeta) -> None:
    with open(os.path.join(trt_dir, ENGINE_META_FILE), 'w', encoding='utf-8') as f:
        json.dump(meta.to_dict(), f, indent=2)


def check_engine_dir(trt_dir: str, device_model: str, soc: str,
                     tensorrt_version: str) -> EngineMeta:
    """Metadata of `trt_dir` after checking files, hashes and the device (CheckpointError)."""
    meta = read_engine_meta(trt_dir)
    problem = engine_mismatch(meta, device_model, soc, tensorrt_version)
    if problem:
        raise CheckpointError(f'{trt_dir}: {problem}')
    for name, digest in ((ENCODER_ENGINE, meta.encoder_sha256), (HEAD_ENGINE, meta.head_sha256)):
        path = os.path.join(trt_dir, name)
        if not os.path.isfile(path):
            raise CheckpointError(f'engine file missing: {path}')
        if digest and sha256_file(path) != digest:
            raise CheckpointError(f'{path} is not the engine {ENGINE_META_FILE} describes '
                                  '(rebuild with build_trt_engine)')
    return meta


# --------------------------------------------------------------------------- CUDA memory

class _Cuda:
    """The few CUDA runtime calls the engines need, over cuda-python or pycuda."""

    def __init__(self) -> None:
        try:
            from cuda import cudart  # cuda-python
            self._cudart: Any = cudart
            self._pycuda: Any = None
        except ImportError:
            try:
                import pycuda.autoinit  # noqa: F401 - creates the context
                import pycuda.driver as drv
            except ImportError as exc:
                raise BackendUnavailableError(
                    'the tensorrt backend needs CUDA Python bindings: pip install cuda-python '
                    '(matching the CUDA of JetPack) or pycuda') from exc
            self._cudart, self._pycuda = None, drv
        self.stream = self._call('cudaStreamCreate') if self._cudart else self._pycuda.Stream()

    def _call(self, name: str, *args: Any) -> Any:
        result = getattr(self._cudart, name)(*args)
        err, rest = result[0], result[1:]
        if int(err) != 0:
            raise RuntimeError(f'{name} failed: {err}')
        return rest[0] if len(rest) == 1 else (rest or None)

    def malloc(self, nbytes: int) -> Tuple[int, Any]:
        """(device pointer as int, owner object)."""
        if self._cudart:
            ptr = self._call('cudaMalloc', max(1, nbytes))
            return int(ptr), ptr
        mem = self._pycuda.mem_alloc(max(1, nbytes))
        return int(mem), mem

    def free(self, owner: Any) -> None:
        if self._cudart:
            self._call('cudaFree', owner)
        else:
            owner.free()

    def to_device(self, ptr: int, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        if self._cudart:
            self._call('cudaMemcpyAsync', ptr, array.ctypes.data, array.nbytes,
                       self._cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream)
        else:
            self._pycuda.memcpy_htod_async(ptr, array, self.stream)

    def to_host(self, array: np.ndarray, ptr: int) -> None:
        if self._cudart:
            self._call('cudaMemcpyAsync', array.ctypes.data, ptr, array.nbytes,
                       self._cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream)
        else:
            self._pycuda.memcpy_dtoh_async(array, ptr, self.stream)

    def synchronize(self) -> None:
        if self._cudart:
            self._call('cudaStreamSynchronize', self.stream)
        else:
            self.stream.synchronize()

    @property
    def stream_handle(self) -> int:
        return int(self.stream) if self._cudart else self.stream.handle


class _Engine:
    """One deserialized engine with dynamic-shape inputs (TensorRT >= 8.5 tensor API)."""

    def __init__(self, trt: Any, runtime: Any, path: str, cuda: _Cuda) -> None:
        with open(path, 'rb') as f:
            self.engine = runtime.deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise CheckpointError(f'TensorRT could not deserialize {path}')
        self.context = self.engine.create_execution_context()
        self.trt, self.cuda = trt, cuda
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        self._buffers: Dict[str, Tuple[int, Any, int]] = {}

    def _buffer(self, name: str, nbytes: int) -> int:
        ptr, owner, size = self._buffers.get(name, (0, None, 0))
        if size < nbytes:
            if owner is not None:
                self.cuda.free(owner)
            ptr, owner = self.cuda.malloc(nbytes)
            self._buffers[name] = (ptr, owner, nbytes)
        return ptr

    def run(self, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
        for name in self.inputs:
            array = np.ascontiguousarray(feeds[name].astype(
                self.trt.nptype(self.engine.get_tensor_dtype(name)), copy=False))
            self.context.set_input_shape(name, tuple(array.shape))
            ptr = self._buffer(name, array.nbytes)
            self.cuda.to_device(ptr, array)
            self.context.set_tensor_address(name, ptr)
        outputs = []
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            out = np.empty(shape, dtype=self.trt.nptype(self.engine.get_tensor_dtype(name)))
            self.context.set_tensor_address(name, self._buffer(name, out.nbytes))
            outputs.append(out)
        if not self.context.execute_async_v3(self.cuda.stream_handle):
            raise RuntimeError('TensorRT execution failed')
        for name, out in zip(self.outputs, outputs):
            self.cuda.to_host(out, self._buffers[name][0])
        self.cuda.synchronize()
        return outputs

    def close(self) -> None:
        for _, owner, _ in self._buffers.values():
            self.cuda.free(owner)
        self._buffers.clear()


# --------------------------------------------------------------------------- the policy

class TensorRTPolicy(ExportedPolicy):
    """The policy run from TensorRT engines of its ONNX export (encoder + head)."""

    backend = 'tensorrt'

    def __init__(self, config: RoboVLMsConfig, normalizer: Normalizer, trt_dir: str,
                 text_inputs: TextInputs, device: Any = None) -> None:
        super().__init__(config, normalizer, text_inputs)
        trt = tensorrt_module()
        if device is None:
            from ..preflight import read_device_info
            device = read_device_info()
        self.meta = check_engine_dir(trt_dir, device.model, device.soc, str(trt.__version__))
        cuda = _Cuda()
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._encoder = _Engine(trt, runtime, os.path.join(trt_dir, ENCODER_ENGINE), cuda)
        self._head = _Engine(trt, runtime, os.path.join(trt_dir, HEAD_ENGINE), cuda)
        self._outputs = head_outputs(self._head.outputs, config.done_head, trt_dir)

    def _run_encoder(self, feeds: Dict[str, np.ndarray]) -> np.ndarray:
        return self._encoder.run(feeds)[0]

    def _run_head(self, embeddings: np.ndarray) -> List[np.ndarray]:
        return self._head.run({'embeddings': embeddings})

    def save_pretrained(self, path: str) -> None:
        """Always EngineNotSavableError: the engines are built from a checkpoint, not one."""
        raise EngineNotSavableError(
            f'a TensorRT engine cannot be saved as a checkpoint ({path}): it is compiled for one '
            'GPU and TensorRT version and holds no trainable weights. Save the PyTorch policy '
            'instead, export it with `export_policy_onnx <checkpoint>` and build the engines '
            'on the device with `build_trt_engine <checkpoint>`')

    @classmethod
    def from_pretrained(cls, path: str, **kwargs: Any) -> 'TensorRTPolicy':
        """Load `<path>` (config, statistics, tokenizer) and its `<path>/trt/` engines."""
        from .onnx_backend import EXPORT_FILE

        cfg = read_config(path)
        warn_without_done_signal(cfg, path)
        tensorrt_module()  # fail early with the install hint
        normalizer, text_inputs = load_checkpoint_inputs(path, cfg)
        policy = cls(cfg, normalizer, os.path.join(path, TRT_DIR), text_inputs,
                     kwargs.get('device'))
        export = os.path.join(path, ONNX_DIR, EXPORT_FILE)
        if os.path.isfile(export):
            with open(export, encoding='utf-8') as f:
                policy._image_size = int(json.load(f).get('image_size', policy._image_size))
        policy.source = os.path.abspath(path)
        return policy
