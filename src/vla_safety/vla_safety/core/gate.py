"""The gates: inputs in (with their arrival time), one decision per `step(now)`.

`BaseGate` turns the latest Twist into what may be sent on `cmd_vel` (zero when it must
stop); `ArmGate` turns ArmCommands into what may be sent on `arm_cmd` (on a fault one HOLD -
stop streaming, the arm keeps its last target - or, for the e-stop, one STOP - the driver's
hard stop - then nothing). Both start stopped (no command yet). What they share lives once, in
`Gate`: the `Supervisor` (command/heartbeat watchdogs, latched e-stop, reset rule), the
rejected-command fault, reconfiguration, the e-stop reset and the intervention count; a gate
adds only its inputs, its sensor faults and its `step`.

Order of the base pipeline, and why: faults first (any stop reason -> exact zero, at once,
without a ramp); then deadband, velocity limits and the scan slowdown (shape the target);
then the acceleration ramp (so entering and leaving a slowdown are smooth); then the
geofence and the scan stop zone last, acting at once on what would be sent, so that nothing
after them can add motion back. Every stage only reduces or ramps: no stage can make an
axis exceed its limit, grow faster than its ramp, or flip sign.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Generic, List, Optional, Sequence, Tuple, TypeVar

import numpy as np
from vla_common.planar import Twist2D, ZERO_TWIST

from .arm import (box_excess, clamp_gripper, clamp_joints, clip_delta_to_box, limit_ee_step,
                  rate_scaled_step, step_joints, Vec3)
from .config import ArmGateConfig, BaseGateConfig
from .geofence import Geofence
from .kinematics import ForwardKinematics
from .limits import apply_deadband, limit_velocity, ramp
from .reasons import GateState, Reason, state_for, STOP_REASONS
from .scan_zones import scan_to_points, ScanError, ScanZones
from .watchdog import Supervisor, Watchdog

# ArmCommand.mode values (vla_msgs/ArmCommand MODE_*; a test checks they agree).
ARM_MODE_EE_DELTA = 0
ARM_MODE_JOINT_POSITION = 1
ARM_MODE_STOP = 2     # the driver's hard stop (trajectory emergency stop): the e-stop only
ARM_MODE_HOLD = 3     # a routine stop: stop streaming, the arm holds its last target


@dataclass(frozen=True)
class GateDecision:
    """Why a gate decided what it did (both modes)."""

    reasons: Reason
    state: GateState
    command_age: float
    estop_reason: str
    intervened: bool


@dataclass(frozen=True)
class BaseDecision(GateDecision):
    """What to publish on `cmd_vel` and why."""

    cmd: Twist2D = ZERO_TWIST


ConfigT = TypeVar('ConfigT', BaseGateConfig, ArmGateConfig)


class Gate(abc.ABC, Generic[ConfigT]):
    """What both gates share: the supervisor, the rejected-command fault, reconfiguration,
    heartbeat and e-stop handling, and the intervention count.

    A gate sets up its own state, then calls `Gate.__init__` (which applies the config through
    `reconfigure`); it implements `_sensor_faults` (its stale inputs) and `_forget_command`
    (what an accepted e-stop reset discards besides the rejected-command fault).
    """

    def __init__(self, config: ConfigT) -> None:
        self.supervisor = Supervisor(config.supervisor)
        self._cmd_fault = Reason.NONE
        self.interventions = 0
        self.late_refused = 0           # samples refused as stale on arrival
        self.late_refusal = ''          # why the last one was
        self.config = config
        self.reconfigure(config)

    def reconfigure(self, config: ConfigT) -> None:
        """Apply a (validated) config; inputs received so far are kept."""
        self.config = config
        self.supervisor.reconfigure(config.supervisor)

    # --- inputs -------------------------------------------------------------------------------
    def _accept_command(self, now: float, fault: Reason, is_zero: bool) -> None:
        """A command arrived: `fault` is why it was rejected (NONE: valid)."""
        self._cmd_fault = fault
        self.supervisor.on_command(now, is_zero)

    def _arrived_stale(self, timeout: float, transit: Optional[float], what: str) -> bool:
        """Whether a sample that took `transit` s from its writer to the gate (None: unknown)
        was already older than its input's `timeout` on arrival. A reliable writer keeps its
        last sample and delivers it when a link comes back: a command or heartbeat written
        before or during an outage must not count as fresh then (it is refused: the input
        stays as stale as it was; counted in `late_refused`, the reason in `late_refusal`)."""
        if transit is None or transit <= timeout:
            return False
        self.late_refused += 1
        self.late_refusal = (f'{what} published {transit:.3f} s before it arrived (more than '
                             f'its timeout, {timeout:g} s): refused as stale (delivered late, '
                             "e.g. after an outage, or the hosts' clocks disagree)")
        return True

    def on_heartbeat(self, now: float, transit: Optional[float] = None) -> None:
        """A heartbeat arrived `transit` s after it was published (None: unknown); one older
        than the heartbeat timeout on arrival is refused."""
        if not self._arrived_stale(self.supervisor.heartbeat.timeout, transit, 'heartbeat'):
            self.supervisor.on_heartbeat(now)

    def _command_arrived_stale(self, transit: Optional[float]) -> bool:
        return self._arrived_stale(self.supervisor.command.timeout, transit, 'command')

    def engage_estop(self, reason: str, now: float) -> bool:
        """Latch the e-stop; True if it was not engaged. Publish `step(now)` right after."""
        return self.supervisor.engage(reason, now)

    def reset_estop(self, now: float) -> Tuple[bool, str]:
        """Release the e-stop if the reset rule allows it; a released gate needs a new command."""
        was_engaged = self.supervisor.estop.engaged
        ok, message = self.supervisor.try_reset(now, self._faults(now))
        if ok and was_engaged:
            self._cmd_fault = Reason.NONE
            self._forget_command()
        return ok, message

    @abc.abstractmethod
    def _forget_command(self) -> None:
        """Drop the accepted command and what was derived from it (after a reset)."""

    # --- decision -----------------------------------------------------------------------------
    @abc.abstractmethod
    def _sensor_faults(self, now: float) -> Reason:
        """The faults of this gate's own inputs (stale sensors) at `now`."""

    def _faults(self, now: float) -> Reason:
        faults = self.supervisor.faults(now)
        if self._cmd_fault and self.supervisor.command.fresh(now):
            faults |= self._cmd_fault
        return faults | self._sensor_faults(now)

    def _is_current(self, now: float, has_command: bool) -> bool:
        """A fresh command (valid or rejected) is what interventions are counted against."""
        return self.supervisor.command.fresh(now) and (has_command or bool(self._cmd_fault))

    def _verdict(self, now: float, reasons: Reason, current: bool, modified: bool
                 ) -> GateDecision:
        """The shared fields of a decision; counts an intervention on a current command."""
        intervened = current and modified
        if intervened:
            self.interventions += 1
        return GateDecision(reasons, state_for(reasons), self.supervisor.command_age(now),
                            self.supervisor.estop.reason, intervened)


