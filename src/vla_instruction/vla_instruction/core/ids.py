"""Instruction ids: unique per instruction, and across node restarts (a run token)."""

from __future__ import annotations

import secrets
import threading
from typing import Optional


class InstructionIds:
    """`<prefix>-<run>-<n>` ids, e.g. `ins-3fa2-000042`.

    The run token (random per process unless given) keeps a restarted node from reusing an id
    the policy already saw; a policy resets on every new id.
    """

    def __init__(self, prefix: str = 'ins', run: Optional[str] = None) -> None:
        self.prefix = prefix
        self.run = run if run is not None else secrets.token_hex(2)
        self._n = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._n += 1
            return f'{self.prefix}-{self.run}-{self._n:06d}'

    @property
    def issued(self) -> int:
        return self._n
