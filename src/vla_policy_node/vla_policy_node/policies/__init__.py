"""VLA policy library (pure Python + torch; no rclpy, no messages).

Light modules (configs, action spaces, observations, the tokenizer, the Policy base class)
import without torch; the torch policy and the ONNX backend are imported on first use:

    from vla_policy_node.policies import RoboVLMsConfig, RoboVLMsPolicy, load_policy
"""

from __future__ import annotations

import importlib
from typing import Any

from .action_space import (ACTION_SPACES, action_space, ActionSpaceSpec, gripper_01_to_pm1,
                           gripper_pm1_to_01, Normalizer)
from .base import ChunkPrediction, Policy, read_config
from .config import (BACKBONES, config_from_dict, DiscreteHeadConfig, GPTHeadConfig, HEADS,
                     KOSMOS2_FULL_CONFIG, Kosmos2BackboneConfig, LSTMHeadConfig, MLPHeadConfig,
                     NanoBackboneConfig, POLICIES, RoboVLMsConfig, tiny_kosmos2_config)
from .errors import (BackendUnavailableError, CheckpointError, ConfigError,
                     EngineNotSavableError, NoDoneSignalWarning, NonFiniteActionError,
                     ObservationError, PolicyError)
from .observation import Observation
from .text import CharTokenizer

_LAZY = {
    'RoboVLMsPolicy': '.robovlms',
    'make_policy': '.robovlms',
    'stack_windows': '.robovlms',
    'VLAModel': '.model',
    'OnnxPolicy': '.onnx_backend',
    'export_onnx': '.onnx_backend',
    'load_policy': '.factory',
    'BACKENDS': '.factory',
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = [
    'ACTION_SPACES', 'action_space', 'ActionSpaceSpec', 'BACKBONES', 'BackendUnavailableError',
    'BACKENDS', 'CharTokenizer', 'CheckpointError', 'ChunkPrediction', 'config_from_dict',
    'ConfigError',
    'DiscreteHeadConfig', 'EngineNotSavableError', 'export_onnx', 'GPTHeadConfig',
    'gripper_01_to_pm1', 'gripper_pm1_to_01', 'HEADS', 'KOSMOS2_FULL_CONFIG',
    'Kosmos2BackboneConfig', 'load_policy', 'LSTMHeadConfig', 'make_policy', 'MLPHeadConfig',
    'NanoBackboneConfig', 'NoDoneSignalWarning',
    'NonFiniteActionError', 'Normalizer', 'Observation', 'ObservationError', 'OnnxPolicy',
    'POLICIES', 'Policy', 'PolicyError', 'read_config', 'RoboVLMsConfig', 'RoboVLMsPolicy',
    'stack_windows', 'tiny_kosmos2_config', 'VLAModel',
]
