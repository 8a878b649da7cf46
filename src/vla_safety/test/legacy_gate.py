"""A copy of vla_safety/core/gate.py before `Gate` (commit 9370845), for the differential test.

The gates: inputs in (with their arrival time), one decision per `step(now)`.

`BaseGate` turns the latest Twist into what may be sent on `cmd_vel` (zero when it must
stop); `ArmGate` turns ArmCommands into what may be sent on `arm_cmd` (one stop request on
a fault, then nothing). Both start stopped (no command yet) and share the `Supervisor`
(command/heartbeat watchdogs, latched e-stop, reset rule).

Order of the base pipeline, and why: faults first (any stop reason -> exact zero, at once,
without a ramp); then deadband, velocity limits and the scan slowdown (shape the target);
then the acceleration ramp (so entering and leaving a slowdown are smooth); then the
geofence and the scan stop zone last, acting at once on what would be sent, so that nothing
after them can add motion back. Every stage only reduces or ramps: no stage can make an
axis exceed its limit, grow faster than its ramp, or flip sign.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from vla_safety.core.arm import (box_excess, clamp_gripper, clamp_joints, clip_delta_to_box,
                                 limit_ee_step, step_joints, Vec3)
from vla_safety.core.config import ArmGateConfig, BaseGateConfig
from vla_safety.core.geofence import Geofence
from vla_safety.core.kinematics import CHAINS, ForwardKinematics
from vla_safety.core.limits import apply_deadband, limit_velocity, ramp, Twist2D, ZERO_TWIST
from vla_safety.core.reasons import GateState, Reason, state_for, STOP_REASONS
from vla_safety.core.scan_zones import scan_to_points, ScanError, ScanZones
from vla_safety.core.watchdog import Supervisor, Watchdog

# ArmCommand.mode values (vla_msgs/ArmCommand MODE_*; a test checks they agree).
ARM_MODE_EE_DELTA = 0
ARM_MODE_JOINT_POSITION = 1
ARM_MODE_STOP = 2


@dataclass(frozen=True)
class BaseDecision:
    """What to publish on `cmd_vel` and why."""

    cmd: Twist2D
    reasons: Reason
    state: GateState
    command_age: float
    estop_reason: str
    intervened: bool


class BaseGate:
    """Holonomic base gate (Twist in, Twist out)."""

    def __init__(self, config: BaseGateConfig) -> None:
        self.supervisor = Supervisor(config.supervisor)
        self._cmd: Optional[Twist2D] = None
        self._cmd_fault = Reason.NONE
        self._pose: Optional[Tuple[float, float, float]] = None
        self._points: Optional[np.ndarray] = None
        self._last_out = ZERO_TWIST
        self._last_step: Optional[float] = None
        self.interventions = 0
        self.scans_rejected = 0
        self.config = config
        self.reconfigure(config)

    def reconfigure(self, config: BaseGateConfig) -> None:
        """Apply a (validated) config; inputs received so far are kept."""
        self.config = config
        self.supervisor.reconfigure(config.supervisor)
        self._geofence = Geofence(config.geofence) if config.geofence is not None else None
        self._zones = ScanZones(config.zones)
        old_odom = getattr(self, '_odom', None)
        old_scan = getattr(self, '_scan', None)
        self._odom = Watchdog(config.odom_timeout)
        self._scan = Watchdog(config.scan_timeout)
        self._odom.last = old_odom.last if old_odom else None
        self._scan.last = old_scan.last if old_scan else None

    # --- inputs -------------------------------------------------------------------------------
    def on_command(self, cmd: Twist2D, now: float) -> None:
        """A Twist arrived; a non-finite one replaces the previous command and is rejected."""
        if cmd.is_finite():
            self._cmd, self._cmd_fault = cmd, Reason.NONE
            zero = apply_deadband(cmd, self.config.deadband_linear,
                                  self.config.deadband_angular).is_zero()
        else:
            self._cmd, self._cmd_fault = None, Reason.NON_FINITE
            zero = False
        self.supervisor.on_command(now, zero)

    def on_heartbeat(self, now: float) -> None:
        self.supervisor.on_heartbeat(now)

    def on_odom(self, x: float, y: float, yaw: float, now: float) -> bool:
        """Pose of base_link in the odom frame; non-finite poses are dropped (not fresh)."""
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(yaw)):
            return False
        self._pose = (x, y, yaw)
        self._odom.feed(now)
        return True

    def on_scan(self, angle_min: float, angle_increment: float, range_min: float,
                range_max: float, ranges: Sequence[float], now: float) -> bool:
        """A LaserScan; one with unusable geometry is dropped (the scan goes stale)."""
        z = self.config.zones
        try:
            self._points = scan_to_points(angle_min, angle_increment, range_min, range_max,
                                          ranges, z.laser_x, z.laser_y, z.laser_yaw)
        except ScanError:
            self.scans_rejected += 1
            return False
        self._scan.feed(now)
        return True

    def engage_estop(self, reason: str, now: float) -> bool:
        """Latch the e-stop; True if it was not engaged. Publish `step(now)` right after."""
        return self.supervisor.engage(reason, now)

    def reset_estop(self, now: float) -> Tuple[bool, str]:
        was_engaged = self.supervisor.estop.engaged
        ok, message = self.supervisor.try_reset(now, self._faults(now))
        if ok and was_engaged:
            self._cmd, self._cmd_fault = None, Reason.NONE
            self._last_out = ZERO_TWIST
        return ok, message

    # --- decision -----------------------------------------------------------------------------
    def _faults(self, now: float) -> Reason:
        faults = self.supervisor.faults(now)
        if self._cmd_fault and self.supervisor.command.fresh(now):
            faults |= self._cmd_fault
        if self.config.odom_required and not self._odom.fresh(now):
            faults |= Reason.ODOM_TIMEOUT
        if self.config.require_scan and not self._scan.fresh(now):
            faults |= Reason.SCAN_TIMEOUT
        return faults

    def step(self, now: float) -> BaseDecision:
        """The command to publish now."""
        cfg = self.config
        reasons = self._faults(now)
        dt = cfg.period if self._last_step is None else now - self._last_step
        dt = max(0.0, min(dt, 2.0 * cfg.period))
        self._last_step = now
        current = self.supervisor.command.fresh(now) and (
            self._cmd is not None or bool(self._cmd_fault))
        if reasons & STOP_REASONS or self._cmd is None:
            out = ZERO_TWIST
        else:
            out = apply_deadband(self._cmd, cfg.deadband_linear, cfg.deadband_angular)
            out, limited = limit_velocity(out, cfg.velocity)
            if limited:
                reasons |= Reason.VELOCITY_LIMITED
            scan_fresh = self._scan.fresh(now)
            # Slowdown shapes the target, so entering and leaving the zone are both ramped.
            if scan_fresh and self._zones.evaluate(self._points, out).slowdown:
                out = out.scaled(cfg.zones.slowdown_ratio)
                reasons |= Reason.OBSTACLE_SLOWDOWN
            out, ramped = ramp(out, self._last_out, dt, cfg.accel)
            if ramped:
                reasons |= Reason.ACCEL_LIMITED
                # A ramp down from above a limit lowered at runtime must not exceed it.
                out, limited = limit_velocity(out, cfg.velocity)
                if limited:
                    reasons |= Reason.VELOCITY_LIMITED
            # The fence and the stop zone act on what would be sent, at once (no ramp).
            if self._geofence is not None and self._pose is not None:
                out, fenced = self._geofence.clip(*self._pose, out)
                if fenced:
                    reasons |= Reason.GEOFENCE
            if scan_fresh and self._zones.evaluate(self._points, out).stop:
                out = ZERO_TWIST
                reasons |= Reason.OBSTACLE_STOP
        self._last_out = out
        intervened = current and bool(reasons)
        if intervened:
            self.interventions += 1
        return BaseDecision(out, reasons, state_for(reasons),
                            self.supervisor.command_age(now), self.supervisor.estop.reason,
                            intervened)


# --- arm ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ArmCommandFields:
    """The fields of a vla_msgs/ArmCommand as plain values.

    Declared once so that `ArmInput` and `ArmOutput`, two mirrors of the same message, cannot
    drift apart. They stay two types, each a frozen dataclass of its own (so an input never
    compares equal to an output): one is what the policy asked for, the other what the gate
    lets through.
    """

    mode: int
    ee_delta: Tuple[float, ...] = (0.0,) * 6
    joint_positions: Tuple[float, ...] = ()
    gripper: float = 0.0


@dataclass(frozen=True)
class ArmInput(_ArmCommandFields):
    """An ArmCommand as plain values."""


@dataclass(frozen=True)
class ArmOutput(_ArmCommandFields):
    """An ArmCommand to publish on `arm_cmd`."""


@dataclass(frozen=True)
class ArmDecision:
    """What to publish on `arm_cmd` (None: nothing this tick) and why."""

    output: Optional[ArmOutput]
    reasons: Reason
    state: GateState
    command_age: float
    estop_reason: str
    intervened: bool
    ee_position: Optional[Vec3]


class ArmGate:
    """Arm gate (ArmCommand in, ArmCommand out).

    End-effector deltas received between two ticks are summed and sent once, step-limited and
    kept in the workspace box (measured end effector from joint_states + forward kinematics);
    what exceeds the step is dropped, not carried over. Joint targets are clamped inside the
    limits minus the margin and streamed every tick, at most `velocity * scale * period` per
    joint, while the command is fresh. On a fault one MODE_STOP is sent, then nothing.
    """

    def __init__(self, config: ArmGateConfig) -> None:
        self.supervisor = Supervisor(config.supervisor)
        self._q: Optional[Tuple[float, ...]] = None
        self._joints = Watchdog(config.joint_state_timeout)
        self._cmd_fault = Reason.NONE
        self._active: Optional[int] = None
        self._pending: Optional[List[float]] = None
        self._gripper = 0.0
        self._joint_target: Optional[Tuple[float, ...]] = None
        self._last_joint_out: Optional[Tuple[float, ...]] = None
        # False at start, so the first tick (no command yet) sends one stop request.
        self._in_fault = False
        self._forward_stop = False
        self.interventions = 0
        self.joint_states_rejected = 0
        self.config = config
        self.reconfigure(config)

    def reconfigure(self, config: ArmGateConfig) -> None:
        self.config = config
        self.supervisor.reconfigure(config.supervisor)
        self._joints.timeout = config.joint_state_timeout
        lim = config.limits
        self._fk = ForwardKinematics(CHAINS[lim.kinematics], lim.tool_offset)

    @property
    def dof(self) -> int:
        return len(self.config.limits.joint_names)

    # --- inputs -------------------------------------------------------------------------------
    def on_joint_states(self, names: Sequence[str], positions: Sequence[float],
                        now: float) -> bool:
        """Measured joints by name; incomplete or non-finite states are dropped (go stale)."""
        if len(names) != len(positions):
            self.joint_states_rejected += 1
            return False
        by_name = dict(zip(names, positions))
        try:
            q = tuple(float(by_name[n]) for n in self.config.limits.joint_names)
        except KeyError:
            self.joint_states_rejected += 1
            return False
        if not all(math.isfinite(v) for v in q):
            self.joint_states_rejected += 1
            return False
        self._q = q
        self._joints.feed(now)
        return True

    def _validate(self, cmd: ArmInput) -> Reason:
        values = list(cmd.ee_delta) + list(cmd.joint_positions) + [cmd.gripper]
        if not all(math.isfinite(v) for v in values):
            return Reason.NON_FINITE
        if cmd.mode not in (ARM_MODE_EE_DELTA, ARM_MODE_JOINT_POSITION, ARM_MODE_STOP):
            return Reason.INVALID_COMMAND
        if cmd.mode == ARM_MODE_EE_DELTA and len(cmd.ee_delta) != 6:
            return Reason.INVALID_COMMAND
        if cmd.mode == ARM_MODE_JOINT_POSITION and len(cmd.joint_positions) != self.dof:
            return Reason.INVALID_COMMAND
        return Reason.NONE

    def _is_zero(self, cmd: ArmInput) -> bool:
        if cmd.mode == ARM_MODE_STOP:
            return True
        if cmd.mode == ARM_MODE_EE_DELTA:
            return all(abs(v) <= 1e-9 for v in cmd.ee_delta)
        tol = self.config.limits.hold_tolerance
        return self._q is not None and all(
            abs(t - q) <= tol for t, q in zip(cmd.joint_positions, self._q))

    def on_command(self, cmd: ArmInput, now: float) -> None:
        fault = self._validate(cmd)
        self.supervisor.on_command(now, fault == Reason.NONE and self._is_zero(cmd))
        self._cmd_fault = fault
        if fault:
            self._active, self._pending, self._joint_target = None, None, None
            return
        if cmd.mode != self._active:
            self._last_joint_out = None
        self._active = cmd.mode
        self._gripper = cmd.gripper
        if cmd.mode == ARM_MODE_EE_DELTA:
            self._joint_target = None
            pending = self._pending or [0.0] * 6
            self._pending = [a + b for a, b in zip(pending, cmd.ee_delta)]
        elif cmd.mode == ARM_MODE_JOINT_POSITION:
            self._pending = None
            self._joint_target = tuple(cmd.joint_positions)
        else:
            self._pending, self._joint_target = None, None
            self._forward_stop = True   # the policy's own stop request is forwarded once

    def on_heartbeat(self, now: float) -> None:
        self.supervisor.on_heartbeat(now)

    def engage_estop(self, reason: str, now: float) -> bool:
        return self.supervisor.engage(reason, now)

    def reset_estop(self, now: float) -> Tuple[bool, str]:
        was_engaged = self.supervisor.estop.engaged
        ok, message = self.supervisor.try_reset(now, self._faults(now))
        if ok and was_engaged:
            self._active, self._pending, self._joint_target = None, None, None
            self._forward_stop = False
            self._cmd_fault = Reason.NONE
            self._last_joint_out = None
        return ok, message

    # --- decision -----------------------------------------------------------------------------
    def _faults(self, now: float) -> Reason:
        faults = self.supervisor.faults(now)
        if self._cmd_fault and self.supervisor.command.fresh(now):
            faults |= self._cmd_fault
        if not self._joints.fresh(now):
            faults |= Reason.JOINT_STATE_TIMEOUT
        return faults

    def ee_position(self) -> Optional[Vec3]:
        return None if self._q is None else self._fk.position(self._q)

    def _stop_output(self) -> ArmOutput:
        return ArmOutput(ARM_MODE_STOP, gripper=clamp_gripper(self._gripper)[0])

    def step(self, now: float) -> ArmDecision:
        """What to publish now (call on each timer tick and right after an e-stop)."""
        lim = self.config.limits
        reasons = self._faults(now)
        current = self.supervisor.command.fresh(now) and (
            self._active is not None or bool(self._cmd_fault))
        output: Optional[ArmOutput] = None
        gripper_clamped = False
        if reasons & STOP_REASONS:
            if not self._in_fault:
                output = self._stop_output()   # once per fault, then stop streaming
            self._in_fault = True
            self._pending, self._last_joint_out, self._forward_stop = None, None, False
        elif self._forward_stop:
            self._in_fault = False
            self._forward_stop = False
            output = self._stop_output()
        elif self._active == ARM_MODE_EE_DELTA and self._pending is not None:
            delta, stepped = limit_ee_step(self._pending, lim.max_translation_step,
                                           lim.max_rotation_step)
            assert self._q is not None  # joint states are fresh here
            t, boxed = clip_delta_to_box(self._fk.position(self._q),
                                         (delta[0], delta[1], delta[2]),
                                         lim.workspace_min, lim.workspace_max)
            gripper, gripper_clamped = clamp_gripper(self._gripper)
            reasons |= (Reason.STEP_LIMITED if stepped else Reason.NONE) | (
                Reason.WORKSPACE if boxed else Reason.NONE)
            output = ArmOutput(ARM_MODE_EE_DELTA, t + tuple(delta[3:6]), (), gripper)
            self._pending = None
        elif self._active == ARM_MODE_JOINT_POSITION and self._joint_target is not None:
            assert self._q is not None
            target, limited = clamp_joints(self._joint_target, lim.joint_lower, lim.joint_upper,
                                           lim.joint_limit_margin)
            prev = self._last_joint_out if self._last_joint_out is not None else self._q
            period = self.config.period
            max_step = [v * lim.joint_velocity_scale * period for v in lim.joint_max_velocity]
            nxt, stepped = step_joints(target, prev, max_step)
            before = box_excess(self._fk.position(prev), lim.workspace_min, lim.workspace_max)
            after = box_excess(self._fk.position(nxt), lim.workspace_min, lim.workspace_max)
            boxed = after > 0.0 and after > before + 1e-9
            if boxed:
                nxt = tuple(prev)   # hold: this step would leave (or go further out of) the box
            gripper, gripper_clamped = clamp_gripper(self._gripper)
            reasons |= ((Reason.JOINT_LIMIT if limited else Reason.NONE)
                        | (Reason.STEP_LIMITED if stepped else Reason.NONE)
                        | (Reason.WORKSPACE if boxed else Reason.NONE))
            output = ArmOutput(ARM_MODE_JOINT_POSITION, (0.0,) * 6, tuple(nxt), gripper)
            self._last_joint_out = tuple(nxt)
        if not reasons & STOP_REASONS:
            self._in_fault = False
        intervened = current and (bool(reasons) or gripper_clamped)
        if intervened:
            self.interventions += 1
        ee = self.ee_position() if self._joints.fresh(now) else None
        return ArmDecision(output, reasons, state_for(reasons), self.supervisor.command_age(now),
                           self.supervisor.estop.reason, intervened, ee)
