"""When to run inference: event triggers (the product) and a periodic baseline.

Events arrive through `on_*` methods; `poll(now, ...)` decides whether an inference starts
now and why. An event that cannot be served yet (inference running, inputs not ready, error
back-off) stays pending; several pending events are served by one inference whose reason is
the most important one, and the others are counted as `coalesced` — nothing is dropped
without a trace. Every started inference is counted per reason.

Reasons (the `PolicyStatus.TRIGGER_*` strings), most important first:
  instruction    a new instruction (the caller flushes the queue and resets the policy)
  safety_resume  the safety gate returned to normal after a stop / e-stop
  scene_change   the camera image differs from the one of the last inference by more than
                 `scene_threshold` (mean absolute difference of small grey thumbnails, 0..1),
                 or one part of it changed suddenly: a cell of the thumbnail grid differs
                 from the previous frame's by more than `scene_local_threshold`, each cell
                 aligned by a pixel or two (`sudden_change`: the robot's own motion shifts
                 the picture, an object that moves or appears changes a part of it),
                 or the laser saw something enter space its last scan saw free
                 (`scan_change`; served with the first camera frame taken after that scan)
  state_change   the robot state differs from the one of the last inference by more than
                 `state_threshold` (max absolute difference: m/s, rad/s or rad)
  queue_low      the action queue holds `queue_threshold` actions or fewer
  keepalive      nothing triggered for `keepalive_period` seconds
  periodic       periodic mode only: every 1 / periodic_rate seconds

Pure Python + numpy; time is always passed in (`now`, seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

INSTRUCTION = 'instruction'
SAFETY_RESUME = 'safety_resume'
SCENE_CHANGE = 'scene_change'
STATE_CHANGE = 'state_change'
QUEUE_LOW = 'queue_low'
KEEPALIVE = 'keepalive'
PERIODIC = 'periodic'

#: Most important first.
PRIORITY = (INSTRUCTION, SAFETY_RESUME, SCENE_CHANGE, STATE_CHANGE, QUEUE_LOW, KEEPALIVE,
            PERIODIC)
TRIGGER_MODES = ('event', 'periodic')


@dataclass(frozen=True)
class TriggerConfig:
    """Thresholds and periods of the trigger logic (validated on construction)."""

    mode: str = 'event'
    periodic_rate: float = 10.0
    queue_threshold: int = 3
    scene_threshold: float = 0.08
    state_threshold: float = 0.2
    scene_local_threshold: float = 0.0
    keepalive_period: float = 2.0
    min_interval: float = 0.0
    error_backoff: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in TRIGGER_MODES:
            raise ValueError(f'trigger mode must be one of {TRIGGER_MODES}, got {self.mode!r}')
        if self.periodic_rate <= 0:
            raise ValueError('periodic_rate must be > 0 Hz')
        if self.queue_threshold < 0:
            raise ValueError('queue_threshold must be >= 0')
        for name in ('scene_threshold', 'state_threshold', 'keepalive_period', 'min_interval',
                     'error_backoff', 'scene_local_threshold'):
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must be >= 0')


@dataclass(frozen=True)
class TriggerDecision:
    """An inference to start now."""

    reason: str
    coalesced: Tuple[str, ...] = ()
    detail: str = ''


@dataclass
class TriggerStats:
    """Counters for status and diagnostics."""

    fired: Dict[str, int] = field(default_factory=lambda: {r: 0 for r in PRIORITY})
    coalesced: Dict[str, int] = field(default_factory=lambda: {r: 0 for r in PRIORITY})
    failures: int = 0

    @property
    def total(self) -> int:
        return sum(self.fired.values())


def scene_distance(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> float:
    """Mean absolute difference of two thumbnails in [0, 1] (0 if either is missing)."""
    if a is None or b is None or a.shape != b.shape:
        return 0.0
    return float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32))))


def scene_thumbnail(rgb: np.ndarray, size: Tuple[int, int] = (24, 32)) -> np.ndarray:
    """A small grey float32 image in [0, 1] for scene-change detection."""
    from vla_common.image import resize_rgb  # numpy + OpenCV, no ROS

    small = resize_rgb(np.ascontiguousarray(rgb), size).astype(np.float32)
    return (small @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) / 255.0


#: The grid (rows, columns) `sudden_change` compares, and the largest shift (rows, columns of
#: the thumbnail) each cell is aligned by.
CHANGE_GRID = (4, 6)
CHANGE_MAX_SHIFT = (1, 2)


def sudden_change(previous: Optional[np.ndarray], current: Optional[np.ndarray],
                  grid: Tuple[int, int] = CHANGE_GRID,
                  max_shift: Tuple[int, int] = CHANGE_MAX_SHIFT) -> float:
    """How much one part of the picture changed between two consecutive thumbnails (0..1).

    Each cell of a `grid` over the two is compared at every whole-pixel offset up to
    `max_shift` and keeps its best match: between two frames the robot's own turning and
    driving move every part of the picture by a pixel or two, which that aligns away, while an
    object that moves or appears changes its part beyond any such shift. The result is the
    largest of the cells' mean absolute differences; 0 if either thumbnail is missing.
    """
    if previous is None or current is None or previous.shape != current.shape:
        return 0.0
    h, w = current.shape
    sy, sx = max_shift
    a = previous.astype(np.float32)
    inner = current.astype(np.float32)[sy:h - sy, sx:w - sx]
    rows = np.array([len(r) for r in np.array_split(np.arange(inner.shape[0]), grid[0])])
    cols = np.array([len(c) for c in np.array_split(np.arange(inner.shape[1]), grid[1])])
    starts_r, starts_c = np.cumsum(rows) - rows, np.cumsum(cols) - cols
    area = np.outer(rows, cols).astype(np.float32)
    best = None
    for dy in range(-sy, sy + 1):
        for dx in range(-sx, sx + 1):
            diff = np.abs(a[sy + dy:h - sy + dy, sx + dx:w - sx + dx] - inner)
            cells = np.add.reduceat(np.add.reduceat(diff, starts_r, axis=0), starts_c,
                                    axis=1) / area
            best = cells if best is None else np.minimum(best, cells)
    return float(best.max())


class TriggerEngine:
    """Event bookkeeping and the decision of when to infer."""

    def __init__(self, config: TriggerConfig) -> None:
        self.config = config
        self.stats = TriggerStats()
        self._pending: Dict[str, str] = {}
        self._last_inference: Optional[float] = None
        self._ref_scene: Optional[np.ndarray] = None
        self._prev_scene: Optional[np.ndarray] = None
        self._ref_state: Optional[np.ndarray] = None
        self._backoff_until = float('-inf')
        self._next_periodic: Optional[float] = None
        self._safety_blocked = False
        self.last_scene_distance = 0.0
        self.last_scene_change = 0.0
        self.last_state_distance = 0.0
        self.last_decision: Optional[TriggerDecision] = None

    # ----------------------------------------------------------------- events
    @property
    def pending(self) -> Tuple[str, ...]:
        return tuple(r for r in PRIORITY if r in self._pending)

    def on_instruction(self, now: float, detail: str = '') -> None:
        """A new instruction: everything pending referred to the old one."""
        for reason in self._pending:
            self.stats.coalesced[reason] += 1
        self._pending = {INSTRUCTION: detail}
        self._ref_scene = None
        self._ref_state = None
        self._backoff_until = float('-inf')

    def clear(self) -> None:
        """Forget pending events and references (instruction cancelled, node deactivated)."""
        self._pending.clear()
        self._ref_scene = None
        self._prev_scene = None
        self._ref_state = None
        self._last_inference = None
        self._next_periodic = None

    def on_safety(self, blocked: bool, now: float) -> None:
        """The safety gate's verdict; blocked -> ok is a resume event."""
        if self._safety_blocked and not blocked and self.config.mode == 'event':
            self._pending[SAFETY_RESUME] = 'safety gate back to normal'
        self._safety_blocked = blocked

    def on_scene(self, thumbnail: np.ndarray, now: float) -> float:
        """A new camera thumbnail; returns its distance to the last inference's."""
        d = scene_distance(thumbnail, self._ref_scene)
        self.last_scene_distance = d
        cfg = self.config
        local = sudden_change(self._prev_scene, thumbnail) if cfg.scene_local_threshold > 0 \
            else 0.0
        self.last_scene_change = local
        self._prev_scene = thumbnail
        if cfg.mode == 'event' and self._ref_scene is not None:
            if cfg.scene_threshold > 0 and d > cfg.scene_threshold:
                self._pending[SCENE_CHANGE] = f'{d:.3f} > {cfg.scene_threshold:.3f}'
            elif cfg.scene_local_threshold > 0 and local > cfg.scene_local_threshold:
                self._pending[SCENE_CHANGE] = (f'part of the image: {local:.3f} > '
                                               f'{cfg.scene_local_threshold:.3f}')
        return d

    def on_space_change(self, detail: str, now: float) -> None:
        """Something entered space the laser saw free (`scan_change`): a scene change."""
        if self.config.mode == 'event':
            self._pending[SCENE_CHANGE] = detail

    def on_state(self, state: np.ndarray, now: float) -> float:
        """A new robot-state vector; returns its distance to the last inference's."""
        state = np.asarray(state, dtype=np.float64).reshape(-1)
        d = 0.0
        if self._ref_state is not None and self._ref_state.shape == state.shape:
            d = float(np.max(np.abs(state - self._ref_state))) if state.size else 0.0
        self.last_state_distance = d
        if self.config.mode == 'event' and self._ref_state is not None \
                and self.config.state_threshold > 0 and d > self.config.state_threshold:
            self._pending[STATE_CHANGE] = f'{d:.3f} > {self.config.state_threshold:.3f}'
        return d

    def on_failure(self, now: float) -> None:
        """The last inference failed (NaN, exception): wait `error_backoff` before retrying."""
        self.stats.failures += 1
        self._backoff_until = now + self.config.error_backoff

    # ----------------------------------------------------------------- decision
    def poll(self, now: float, ready: bool, busy: bool, queue_depth: int,
             scene: Optional[np.ndarray] = None,
             state: Optional[np.ndarray] = None) -> Optional[TriggerDecision]:
        """The inference to start now, if any.

        ready: inputs fresh, instruction valid, safety not blocking; busy: an inference is
        running. `scene`/`state` are the inputs the inference will use (they become the
        references for the change triggers).
        """
        cfg = self.config
        if not ready or busy or now < self._backoff_until:
            return None
        since = None if self._last_inference is None else now - self._last_inference
        if cfg.min_interval > 0 and since is not None and since < cfg.min_interval:
            return None
        if cfg.mode == 'periodic':
            period = 1.0 / cfg.periodic_rate
            urgent = INSTRUCTION in self._pending or SAFETY_RESUME in self._pending
            # A fixed schedule (not "time since last"), tolerant to timer jitter of a quarter
            # period, so polling at the periodic rate fires on every poll.
            if not urgent and self._next_periodic is not None \
                    and now < self._next_periodic - 0.25 * period:
                return None
            reason = INSTRUCTION if INSTRUCTION in self._pending else PERIODIC
            self._pending.clear()
            nxt = (self._next_periodic if self._next_periodic is not None and not urgent
                   else now) + period
            self._next_periodic = nxt if nxt > now else now + period
            return self._fire(TriggerDecision(reason), now, scene, state)
        if queue_depth <= cfg.queue_threshold:
            self._pending.setdefault(QUEUE_LOW, f'{queue_depth} <= {cfg.queue_threshold}')
        if cfg.keepalive_period > 0 and (since is None or since >= cfg.keepalive_period):
            self._pending.setdefault(KEEPALIVE, 'no inference for '
                                     + ('ever' if since is None else f'{since:.1f} s'))
        if not self._pending:
            return None
        ordered = self.pending
        reason, others = ordered[0], ordered[1:]
        detail = self._pending[reason]
        for other in others:
            self.stats.coalesced[other] += 1
        self._pending.clear()
        return self._fire(TriggerDecision(reason, others, detail), now, scene, state)

    def _fire(self, decision: TriggerDecision, now: float, scene: Optional[np.ndarray],
              state: Optional[np.ndarray]) -> TriggerDecision:
        self.stats.fired[decision.reason] += 1
        self._last_inference = now
        if scene is not None:
            self._ref_scene = scene
        if state is not None:
            self._ref_state = np.asarray(state, dtype=np.float64).reshape(-1)
        self.last_decision = decision
        return decision
