"""Watchdogs, the latched e-stop and the supervisor that combines them with the reset rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from .reasons import Reason, RESET_BLOCKING, reason_names
from .spec import declared_in_table


class Watchdog:
    """Freshness of one input: fed on arrival, stale after `timeout` seconds.

    A clock that jumps backwards (simulation reset) makes the input stale until it is fed
    again: fail closed rather than trust an age that cannot be computed.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = float(timeout)
        self.last: Optional[float] = None

    def feed(self, now: float) -> None:
        self.last = now

    def clear(self) -> None:
        self.last = None

    def age(self, now: float) -> Optional[float]:
        """Seconds since the last feed, None when never fed."""
        return None if self.last is None else now - self.last

    def fresh(self, now: float) -> bool:
        age = self.age(now)
        return age is not None and 0.0 <= age <= self.timeout


def stamp_age(stamp: float, now: float) -> Optional[float]:
    """Seconds from a message's header stamp to `now` on the same kind of clock (the gate's ROS
    clock: sim time under use_sim_time, else system time); None for an unstamped message
    (stamp 0). Negative when stamped ahead of `now`."""
    return None if stamp == 0.0 else now - stamp


def lateness(*ages: Optional[float]) -> Optional[float]:
    """The largest of the known ages of a sample (DDS transit, header stamp), None if none is
    known: a sample is as late as the worst evidence says."""
    known = [a for a in ages if a is not None]
    return max(known) if known else None


class EStopLatch:
    """Latched emergency stop: engaging is idempotent, only `release` clears it."""

    def __init__(self) -> None:
        self.engaged = False
        self.reason = ''
        self.engaged_at: Optional[float] = None
        self.count = 0

    def engage(self, reason: str, now: float) -> bool:
        """Engage; return True when it was not engaged before."""
        if self.engaged:
            return False
        self.engaged, self.reason, self.engaged_at = True, reason or 'unspecified', now
        self.count += 1
        return True

    def release(self) -> None:
        self.engaged, self.reason, self.engaged_at = False, '', None


#: The e-stop reason of a gate that started latched (start_latched: true).
STARTUP_REASON = ('startup: latched at start-up (start_latched); an operator reset is required '
                  'before the first motion (safety_gate/reset_estop)')


@dataclass(frozen=True)
@declared_in_table
class SupervisorConfig:
    """Timeouts (s), requirements, and the e-stop reset rule shared by both gate modes."""

    command_timeout: float
    heartbeat_timeout: float
    require_heartbeat: bool
    reset_quiet_time: float
    start_latched: bool
    #: Only meaningful when the watchdogs run on ROS time (a /clock that stops freezes them).
    clock_timeout: float


class Supervisor:
    """Command and heartbeat watchdogs, the e-stop latch and its reset rule (both modes).

    Sensor watchdogs belong to the gates, which pass their faults to `try_reset`.
    """

    def __init__(self, config: SupervisorConfig) -> None:
        self.config = config
        self.command = Watchdog(config.command_timeout)
        self.heartbeat = Watchdog(config.heartbeat_timeout)
        self.estop = EStopLatch()
        self.last_nonzero_command: Optional[float] = None
        # Hardware stacks start latched: no motion after a (re)start until an operator reset,
        # whatever commands and heartbeats are already flowing (reason STARTUP).
        self.startup_latched = config.start_latched
        self._clock_last: Optional[float] = None        # the gate's clock at the last look
        self._clock_moved_at: Optional[float] = None    # wall time it last moved
        self.clock_stalled = False
        if config.start_latched:
            self.estop.engage(STARTUP_REASON, 0.0)

    def reconfigure(self, config: SupervisorConfig) -> None:
        """New timeouts and rules, keeping what was received so far."""
        self.config = config
        self.command.timeout = config.command_timeout
        self.heartbeat.timeout = config.heartbeat_timeout

    def on_command(self, now: float, is_zero: bool) -> None:
        """A command arrived (valid or not); non-zero and rejected ones restart the quiet time."""
        self.command.feed(now)
        if not is_zero:
            self.last_nonzero_command = now

    def on_heartbeat(self, now: float) -> None:
        self.heartbeat.feed(now)

    def observe_clock(self, now: float, wall: float) -> None:
        """The gate's clock (`now`) read at wall time `wall`: when it has not moved for
        `clock_timeout` wall seconds (a paused or dead simulator stops /clock, and every
        watchdog on that clock freezes), CLOCK_STALLED stops the gate until it moves again."""
        if self.config.clock_timeout <= 0.0:
            self.clock_stalled = False
            return
        if self._clock_last is None or now != self._clock_last:
            self._clock_last, self._clock_moved_at = now, wall
        assert self._clock_moved_at is not None
        self.clock_stalled = wall - self._clock_moved_at > self.config.clock_timeout

    def faults(self, now: float) -> Reason:
        """The stop reasons from the latch, the command and the heartbeat at `now`."""
        reasons = Reason.NONE
        if self.estop.engaged:
            reasons |= Reason.ESTOP
            if self.startup_latched:
                reasons |= Reason.STARTUP
        if self.command.last is None:
            reasons |= Reason.NO_COMMAND
        elif not self.command.fresh(now):
            reasons |= Reason.COMMAND_TIMEOUT
        if self.config.require_heartbeat and not self.heartbeat.fresh(now):
            reasons |= Reason.HEARTBEAT_LOST
        if self.clock_stalled:
            reasons |= Reason.CLOCK_STALLED
        return reasons

    def command_age(self, now: float) -> float:
        """Seconds since the last command, -1 when none since start or reset."""
        age = self.command.age(now)
        return -1.0 if age is None else age

    def engage(self, reason: str, now: float) -> bool:
        return self.estop.engage(reason, now)

    def try_reset(self, now: float, other_faults: Reason) -> Tuple[bool, str]:
        """Release the latch if the command has been zero/absent long enough and nothing else
        is wrong. `other_faults` are the gate's current faults (sensors, rejected command).
        """
        if not self.estop.engaged:
            return True, 'e-stop was not engaged'
        quiet = self.config.reset_quiet_time
        if self.last_nonzero_command is not None:
            since = now - self.last_nonzero_command
            if since < quiet:
                return False, (f'refused: a non-zero command arrived {max(since, 0.0):.3f} s '
                               f'ago; the command must be zero or absent for {quiet:.3f} s')
        blocking = Reason(int(other_faults | self.faults(now)) & int(RESET_BLOCKING))
        if blocking:
            return False, 'refused: active fault(s) ' + ', '.join(reason_names(blocking))
        self.estop.release()
        self.startup_latched = False
        # Motion needs a command that arrives after the reset.
        self.command.clear()
        return True, 'e-stop released'
