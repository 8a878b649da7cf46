"""The policy API (LeRobot-like): reset / observe / predict(_action_chunk) / select_action.

Backends implement two steps — encode one observation into a step embedding, and run the
head over the window of step embeddings — and inherit everything else (validation, resizing,
state normalisation, the history window, NaN checks, de-normalisation, the action queue of
`select_action`), so the torch and ONNX backends behave identically by construction.

This module imports neither torch nor rclpy.
"""

from __future__ import annotations

import abc
import collections
import dataclasses
import json
import os
import warnings
from typing import Any, ClassVar, Deque, List, Optional, Tuple

import numpy as np

from .action_space import ActionSpaceSpec, all_finite, Normalizer
from .config import config_from_dict, PolicyConfig, RoboVLMsConfig
from .errors import (CheckpointError, ConfigError, NoDoneSignalWarning, NonFiniteActionError,
                     ObservationError, read_json)
from .observation import check_image, check_observation, Observation

CHECKPOINT_FORMAT = 'vla_policy_node/1'
CONFIG_FILE = 'config.json'
WEIGHTS_FILE = 'model.safetensors'
NORMALIZATION_FILE = 'normalization.json'
TOKENIZER_DIR = 'tokenizer'
ONNX_DIR = 'onnx'


@dataclasses.dataclass(frozen=True)
class ChunkPrediction:
    """One inference: the action chunk and, when the model has one, its termination signal."""

    #: (chunk, dims) float32 actions in SI units.
    actions: np.ndarray
    #: (chunk,) float32 termination probabilities in [0, 1]; None when the model has no
    #: termination signal (it cannot end a task by itself).
    done: Optional[np.ndarray] = None


def read_config(path: str) -> RoboVLMsConfig:
    """The policy configuration of a checkpoint directory (CheckpointError if unusable)."""
    if not path:
        raise CheckpointError('no checkpoint path given (model_path is empty)')
    if not os.path.isdir(path):
        raise CheckpointError(f'policy checkpoint directory not found: {path}')
    cfg_path = os.path.join(path, CONFIG_FILE)
    data = read_json(cfg_path, f'{path} is not a policy checkpoint: {CONFIG_FILE} missing')
    if not isinstance(data, dict):
        raise CheckpointError(f'{cfg_path}: expected a JSON object')
    fmt = data.pop('format', None)
    if fmt != CHECKPOINT_FORMAT:
        raise CheckpointError(f'{cfg_path}: checkpoint format {fmt!r} is not '
                              f'{CHECKPOINT_FORMAT!r}')
    try:
        cfg = config_from_dict(data)
    except ConfigError as exc:
        raise CheckpointError(f'{cfg_path}: invalid configuration: {exc}') from exc
    if not isinstance(cfg, RoboVLMsConfig):
        raise CheckpointError(f'{cfg_path}: unsupported policy type {type(cfg).__name__}')
    return cfg


def warn_without_done_signal(cfg: RoboVLMsConfig, path: str) -> None:
    """Every backend's from_pretrained: say it loudly when a checkpoint cannot end a task."""
    if not cfg.done_head:
        warnings.warn(NoDoneSignalWarning(
            f'{path}: this checkpoint has no termination signal (done_head): the policy '
            'cannot end a task by itself and will keep moving until something else stops '
            'it. Retrain with done labels (vla_train trains the done head by default).'),
            stacklevel=3)


def write_config(path: str, cfg: PolicyConfig) -> None:
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, CONFIG_FILE), 'w', encoding='utf-8') as f:
        json.dump({'format': CHECKPOINT_FORMAT, **cfg.to_dict()}, f, indent=2,
                  ensure_ascii=False)


