"""Action spaces (base 3-D, arm 7-D) and the normalisation stored with every checkpoint.

Models work in a normalised space where every dimension lies in [-1, 1]; the normaliser maps
SI units (m/s, rad/s, m, rad; gripper 0 = open .. 1 = closed) to it and back:
    normalised = clip((a - center) / half_range, -1, 1),   a = center + half_range * normalised
with center = (high + low) / 2 and half_range = (high - low) / 2 per dimension.

Defaults follow the seed: arm deltas clipped to [-0.65, 0.65] (mapped to [-1, 1]) and the
gripper's [-1, 1] model range mapped to [0, 1]; base velocities within the robot's limits
(0.5 m/s per linear axis, 1.0 rad/s yaw). `Normalizer.fit` derives symmetric bounds from data
so that a zero velocity stays exactly zero.

Works on numpy arrays and on torch tensors (duck-typed), and imports neither torch nor rclpy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from .errors import CheckpointError, ConfigError, read_json

ARM_CLIP = 0.65


@dataclass(frozen=True)
class ActionSpaceSpec:
    """Names, units and the gripper dimension (if any) of an action space."""

    name: str
    names: Tuple[str, ...]
    units: Tuple[str, ...]
    gripper_index: Optional[int] = None

    @property
    def dims(self) -> int:
        return len(self.names)

    @property
    def continuous_indices(self) -> Tuple[int, ...]:
        return tuple(i for i in range(self.dims) if i != self.gripper_index)


ACTION_SPACES: Dict[str, ActionSpaceSpec] = {
    'base': ActionSpaceSpec('base', ('linear_x', 'linear_y', 'angular_z'),
                            ('m/s', 'm/s', 'rad/s')),
    'arm': ActionSpaceSpec('arm', ('dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper'),
                           ('m', 'm', 'm', 'rad', 'rad', 'rad', '1'), gripper_index=6),
}

#: Robot limits used as the default base range (m/s, m/s, rad/s).
BASE_LIMITS = (0.5, 0.5, 1.0)


def action_space(name: str) -> ActionSpaceSpec:
    """The spec of 'base' or 'arm'."""
    try:
        return ACTION_SPACES[name]
    except KeyError:
        raise ConfigError(f'unknown action space {name!r}; known: {sorted(ACTION_SPACES)}') \
            from None


def gripper_pm1_to_01(g: Any) -> Any:
    """Seed convention [-1 (open), 1 (closed)] -> ArmCommand convention [0, 1]."""
    return (g + 1.0) * 0.5


def gripper_01_to_pm1(g: Any) -> Any:
    """ArmCommand convention [0, 1] -> seed convention [-1, 1]."""
    return g * 2.0 - 1.0


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith('torch')


def _clip(x: Any, low: float, high: float) -> Any:
    return x.clamp(low, high) if _is_torch(x) else np.clip(x, low, high)


def _like(values: np.ndarray, x: Any) -> Any:
    if _is_torch(x):
        import torch  # only reached when the caller already uses torch

        return torch.as_tensor(values, dtype=x.dtype, device=x.device)
    return values


class Normalizer:
    """Action (and optional robot-state) normalisation statistics of one policy."""

    VERSION = 1

    def __init__(self, spec: ActionSpaceSpec, low: Sequence[float], high: Sequence[float],
                 state_mean: Optional[Sequence[float]] = None,
                 state_std: Optional[Sequence[float]] = None) -> None:
        self.spec = spec
        self.low = np.asarray(low, dtype=np.float64).reshape(-1)
        self.high = np.asarray(high, dtype=np.float64).reshape(-1)
        if self.low.shape != (spec.dims,) or self.high.shape != (spec.dims,):
            raise ConfigError(f'{spec.name} normalisation needs {spec.dims} low/high values, got '
                              f'{self.low.shape[0]}/{self.high.shape[0]}')
        if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high))
                and np.all(self.high > self.low)):
            raise ConfigError(f'normalisation bounds must be finite with high > low: '
                              f'low={self.low.tolist()} high={self.high.tolist()}')
        self.state_mean = None if state_mean is None else np.asarray(
            state_mean, dtype=np.float64).reshape(-1)
        self.state_std = None if state_std is None else np.asarray(
            state_std, dtype=np.float64).reshape(-1)
        if (self.state_mean is None) != (self.state_std is None):
            raise ConfigError('state_mean and state_std go together')
        if self.state_std is not None:
            if self.state_mean.shape != self.state_std.shape:
                raise ConfigError('state_mean and state_std differ in length')
            if not np.all(np.isfinite(self.state_std)) or np.any(self.state_std <= 0):
                raise ConfigError('state_std must be finite and > 0')
        self.center = (self.high + self.low) / 2.0
        self.half_range = (self.high - self.low) / 2.0

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls, space: str, state_dim: int = 0) -> 'Normalizer':
        """Seed defaults: arm +-0.65 and gripper [0, 1]; base within the robot's limits."""
        spec = action_space(space)
        if space == 'arm':
            low = [-ARM_CLIP] * 6 + [0.0]
            high = [ARM_CLIP] * 6 + [1.0]
        else:
            low = [-v for v in BASE_LIMITS]
            high = list(BASE_LIMITS)
        state = (np.zeros(state_dim), np.ones(state_dim)) if state_dim else (None, None)
        return cls(spec, low, high, *state)

    @classmethod
    def fit(cls, space: str, actions: Any, states: Any = None, quantile: float = 0.0,
            symmetric: bool = True, margin: float = 0.05, min_range: float = 1e-3
            ) -> 'Normalizer':
        """Statistics from data: actions (N, dims) in SI units, states (N, state_dim).

        Bounds are the [quantile, 1 - quantile] range widened by `margin` (relative); with
        `symmetric` each continuous dimension gets [-b, b] (zero stays zero). The arm gripper
        keeps [0, 1].
        """
        spec = action_space(space)
        a = np.asarray(actions, dtype=np.float64).reshape(-1, spec.dims)
        if a.shape[0] == 0 or not np.all(np.isfinite(a)):
            raise ConfigError('Normalizer.fit needs a non-empty, finite action array')
        lo = np.quantile(a, quantile, axis=0) if quantile > 0 else a.min(axis=0)
        hi = np.quantile(a, 1 - quantile, axis=0) if quantile > 0 else a.max(axis=0)
        if symmetric:
            b = np.maximum(np.abs(lo), np.abs(hi))
            lo, hi = -b, b
        span = np.maximum(hi - lo, min_range)
        mid = (hi + lo) / 2.0
        lo, hi = mid - span / 2 * (1 + margin), mid + span / 2 * (1 + margin)
        if spec.gripper_index is not None:
            lo[spec.gripper_index], hi[spec.gripper_index] = 0.0, 1.0
        mean = std = None
        if states is not None:
            s = np.asarray(states, dtype=np.float64)
            s = s.reshape(-1, s.shape[-1])
            mean, std = s.mean(axis=0), np.maximum(s.std(axis=0), 1e-6)
        return cls(spec, lo, hi, mean, std)

    # ------------------------------------------------------------------ mapping
    @property
    def state_dim(self) -> int:
        return 0 if self.state_mean is None else int(self.state_mean.shape[0])

    def normalize_action(self, actions: Any) -> Any:
        """SI units (..., dims) -> [-1, 1] (clipped)."""
        c, h = _like(self.center, actions), _like(self.half_range, actions)
        return _clip((actions - c) / h, -1.0, 1.0)

    def denormalize_action(self, normalized: Any) -> Any:
        """[-1, 1] (..., dims) -> SI units; inputs are clipped to [-1, 1] first."""
        c, h = _like(self.center, normalized), _like(self.half_range, normalized)
        return c + h * _clip(normalized, -1.0, 1.0)

    def normalize_state(self, state: Any) -> Any:
        """Robot state (..., state_dim) -> zero mean, unit variance."""
        if self.state_mean is None:
            raise ConfigError('this normaliser has no state statistics')
        return (state - _like(self.state_mean, state)) / _like(self.state_std, state)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> Dict[str, Any]:
        return {
            'version': self.VERSION,
            'action_space': self.spec.name,
            'names': list(self.spec.names),
            'units': list(self.spec.units),
            'action_low': self.low.tolist(),
            'action_high': self.high.tolist(),
            'state_mean': None if self.state_mean is None else self.state_mean.tolist(),
            'state_std': None if self.state_std is None else self.state_std.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> 'Normalizer':
        try:
            spec = action_space(str(data['action_space']))
            return cls(spec, data['action_low'], data['action_high'], data.get('state_mean'),
                       data.get('state_std'))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f'invalid normalisation statistics: {exc}') from exc

    def save(self, path: str) -> None:
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def load(cls, path: str) -> 'Normalizer':
        return cls.from_dict(read_json(path, f'normalisation statistics missing: {path}'))

    def __repr__(self) -> str:
        def fmt(v: np.ndarray) -> str:
            return '[' + ', '.join(f'{x:.3g}' for x in v) + ']'
        return (f'Normalizer({self.spec.name}, low={fmt(self.low)}, high={fmt(self.high)}, '
                f'state_dim={self.state_dim})')


def all_finite(x: Any) -> bool:
    """True if every value is finite (numpy or torch)."""
    if _is_torch(x):
        return bool(x.isfinite().all())
    return bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64))))
