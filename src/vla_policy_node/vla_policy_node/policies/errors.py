"""Exceptions of the policy library: each names what went wrong and what to do about it.

`read_json` is how every checkpoint file is read, so a missing or corrupt one is always a
CheckpointError that names it.
"""

import json
from typing import Any


class PolicyError(Exception):
    """Base class of every error raised by `vla_policy_node.policies`."""


class ConfigError(PolicyError, ValueError):
    """A configuration that cannot work (unknown name, bad value, inconsistent fields)."""


class CheckpointError(PolicyError, RuntimeError):
    """A checkpoint directory that is missing, incomplete or corrupt.

    Raised instead of ever falling back to a randomly initialised model.
    """


class EngineNotSavableError(PolicyError, NotImplementedError):
    """`save_pretrained` on a policy run from an exported engine (ONNX Runtime, TensorRT).

    An export holds no trainable weights (a TensorRT engine is moreover compiled for one GPU
    model and TensorRT version), so it cannot become a checkpoint: the checkpoint is the
    PyTorch policy it was exported from. Also a NotImplementedError, which is what both
    backends raised before this had a name, so existing handlers keep working.
    """


class BackendUnavailableError(PolicyError, ImportError):
    """An optional backend (transformers, onnxruntime, ...) or its export is not installed."""


class ObservationError(PolicyError, ValueError):
    """An observation the policy cannot use (image shape/dtype, empty text, state size)."""


class NonFiniteActionError(PolicyError, ArithmeticError):
    """The model produced NaN or Inf; the chunk must not be executed."""


class NoDoneSignalWarning(UserWarning):
    """A checkpoint without the termination signal (`done_head`): the policy it loads cannot
    end a task by itself; something else must stop the robot."""


def read_json(path: str, missing: str) -> Any:
    """The JSON document in `path`; CheckpointError(`missing`) when the file does not exist,
    CheckpointError('cannot read <path>: ...') when it cannot be read or parsed."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except FileNotFoundError:
        raise CheckpointError(missing) from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f'cannot read {path}: {exc}') from exc