class Policy(abc.ABC):
    """Base class: a VLA policy producing action chunks in SI units."""

    backend: ClassVar[str] = ''

    def __init__(self, config: RoboVLMsConfig, normalizer: Normalizer) -> None:
        if normalizer.spec.name != config.action_space:
            raise ConfigError(f'normaliser is for {normalizer.spec.name!r}, the config for '
                              f'{config.action_space!r}')
        if config.state_dim and normalizer.state_dim != config.state_dim:
            raise ConfigError(f'state_dim {config.state_dim} but the normaliser has statistics '
                              f'for {normalizer.state_dim} state values')
        self.config = config
        self.normalizer = normalizer
        self._history: Deque[Any] = collections.deque(maxlen=config.window_size)
        self._history_text: Optional[str] = None
        self._actions: Deque[np.ndarray] = collections.deque()
        self.source = ''

    # ----------------------------------------------------------------- properties
    @property
    def action_space(self) -> ActionSpaceSpec:
        return self.normalizer.spec

    @property
    def chunk_size(self) -> int:
        return self.config.chunk_size

    @property
    def window_size(self) -> int:
        return self.config.window_size

    @property
    def has_done_signal(self) -> bool:
        """True when `predict` returns a termination probability per chunk step (the
        checkpoint's config has the done head; every backend runs it)."""
        return bool(self.config.done_head)

    @property
    def history_length(self) -> int:
        return len(self._history)

    @property
    @abc.abstractmethod
    def image_size(self) -> int:
        """Side of the square image the backbone takes."""

    # ----------------------------------------------------------------- backend hooks
    @abc.abstractmethod
    def _encode_step(self, images: Tuple[np.ndarray, ...], text: str,
                     state: Optional[np.ndarray]) -> Any:
        """One step embedding from resized uint8 images, the text and the normalised state."""

    @abc.abstractmethod
    def _predict_normalized(self, history: List[Any]) -> np.ndarray:
        """(chunk, dims) normalised actions for the newest step of `history`."""

    def _predict_with_done(self, history: List[Any]
                           ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Normalised actions and the (chunk,) done probabilities (None without a done head)
        from one pass; backends that run a done head override this."""
        return self._predict_normalized(history), None

    # ----------------------------------------------------------------- API
    def reset(self) -> None:
        """Forget the history window and queued actions (call on a new instruction/episode)."""
        self._history.clear()
        self._history_text = None
        self._actions.clear()

    def prepare_image(self, rgb: np.ndarray) -> np.ndarray:
        """An (H, W, 3) uint8 RGB frame resized exactly as inference does (OpenCV area).

        Datasets should store frames prepared with this so training sees what the robot sees.
        """
        from vla_common.image import resize_rgb  # numpy + OpenCV, no ROS

        return resize_rgb(check_image(rgb), (self.image_size, self.image_size))

    def preprocess(self, obs: Observation
                   ) -> Tuple[Tuple[np.ndarray, ...], str, Optional[np.ndarray]]:
        """Validate, resize images to the backbone size, normalise the state."""
        cfg = self.config
        images, text, state = check_observation(obs, cfg.num_cameras, cfg.condition_on,
                                                cfg.state_dim)
        images = tuple(self.prepare_image(img) for img in images)
        if state is not None:
            state = np.asarray(self.normalizer.normalize_state(state), dtype=np.float32)
        return images, text, state

    def observe(self, obs: Observation) -> None:
        """Add one observation to the history window without predicting.

        A text different from the one the history was built with starts a new history:
        steps conditioned on another instruction must not leak into this one.
        """
        images, text, state = self.preprocess(obs)
        if text != self._history_text:
            self.reset()
            self._history_text = text
        self._history.append(self._encode_step(images, text, state))

    def predict_action_chunk(self, obs: Optional[Observation] = None) -> np.ndarray:
        """(chunk_size, dims) float32 actions in SI units, from the history (+ `obs`)."""
        return self.predict(obs).actions

    def predict(self, obs: Optional[Observation] = None) -> ChunkPrediction:
        """The action chunk (and termination signal, if any) from the history (+ `obs`).

        Raises ObservationError for unusable input and NonFiniteActionError when the model
        produces NaN/Inf (never a clipped or zeroed substitute).
        """
        if obs is not None:
            self.observe(obs)
        if not self._history:
            raise ObservationError('no observation yet: pass one or call observe() first')
        raw, done = self._predict_with_done(list(self._history))
        normalized = np.asarray(raw, dtype=np.float64)
        expected = (self.chunk_size, self.action_space.dims)
        if normalized.shape != expected:
            raise ObservationError(f'model returned shape {normalized.shape}, expected {expected}')
        if not all_finite(normalized):
            raise NonFiniteActionError('the model produced NaN/Inf actions')
        if self.has_done_signal:
            if done is None:
                raise ObservationError('the model has a done head but returned no done signal')
            done = np.asarray(done, dtype=np.float32).reshape(-1)
            if done.shape != (self.chunk_size,):
                raise ObservationError(f'model returned {done.shape} done probabilities, '
                                       f'expected ({self.chunk_size},)')
            if not all_finite(done):
                raise NonFiniteActionError('the model produced a NaN/Inf done signal')
        else:
            done = None
        return ChunkPrediction(
            np.asarray(self.normalizer.denormalize_action(normalized), dtype=np.float32), done)

    def select_action(self, obs: Observation) -> np.ndarray:
        """One (dims,) action: predicts a chunk when the queue is empty, then pops from it.

        Executes `n_action_steps` actions of each chunk before predicting again; every call's
        observation still enters the history window.
        """
        observed = False
        if self._actions:
            self.observe(obs)  # keeps the window current; a new text also empties the queue
            observed = True
        if not self._actions:
            chunk = self.predict_action_chunk(None if observed else obs)
            self._actions.extend(chunk[:self.config.n_action_steps])
        return self._actions.popleft()

    # ----------------------------------------------------------------- persistence
    @abc.abstractmethod
    def save_pretrained(self, path: str) -> None:
        """Write config.json, weights, normalisation statistics and tokenizer files."""

    @classmethod
    @abc.abstractmethod
    def from_pretrained(cls, path: str, **kwargs: Any) -> 'Policy':
        """Load a checkpoint directory; CheckpointError if it is missing or corrupt."""

    def describe(self) -> str:
        c = self.config
        return (f'{self.backend}:{c.backbone.type_name}+{c.head.type_name} '
                f'{c.action_space} window={c.window_size} chunk={c.chunk_size}')
