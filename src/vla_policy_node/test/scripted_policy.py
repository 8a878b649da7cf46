"""A stand-in policy for executive and node tests: a real `Policy` subclass, scripted output.

The whole `Policy` path runs (observation checks, image resizing, the history window, the
shape and NaN checks, de-normalisation); only the network is replaced by a rule that makes
every action traceable to the frame and the chunk step it came from:

  linear_x   = 0.05 m/s * chunk step index (0, 0.05, 0.10, ...)
  linear_y   = (2 * mean brightness of the frame - 1) * 0.5 m/s  (dark -> right, bright -> left)
  angular_z  = 0

With `done_brightness` set the policy has a termination signal: every step of a chunk
predicted from a frame at least that bright has done probability 0.9, others 0.05 ("the goal
is in view"). Without it `has_done_signal` is false, like a checkpoint trained before the
done head existed.

Used in-process and in a policy_node process (`node_code` below). No torch.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from vla_policy_node.policies import Normalizer, RoboVLMsConfig
from vla_policy_node.policies.base import Policy

CHUNK = 10


def frame(brightness: float, shape=(48, 64)) -> np.ndarray:
    """A uniform RGB frame with mean brightness `brightness` (0..1)."""
    return np.full((*shape, 3), int(round(brightness * 255)), np.uint8)


def expected_chunk(brightness: float, chunk: int = CHUNK) -> np.ndarray:
    """What the policy returns for a frame of this brightness (SI units)."""
    level = round(brightness * 255) / 255.0
    out = np.zeros((chunk, 3), np.float32)
    out[:, 0] = 0.5 * np.arange(chunk) / chunk
    out[:, 1] = (2.0 * level - 1.0) * 0.5
    return out


class ScriptedPolicy(Policy):
    """See the module docstring."""

    backend = 'scripted'

    def __init__(self, chunk_size: int = CHUNK, state_dim: int = 0, nan: bool = False,
                 condition_on: str = 'original',
                 done_brightness: Optional[float] = None) -> None:
        cfg = RoboVLMsConfig(action_space='base', chunk_size=chunk_size, window_size=1,
                             state_dim=state_dim, condition_on=condition_on, name='scripted',
                             done_head=done_brightness is not None)
        super().__init__(cfg, Normalizer.default('base', state_dim))
        self.done_brightness = done_brightness
        self.nan = nan
        self.inferences = 0
        self.resets = 0
        self.texts: List[str] = []

    @property
    def image_size(self) -> int:
        return 16

    def reset(self) -> None:
        super().reset()
        self.resets += 1

    def _encode_step(self, images: Tuple[np.ndarray, ...], text: str,
                     state: Optional[np.ndarray]) -> Any:
        return float(images[0].mean()) / 255.0, text

    def _predict_with_done(self, history: List[Any]
                           ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        actions = self._predict_normalized(history)
        if self.done_brightness is None:
            return actions, None
        done = history[-1][0] >= self.done_brightness - 1e-6
        return actions, np.full(self.chunk_size, 0.9 if done else 0.05, np.float32)

    def _predict_normalized(self, history: List[Any]) -> np.ndarray:
        brightness, text = history[-1]
        self.inferences += 1
        self.texts.append(text)
        if self.nan:
            return np.full((self.chunk_size, 3), np.nan)
        # normalised [-1, 1]: base limits are 0.5 m/s, 0.5 m/s, 1.0 rad/s
        return expected_chunk(brightness, self.chunk_size) / np.array([0.5, 0.5, 1.0])

    def save_pretrained(self, path: str) -> None:
        raise NotImplementedError('a scripted policy has no checkpoint')

    @classmethod
    def from_pretrained(cls, path: str, **kwargs: Any) -> 'Policy':
        raise NotImplementedError('a scripted policy has no checkpoint')


def node_code(**policy_kwargs: Any) -> str:
    """Python source that runs policy_node with a ScriptedPolicy (for node_processes.python)."""
    import pathlib

    here = pathlib.Path(__file__).resolve().parent
    return f'''
import sys
sys.path.insert(0, {str(here)!r})
from scripted_policy import ScriptedPolicy
from vla_common.node_main import run_node
from vla_policy_node.policy_node import PolicyNode


class ScriptedNode(PolicyNode):
    def _load_policy(self, params):
        return ScriptedPolicy(**{policy_kwargs!r})


sys.exit(run_node(ScriptedNode, sys.argv))
'''