class BaseGate(Gate[BaseGateConfig]):
    """Holonomic base gate (Twist in, Twist out)."""

    def __init__(self, config: BaseGateConfig) -> None:
        self._cmd: Optional[Twist2D] = None
        self._pose: Optional[Tuple[float, float, float]] = None
        self._points: Optional[np.ndarray] = None
        self._odom = Watchdog(config.odom_timeout)
        self._scan = Watchdog(config.scan_timeout)
        self._last_out = ZERO_TWIST
        self._last_step: Optional[float] = None
        self.scans_rejected = 0
        self.scan_refusal = ''
        super().__init__(config)

    def reconfigure(self, config: BaseGateConfig) -> None:
        super().reconfigure(config)
        self._geofence = Geofence(config.geofence) if config.geofence is not None else None
        self._zones = ScanZones(config.zones)
        self._odom.timeout = config.odom_timeout
        self._scan.timeout = config.scan_timeout

    # --- inputs -------------------------------------------------------------------------------
    def on_command(self, cmd: Twist2D, now: float, transit: Optional[float] = None) -> None:
        """A Twist arrived `transit` s after it was published (None: unknown). One older than
        the command timeout on arrival is refused and changes nothing; a non-finite one
        replaces the previous command and is rejected."""
        if self._command_arrived_stale(transit):
            return
        if cmd.is_finite():
            self._cmd = cmd
            self._accept_command(now, Reason.NONE, apply_deadband(
                cmd, self.config.deadband_linear, self.config.deadband_angular).is_zero())
        else:
            self._cmd = None
            self._accept_command(now, Reason.NON_FINITE, False)

    def on_odom(self, x: float, y: float, yaw: float, now: float) -> bool:
        """Pose of base_link in the odom frame; non-finite poses are dropped (not fresh)."""
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(yaw)):
            return False
        self._pose = (x, y, yaw)
        self._odom.feed(now)
        return True

    def on_scan(self, angle_min: float, angle_increment: float, range_min: float,
                range_max: float, ranges: Sequence[float], now: float,
                frame_id: Optional[str] = None) -> bool:
        """A LaserScan; one with unusable geometry, or in another frame than the configured
        mount's (`frame_id` given and `zones.frame_id` set), is dropped (the scan goes stale);
        `scan_refusal` says why."""
        z = self.config.zones
        if frame_id is not None and z.frame_id and frame_id != z.frame_id:
            self.scans_rejected += 1
            self.scan_refusal = (f'scan frame_id {frame_id!r} is not the configured mount '
                                 f'frame {z.frame_id!r} (scan.frame_id; the mount is '
                                 'scan.laser_x/y/yaw): scans refused, the base stays stopped')
            return False
        try:
            self._points = scan_to_points(angle_min, angle_increment, range_min, range_max,
                                          ranges, z.laser_x, z.laser_y, z.laser_yaw)
        except ScanError as exc:
            self.scans_rejected += 1
            self.scan_refusal = str(exc)
            return False
        self.scan_refusal = ''
        self._scan.feed(now)
        return True

    def _forget_command(self) -> None:
        self._cmd = None
        self._last_out = ZERO_TWIST

    # --- decision -----------------------------------------------------------------------------
    def _sensor_faults(self, now: float) -> Reason:
        faults = Reason.NONE
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
        current = self._is_current(now, self._cmd is not None)
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
        verdict = self._verdict(now, reasons, current, bool(reasons))
        return BaseDecision(**vars(verdict), cmd=out)


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
class ArmDecision(GateDecision):
    """What to publish on `arm_cmd` (None: nothing this tick) and why."""

    output: Optional[ArmOutput] = None
    ee_position: Optional[Vec3] = None


