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
    __slots__ = ('action', 'weight', 'count')

    def __init__(self, action: np.ndarray, weight: float = 1.0, count: int = 1) -> None:
        self.action = action
        self.weight = weight
        self.count = count


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

    def __len__(self) -> int:
        return len(self._queue)

    def flush(self) -> int:
        """Drop every queued action and start a new generation; return how many were dropped."""
        dropped = len(self._queue)
        self._queue.clear()
        self.step = 0
        self.generation += 1
        return dropped

    def _check(self, chunk: np.ndarray, generation: int) -> str:
        """Why `chunk` cannot be queued ('' when it can)."""
        if chunk.ndim != 2 or chunk.shape[0] == 0:
            return f'bad chunk shape {chunk.shape}'
        if generation != self.generation:
            return (f'chunk from generation {generation}, queue is at {self.generation} '
                    '(instruction changed or flushed)')
        if not np.all(np.isfinite(chunk)):
            return 'chunk contains NaN/Inf'
        return ''

    def push(self, chunk: np.ndarray, start_step: int, generation: int) -> PushResult:
        """Merge a (n, dims) chunk whose first action is for `start_step`."""
        chunk = np.asarray(chunk, dtype=np.float64)
        problem = self._check(chunk, generation)
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
        overlap = min(len(self._queue), new.shape[0])
        for i in range(overlap):
            self._blend(self._queue[i], new[i], i, overlap)
        for a in new[overlap:]:
            self._queue.append(_Entry(a.copy()))
        return PushResult(True, '', skip, overlap, new.shape[0] - overlap)

    def replace(self, chunk: np.ndarray, skip: int, generation: int) -> PushResult:
        """Drop the queued actions and queue `chunk[skip:]`: the next pop is `chunk[skip]`.

        For a chunk that must act at once (an event): nothing of the old plan is blended in,
        and the `skip` actions whose time has passed are not executed.
        """
        chunk = np.asarray(chunk, dtype=np.float64)
        problem = self._check(chunk, generation)
        if not problem and skip >= chunk.shape[0]:
            problem = f'chunk is entirely stale ({skip} steps late)'
        if problem:
            self.rejected += 1
            return PushResult(False, problem, max(0, skip))
        self._queue.clear()
        for a in chunk[skip:]:
            self._queue.append(_Entry(a.copy()))
        return PushResult(True, '', skip, 0, chunk.shape[0] - skip)

    def _blend(self, entry: _Entry, new: np.ndarray, i: int, overlap: int) -> None:
        if self.blend == 'none':
            entry.action, entry.weight, entry.count = new.copy(), 1.0, 1
        elif self.blend == 'linear':
            w = (i + 1) / (overlap + 1)
            entry.action = (1.0 - w) * entry.action + w * new
            entry.count += 1
        else:
            w_new = math.exp(-self.temporal_decay * entry.count)
            entry.action = (entry.action * entry.weight + new * w_new) / (entry.weight + w_new)
            entry.weight += w_new
            entry.count += 1

    def pop(self) -> Optional[np.ndarray]:
        """The action for the current step (and advance), or None when empty (no advance)."""
        if not self._queue:
            return None
        self.step += 1
        return self._queue.popleft().action

    def peek(self) -> np.ndarray:
        """All queued actions (n, dims) without consuming them."""
        if not self._queue:
            return np.zeros((0, 0))
        return np.stack([e.action for e in self._queue])

    def steps(self) -> List[int]:
        return list(range(self.step, self.step + len(self._queue)))
