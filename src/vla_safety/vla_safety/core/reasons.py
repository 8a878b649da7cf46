"""Reason bits and gate states.

The values mirror the `REASON_*` and `STATE_*` constants of `vla_msgs/SafetyState` (a test
checks that they agree); they are repeated here because the core must not import messages.
"""

from __future__ import annotations

import enum
from typing import List


class Reason(enum.IntFlag):
    """Why the gate did what it did; several bits can be set at once."""

    NONE = 0
    ESTOP = 1 << 0
    NO_COMMAND = 1 << 1
    COMMAND_TIMEOUT = 1 << 2
    ODOM_TIMEOUT = 1 << 3
    SCAN_TIMEOUT = 1 << 4
    JOINT_STATE_TIMEOUT = 1 << 5
    HEARTBEAT_LOST = 1 << 6
    NON_FINITE = 1 << 7
    VELOCITY_LIMITED = 1 << 8
    ACCEL_LIMITED = 1 << 9
    GEOFENCE = 1 << 10
    OBSTACLE_STOP = 1 << 11
    OBSTACLE_SLOWDOWN = 1 << 12
    WORKSPACE = 1 << 13
    JOINT_LIMIT = 1 << 14
    STEP_LIMITED = 1 << 15
    INVALID_COMMAND = 1 << 16
    INACTIVE = 1 << 17
    STARTUP = 1 << 18
    CLOCK_STALLED = 1 << 19


class GateState(enum.IntEnum):
    """Overall state, as in `vla_msgs/SafetyState.STATE_*`."""

    OK = 0
    LIMITED = 1
    STOPPED = 2
    ESTOP = 3


#: Reasons that force a stop (zero twist / arm stop), whatever the command says.
STOP_REASONS = (Reason.ESTOP | Reason.NO_COMMAND | Reason.COMMAND_TIMEOUT | Reason.ODOM_TIMEOUT
                | Reason.SCAN_TIMEOUT | Reason.JOINT_STATE_TIMEOUT | Reason.HEARTBEAT_LOST
                | Reason.NON_FINITE | Reason.OBSTACLE_STOP | Reason.INVALID_COMMAND
                | Reason.INACTIVE | Reason.STARTUP | Reason.CLOCK_STALLED)

#: Reasons that let a modified command through.
LIMIT_REASONS = (Reason.VELOCITY_LIMITED | Reason.ACCEL_LIMITED | Reason.GEOFENCE
                 | Reason.OBSTACLE_SLOWDOWN | Reason.WORKSPACE | Reason.JOINT_LIMIT
                 | Reason.STEP_LIMITED)

#: Faults that make an e-stop reset refuse (an absent command is not one of them).
RESET_BLOCKING = (Reason.ODOM_TIMEOUT | Reason.SCAN_TIMEOUT | Reason.JOINT_STATE_TIMEOUT
                  | Reason.HEARTBEAT_LOST | Reason.NON_FINITE | Reason.INVALID_COMMAND
                  | Reason.INACTIVE | Reason.CLOCK_STALLED)

_MAX_BIT = max(Reason).bit_length()


def reason_names(reasons: int) -> List[str]:
    """The names of the set bits, lowest bit first, e.g. ['ESTOP', 'COMMAND_TIMEOUT']."""
    return [Reason(1 << bit).name or str(1 << bit) for bit in range(_MAX_BIT)
            if int(reasons) & (1 << bit)]


def state_for(reasons: int) -> GateState:
    """The state implied by a set of reasons (e-stop wins, then stops, then limits)."""
    if reasons & Reason.ESTOP:
        return GateState.ESTOP
    if reasons & STOP_REASONS:
        return GateState.STOPPED
    if reasons & LIMIT_REASONS:
        return GateState.LIMITED
    return GateState.OK
