"""`load_policy(path, backend)`: the one entry point nodes and tools use to load a policy."""

from __future__ import annotations

from typing import Any, Dict, Tuple

from .base import Policy
from .errors import ConfigError

#: backend name -> (module, class); imported only when that backend is asked for.
BACKENDS: Dict[str, Tuple[str, str]] = {
    'robovlms': ('.robovlms', 'RoboVLMsPolicy'),
    'onnx': ('.onnx_backend', 'OnnxPolicy'),
    'tensorrt': ('.tensorrt_backend', 'TensorRTPolicy'),
}


def load_policy(path: str, backend: str = 'robovlms', num_threads: int = 0,
                **kwargs: Any) -> Policy:
    """Load the checkpoint directory `path` with `backend` ('robovlms' torch, 'onnx' or
    'tensorrt': engines built on this device by `build_trt_engine`).

    Raises CheckpointError (missing/corrupt checkpoint), BackendUnavailableError (package or
    export missing) or ConfigError (unknown backend); never returns a stand-in model.
    """
    import importlib

    if backend not in BACKENDS:
        raise ConfigError(f'unknown policy backend {backend!r}; known: {sorted(BACKENDS)}')
    module, name = BACKENDS[backend]
    cls = getattr(importlib.import_module(module, __package__), name)
    if backend == 'onnx':
        return cls.from_pretrained(path, num_threads=num_threads, **kwargs)
    if backend == 'tensorrt':
        return cls.from_pretrained(path, **kwargs)
    if num_threads:
        import torch

        torch.set_num_threads(int(num_threads))
    return cls.from_pretrained(path, **kwargs)