class ArmGate(Gate[ArmGateConfig]):
    """Arm gate (ArmCommand in, ArmCommand out).

    End-effector deltas received between two ticks are summed and sent once, step-limited and
    kept in the workspace box (measured end effector from joint_states + forward kinematics);
    what exceeds the step is dropped, not carried over. The step caps are per command at the
    policy's rate (`command_rate`): a delta sent `dt` after the previous one may move at most
    `cap * min(1, dt * command_rate)`, so the speed cap holds however often deltas come. Joint
    targets are clamped inside the limits minus the margin and streamed every tick, at most
    `velocity * scale * period` per joint, while the command is fresh.

    Stops: a routine fault (command timeout, lost heartbeat or joint states, a rejected command)
    sends one MODE_HOLD: streaming stops and the pass-through controller keeps its last target.
    Only the e-stop sends MODE_STOP, the driver's hard stop (once per e-stop; a HOLD already
    sent escalates to it). The policy's own MODE_HOLD or MODE_STOP is forwarded once as a HOLD:
    nothing but the e-stop can ask for the driver's hard stop.
    """

    def __init__(self, config: ArmGateConfig) -> None:
        self._q: Optional[Tuple[float, ...]] = None
        self._joints = Watchdog(config.joint_state_timeout)
        self._active: Optional[int] = None
        self._pending: Optional[List[float]] = None
        self._gripper = 0.0
        self._joint_target: Optional[Tuple[float, ...]] = None
        self._last_joint_out: Optional[Tuple[float, ...]] = None
        # None at start, so the first tick (no command yet) sends one hold.
        self._stop_sent: Optional[int] = None     # ARM_MODE_HOLD / ARM_MODE_STOP of this fault
        self._forward_hold = False
        self._last_delta_time: Optional[float] = None
        self.joint_states_rejected = 0
        super().__init__(config)

    def reconfigure(self, config: ArmGateConfig) -> None:
        super().reconfigure(config)
        self._joints.timeout = config.joint_state_timeout
        lim = config.limits
        self._fk = ForwardKinematics(lim.model, lim.tool_offset)

    @property
    def dof(self) -> int:
        return len(self.config.limits.arm.joint_names)

    # --- inputs -------------------------------------------------------------------------------
    def on_joint_states(self, names: Sequence[str], positions: Sequence[float],
                        now: float) -> bool:
        """Measured joints by name; incomplete or non-finite states are dropped (go stale)."""
        if len(names) != len(positions):
            self.joint_states_rejected += 1
            return False
        by_name = dict(zip(names, positions))
        try:
            q = tuple(float(by_name[n]) for n in self.config.limits.arm.joint_names)
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
        if cmd.mode not in (ARM_MODE_EE_DELTA, ARM_MODE_JOINT_POSITION, ARM_MODE_STOP,
                            ARM_MODE_HOLD):
            return Reason.INVALID_COMMAND
        if cmd.mode == ARM_MODE_EE_DELTA and len(cmd.ee_delta) != 6:
            return Reason.INVALID_COMMAND
        if cmd.mode == ARM_MODE_JOINT_POSITION and len(cmd.joint_positions) != self.dof:
            return Reason.INVALID_COMMAND
        return Reason.NONE

    def _is_zero(self, cmd: ArmInput) -> bool:
        if cmd.mode in (ARM_MODE_STOP, ARM_MODE_HOLD):
            return True
        if cmd.mode == ARM_MODE_EE_DELTA:
            return all(abs(v) <= 1e-9 for v in cmd.ee_delta)
        tol = self.config.limits.hold_tolerance
        return self._q is not None and all(
            abs(t - q) <= tol for t, q in zip(cmd.joint_positions, self._q))

    def on_command(self, cmd: ArmInput, now: float, transit: Optional[float] = None) -> None:
        """An ArmCommand arrived `transit` s after it was published (None: unknown); one older
        than the command timeout on arrival is refused and changes nothing."""
        if self._command_arrived_stale(transit):
            return
        fault = self._validate(cmd)
        self._accept_command(now, fault, fault == Reason.NONE and self._is_zero(cmd))
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
            self._forward_hold = True   # the policy's own stop is forwarded once, as a hold

    def _forget_command(self) -> None:
        self._active, self._pending, self._joint_target = None, None, None
        self._forward_hold = False
        self._last_joint_out = None

    # --- decision -----------------------------------------------------------------------------
    def _sensor_faults(self, now: float) -> Reason:
        return Reason.NONE if self._joints.fresh(now) else Reason.JOINT_STATE_TIMEOUT

    def ee_position(self) -> Optional[Vec3]:
        return None if self._q is None else self._fk.position(self._q)

    def _stop_output(self, mode: int) -> ArmOutput:
        """A HOLD or STOP carrying the last gripper command (a held object stays held)."""
        return ArmOutput(mode, gripper=clamp_gripper(self._gripper)[0])

    def step(self, now: float) -> ArmDecision:
        """What to publish now (call on each timer tick and right after an e-stop)."""
        lim = self.config.limits
        reasons = self._faults(now)
        current = self._is_current(now, self._active is not None)
        output: Optional[ArmOutput] = None
        gripper_clamped = False
        if reasons & STOP_REASONS:
            kind = ARM_MODE_STOP if reasons & Reason.ESTOP else ARM_MODE_HOLD
            if self._stop_sent is None or (kind == ARM_MODE_STOP
                                           and self._stop_sent != ARM_MODE_STOP):
                output = self._stop_output(kind)   # once per fault, then stop streaming
                self._stop_sent = kind
            self._pending, self._last_joint_out, self._forward_hold = None, None, False
            self._last_delta_time = None
        elif self._forward_hold:
            self._stop_sent = None
            self._forward_hold = False
            self._last_delta_time = None
            output = self._stop_output(ARM_MODE_HOLD)
        elif self._active == ARM_MODE_EE_DELTA and self._pending is not None:
            # The caps are per command at the policy's rate: a delta right after the last one
            # gets the share of a cap that the time since then allows.
            elapsed = (1.0 / lim.command_rate if self._last_delta_time is None
                       else now - self._last_delta_time)
            delta, stepped = limit_ee_step(
                self._pending,
                rate_scaled_step(lim.max_translation_step, elapsed, lim.command_rate),
                rate_scaled_step(lim.max_rotation_step, elapsed, lim.command_rate))
            self._last_delta_time = now
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
            target, limited = clamp_joints(self._joint_target, lim.arm.lower, lim.arm.upper,
                                           lim.joint_limit_margin)
            prev = self._last_joint_out if self._last_joint_out is not None else self._q
            period = self.config.period
            max_step = [v * lim.joint_velocity_scale * period for v in lim.arm.max_velocity]
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
        if not reasons & STOP_REASONS and output is not None and output.mode != ARM_MODE_HOLD:
            self._stop_sent = None       # moving again: the next fault sends its stop again
        verdict = self._verdict(now, reasons, current, bool(reasons) or gripper_clamped)
        ee = self.ee_position() if self._joints.fresh(now) else None
        return ArmDecision(**vars(verdict), output=output, ee_position=ee)
