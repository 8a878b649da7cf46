"""The action-chunk queue: predicted chunks in, one action per control tick out.

Actions are indexed by control step since the current instruction (`step` = index of the next
action to execute). A chunk predicted from the observation taken at step k holds actions for
steps k, k+1, ...; when it arrives at step m > k, the m - k actions already executed from the
old queue are stale and skipped (latency compensation). The steps where the old queue and the
new chunk overlap are blended, the rest appended:

  none      the new chunk replaces the overlap
  linear    cross-fade: the first overlapping action is mostly old, the last mostly new
            (smooth hand-over, new information fully in charge by the end of the overlap)
  temporal  ACT-style temporal ensembling: each step is the weighted mean of every prediction
            made for it, the k-th prediction weighted exp(-decay * k)

`replace` drops the queued actions instead (a chunk from an event that must act at once).
Chunks carry the queue generation they were requested in; `flush()` (new instruction, pause)
starts a new generation, so a chunk computed for an old instruction can never be executed.
Nothing is dropped silently: `push` reports what happened to every action.

Pure Python + numpy.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Deque, List, Optional

import numpy as np

BLEND_MODES = ('none', 'linear', 'temporal')


@dataclass
class PushResult:
    """What happened to a pushed chunk."""

    accepted: bool
    reason: str = ''
    skipped_stale: int = 0     # actions for steps already executed
    blended: int = 0           # actions merged with queued ones
    appended: int = 0          # actions added after the queued ones


class _Entry:
    __slots__ = ('action', 'done', 'weight', 'count')

    def __init__(self, action: np.ndarray, done: Optional[float] = None) -> None:
        self.action = action
        self.done = done            # the policy's termination probability for this step
        self.weight = 1.0
        self.count = 1


class ActionChunkQueue:
    """Queue of future actions with step alignment, blending and generations."""

    def __init__(self, blend: str = 'linear', temporal_decay: float = 0.1) -> None:
        if blend not in BLEND_MODES:
            raise ValueError(f'blend must be one of {BLEND_MODES}, got {blend!r}')
        if temporal_decay < 0:
            raise ValueError('temporal_decay must be >= 0')
        self.blend = blend
        self.temporal_decay = float(temporal_decay)
        self._queue: Deque[_Entry] = collections.deque()
        self.step = 0
        self.generation = 0
        self.rejected = 0
        self.last_done: Optional[float] = None   # done probability of the last popped step

    def __len__(self) -> int:
        return len(self._queue)

    def flush(self) -> int:
        """Drop every queued action and start a new generation; return how many were dropped."""
        dropped = len(self._queue)
        self._queue.clear()
        self.step = 0
        self.generation += 1
        return dropped

    def _check(self, chunk: np.ndarray, generation: int, done: Optional[np.ndarray]) -> str:
        """Why `chunk` (and its done probabilities) cannot be queued ('' when it can)."""
        if chunk.ndim != 2 or chunk.shape[0] == 0:
            return f'bad chunk shape {chunk.shape}'
        if generation != self.generation:
            return (f'chunk from generation {generation}, queue is at {self.generation} '
                    '(instruction changed or flushed)')
        if not np.all(np.isfinite(chunk)):
            return 'chunk contains NaN/Inf'
        if done is not None and (np.shape(done) != (chunk.shape[0],)
                                 or not np.all(np.isfinite(done))):
            return f'bad done probabilities {np.shape(done)} for {chunk.shape[0]} steps'
        return ''

    def push(self, chunk: np.ndarray, start_step: int, generation: int,
             done: Optional[np.ndarray] = None) -> PushResult:
        """Merge a (n, dims) chunk whose first action is for `start_step`.

        `done`: optional (n,) termination probabilities, carried and blended per step.
        """
        chunk = np.asarray(chunk, dtype=np.float64)
        problem = self._check(chunk, generation, done)
        if not problem and self._queue and self._queue[0].action.shape != chunk.shape[1:]:
            problem = (f'chunk has {chunk.shape[1]} dims, queue holds '
                       f'{self._queue[0].action.shape[0]}')
        if not problem and int(start_step) > self.step:
            problem = f'chunk starts at step {start_step}, after the current step {self.step}'
        if problem:
            self.rejected += 1
            return PushResult(False, problem)
        skip = self.step - int(start_step)
        if skip >= chunk.shape[0]:
            self.rejected += 1
            return PushResult(False, f'chunk is entirely stale ({skip} steps late)', skip)
        new = chunk[skip:]
        new_done = _per_step(done, chunk.shape[0])[skip:]
        overlap = min(len(self._queue), new.shape[0])
        for i in range(overlap):
            self._blend(self._queue[i], new[i], new_done[i], i, overlap)
        for a, d in zip(new[overlap:], new_done[overlap:]):
            self._queue.append(_Entry(a.copy(), d))
        return PushResult(True, '', skip, overlap, new.shape[0] - overlap)

    def replace(self, chunk: np.ndarray, skip: int, generation: int,
                done: Optional[np.ndarray] = None) -> PushResult:
        """Drop the queued actions and queue `chunk[skip:]`: the next pop is `chunk[skip]`.

        For a chunk that must act at once (an event): nothing of the old plan is blended in,
        and the `skip` actions whose time has passed are not executed.
        """
        chunk = np.asarray(chunk, dtype=np.float64)
        problem = self._check(chunk, generation, done)
        if not problem and skip >= chunk.shape[0]:
            problem = f'chunk is entirely stale ({skip} steps late)'
        if problem:
            self.rejected += 1
            return PushResult(False, problem, max(0, skip))
        self._queue.clear()
        for a, d in zip(chunk[skip:], _per_step(done, chunk.shape[0])[skip:]):
            self._queue.append(_Entry(a.copy(), d))
        return PushResult(True, '', skip, 0, chunk.shape[0] - skip)

    def _blend(self, entry: _Entry, new: np.ndarray, new_done: Optional[float], i: int,
               overlap: int) -> None:
        if self.blend == 'none':
            w_new = 1.0
        elif self.blend == 'linear':
            w_new = (i + 1) / (overlap + 1)
        else:
            w = math.exp(-self.temporal_decay * entry.count)
            w_new = w / (entry.weight + w)
            entry.weight += w
        entry.action = (1.0 - w_new) * entry.action + w_new * new
        if entry.done is None or new_done is None:
            entry.done = new_done if new_done is not None else entry.done
        else:
            entry.done = (1.0 - w_new) * entry.done + w_new * new_done
        entry.count = 1 if self.blend == 'none' else entry.count + 1

    def pop(self) -> Optional[np.ndarray]:
        """The action for the current step (and advance), or None when empty (no advance)."""
        if not self._queue:
            return None
        self.step += 1
        entry = self._queue.popleft()
        self.last_done = entry.done
        return entry.action

    def peek(self) -> np.ndarray:
        """All queued actions (n, dims) without consuming them."""
        if not self._queue:
            return np.zeros((0, 0))
        return np.stack([e.action for e in self._queue])

    def steps(self) -> List[int]:
        return list(range(self.step, self.step + len(self._queue)))


def _per_step(done: Optional[np.ndarray], n: int) -> List[Optional[float]]:
    return [None] * n if done is None else [float(d) for d in np.asarray(done).reshape(-1)]
