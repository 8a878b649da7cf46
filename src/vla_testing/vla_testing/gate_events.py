"""Named input events played into a pure safety gate (vla_safety.core.gate), for the fuzz tests
(vla_safety/test/test_fuzz*.py): one event, then one decision, checked."""

from abc import ABC, abstractmethod
from typing import Any, Sequence


class GateEvents(ABC):
    """Plays events into `self.gate` at `self.now` and hands the gate's decision after each to
    `self.check(decision)`.

    The events every gate takes are handled here: `heartbeat`; `estop` with args (engaged,)
    (False is a release, which resets nothing); `reset_estop`; and the command event
    `command_event`, whose args build a `command_type` (Twist2D, ArmInput). Every other event
    goes to `self.feed(kind, args, t)` (the clock, the gate's sensors).
    """

    command_event = 'cmd'
    command_type: Any = None
    gate: Any
    now: float

    @abstractmethod
    def feed(self, kind: str, args: Sequence[Any], t: float) -> None:
        """An event of the subclass's own world (the clock, the gate's sensors)."""

    @abstractmethod
    def check(self, decision: Any) -> None:
        """Check the gate's decision after one event."""

    def event(self, kind: str, args: Sequence[Any]) -> None:
        g, t = self.gate, self.now
        if kind == self.command_event:
            g.on_command(self.command_type(*args), t)
        elif kind == 'heartbeat':
            g.on_heartbeat(t)
        elif kind == 'estop':
            if args[0]:
                g.engage_estop('fuzz', t)
        elif kind == 'reset_estop':
            g.reset_estop(t)
        else:
            self.feed(kind, args, t)
        self.check(g.step(self.now))
