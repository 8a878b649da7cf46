"""What a policy sees at one time step, and the checks every backend applies to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .errors import ObservationError

ImageLike = Union[np.ndarray, Sequence[np.ndarray]]

#: Smaller images carry no usable information and usually mean a broken camera driver.
MIN_IMAGE_SIDE = 16


@dataclass
class Observation:
    """One time step.

    image: (H, W, 3) uint8 RGB, or a sequence of them (one per camera, in the order the policy
      was trained with); any size, resized internally to the backbone's input size.
    instruction: the operator's original text (e.g. Korean), exactly as given.
    canonical: the normaliser's canonical English form ('' if none).
    state: optional robot-state vector (base: odometry twist vx, vy, wz; arm: joint positions).
    stamp: observation time in seconds (informational; policies do not use wall time).
    """

    image: ImageLike
    instruction: str = ''
    canonical: str = ''
    state: Optional[np.ndarray] = None
    stamp: float = 0.0

    def images(self) -> Tuple[np.ndarray, ...]:
        """The camera images as a tuple (one entry for a single image)."""
        if isinstance(self.image, np.ndarray) and self.image.ndim == 3:
            return (self.image,)
        return tuple(self.image)

    def text(self, condition_on: str) -> str:
        """The text that conditions the policy ('original' or 'canonical')."""
        return self.canonical if condition_on == 'canonical' else self.instruction


def check_image(image: np.ndarray, index: int = 0) -> np.ndarray:
    """Validate one (H, W, 3) uint8 RGB image; return it contiguous."""
    if not isinstance(image, np.ndarray):
        raise ObservationError(f'image {index} is a {type(image).__name__}, expected a numpy '
                               'array (H, W, 3) uint8 RGB')
    if image.ndim != 3 or image.shape[2] != 3:
        raise ObservationError(f'image {index} has shape {image.shape}, expected (H, W, 3) RGB')
    if image.dtype != np.uint8:
        raise ObservationError(f'image {index} has dtype {image.dtype}, expected uint8')
    if min(image.shape[:2]) < MIN_IMAGE_SIDE:
        raise ObservationError(f'image {index} is {image.shape[1]}x{image.shape[0]}, smaller '
                               f'than {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}')
    return np.ascontiguousarray(image)


def check_observation(obs: Observation, num_cameras: int, condition_on: str,
                      state_dim: int) -> Tuple[Tuple[np.ndarray, ...], str, Optional[np.ndarray]]:
    """Validate an observation against a policy's configuration.

    Returns (images, conditioning text, state as float32 or None). Raises ObservationError
    with the reason otherwise: a policy never guesses a missing input.
    """
    images = tuple(check_image(img, i) for i, img in enumerate(obs.images()))
    if len(images) != num_cameras:
        raise ObservationError(f'{len(images)} image(s) given, the policy expects '
                               f'{num_cameras}')
    text = obs.text(condition_on).strip()
    if not text:
        which = 'canonical form' if condition_on == 'canonical' else 'instruction text'
        raise ObservationError(f'empty {which}: the policy is conditioned on the {condition_on} '
                               'text and will not act without it')
    state = None
    if state_dim:
        if obs.state is None:
            raise ObservationError(f'the policy needs a robot state of {state_dim} values')
        state = np.asarray(obs.state, dtype=np.float32).reshape(-1)
        if state.shape[0] != state_dim:
            raise ObservationError(f'robot state has {state.shape[0]} values, the policy '
                                   f'expects {state_dim}')
        if not np.all(np.isfinite(state)):
            raise ObservationError('robot state contains NaN/Inf')
    return images, text, state
