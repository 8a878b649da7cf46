"""Parameters of the gate: one table (name, default, description, range, read-only, mode),
the frozen configs built from parameter values, and their validation.

The node declares exactly this table (through `vla_common.params.declare`), and the shipped
`config/safety_gate*.param.yaml` files are checked against it by the tests, so defaults live
in one place. Read-only parameters are structure and hard caps: they only come from a
parameter file. The runtime-settable ones are bounded by read-only hard caps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from vla_common.arm_models import ARM_MODELS

from .arm import ArmLimits
from .geofence import GeofenceConfig, GeofenceError, Polygon
from .limits import AccelLimits, VelocityLimits
from .scan_zones import ScanZoneConfig
from .watchdog import SupervisorConfig

MODES = ('base', 'arm')
TIME_SOURCES = ('steady', 'ros')


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter of the gate."""

    name: str
    default: Any
    description: str
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    read_only: bool = True
    modes: Tuple[str, ...] = MODES
    #: name of a (read-only) hard-cap parameter whose value is this parameter's maximum
    max_from: Optional[str] = None


_B = ('base',)
_A = ('arm',)

PARAMS: Tuple[ParamSpec, ...] = (
    # --- common ---------------------------------------------------------------------------------
    ParamSpec('mode', 'base', "gate mode: 'base' (Twist cmd_vel_in -> cmd_vel) or 'arm' "
              '(ArmCommand arm_cmd_in -> arm_cmd)'),
    ParamSpec('rate', 50.0, 'output timer rate (Hz); the gate publishes at this rate, always',
              5.0, 500.0),
    ParamSpec('state_rate', 2.0, 'rate (Hz) of the periodic ~/state and /diagnostics '
              '(~/state is also published on every change)', 0.1, 50.0),
    ParamSpec('time_source', 'steady', "clock of the watchdogs: 'steady' (monotonic; a stalled "
              "/clock cannot freeze them) or 'ros' (node clock, follows use_sim_time)"),
    ParamSpec('clock_timeout', 0.25, "with time_source 'ros': wall s the node clock may stand "
              'still (a stalled /clock) before the gate stops with CLOCK_STALLED; 0 disables '
              'the check (lockstep simulation, where time only moves with the controller)',
              0.0, 5.0),
    ParamSpec('start_latched', False, 'start with the e-stop engaged (a reset is needed before '
              'the first motion)'),
    ParamSpec('command_timeout', 0.25, 'command older than this (s) -> stop', 0.02, 5.0),
    ParamSpec('require_heartbeat', True, 'stop while the policy heartbeat is missing (lock)'),
    ParamSpec('heartbeat_timeout', 0.5, 'heartbeat older than this (s) -> stop', 0.05, 10.0),
    ParamSpec('reset_quiet_time', 0.5, 'a reset is refused unless the incoming command has '
              'been zero or absent for this long (s)', 0.0, 10.0),
    # --- base: hard caps (read-only bounds of the runtime-settable limits) ----------------------
    ParamSpec('hard_caps.max_linear_velocity', 0.5, 'hard cap (m/s) on every linear '
              'velocity limit', 0.0, 5.0, modes=_B),
    ParamSpec('hard_caps.max_angular_velocity', 1.0, 'hard cap (rad/s) on the yaw rate limit',
              0.0, 10.0, modes=_B),
    ParamSpec('hard_caps.max_linear_acceleration', 2.0, 'hard cap (m/s^2) on the linear '
              'acceleration/deceleration limits', 0.01, 20.0, modes=_B),
    ParamSpec('hard_caps.max_angular_acceleration', 4.0, 'hard cap (rad/s^2) on the yaw '
              'acceleration/deceleration limits', 0.01, 40.0, modes=_B),
    # --- base: limits (settable at runtime within the hard caps) --------------------------------
    ParamSpec('limits.max_vel_x_forward', 0.5, 'forward speed limit (m/s); 0 disables forward',
              0.0, None, False, _B, 'hard_caps.max_linear_velocity'),
    ParamSpec('limits.max_vel_x_backward', 0.5, 'backward speed limit (m/s, positive)',
              0.0, None, False, _B, 'hard_caps.max_linear_velocity'),
    ParamSpec('limits.max_vel_y', 0.5, 'lateral speed limit (m/s); 0 for a non-holonomic base',
              0.0, None, False, _B, 'hard_caps.max_linear_velocity'),
    ParamSpec('limits.max_vel_yaw', 1.0, 'yaw rate limit (rad/s)',
              0.0, None, False, _B, 'hard_caps.max_angular_velocity'),
    ParamSpec('limits.max_planar_speed', 0.5, 'cap (m/s) on the planar speed hypot(vx, vy), '
              'direction kept; 0 disables it (per-axis limits still apply)',
              0.0, None, False, _B, 'hard_caps.max_linear_velocity'),
    ParamSpec('limits.preserve_direction', True, 'scale all axes by one factor when any limit '
              'binds (keeps direction and curvature) instead of clamping each axis',
              read_only=False, modes=_B),
    ParamSpec('limits.deadband_linear', 0.01, 'linear components below this (m/s) are zeroed',
              0.0, 0.1, False, _B),
    ParamSpec('limits.deadband_angular', 0.01, 'yaw rate below this (rad/s) is zeroed',
              0.0, 0.2, False, _B),
    ParamSpec('limits.max_accel_x', 1.0, 'x acceleration limit (m/s^2)',
              0.01, None, False, _B, 'hard_caps.max_linear_acceleration'),
    ParamSpec('limits.max_decel_x', 1.5, 'x deceleration limit (m/s^2)',
              0.01, None, False, _B, 'hard_caps.max_linear_acceleration'),
    ParamSpec('limits.max_accel_y', 1.0, 'y acceleration limit (m/s^2)',
              0.01, None, False, _B, 'hard_caps.max_linear_acceleration'),
    ParamSpec('limits.max_decel_y', 1.5, 'y deceleration limit (m/s^2)',
              0.01, None, False, _B, 'hard_caps.max_linear_acceleration'),
    ParamSpec('limits.max_accel_yaw', 2.0, 'yaw acceleration limit (rad/s^2)',
              0.01, None, False, _B, 'hard_caps.max_angular_acceleration'),
    ParamSpec('limits.max_decel_yaw', 3.0, 'yaw deceleration limit (rad/s^2)',
              0.01, None, False, _B, 'hard_caps.max_angular_acceleration'),
    ParamSpec('publish_on_input', True, 'also gate and publish each command as it arrives '
              '(lower latency; arm: end-effector deltas, whose step caps are per command, not '
              'per tick); the fixed-rate output continues regardless'),
    # --- base: sensors --------------------------------------------------------------------------
    ParamSpec('require_odom', True, 'stop while odometry is stale (always required when the '
              'geofence is enabled)', modes=_B),
    ParamSpec('odom_timeout', 0.5, 'odometry older than this (s) is stale', 0.02, 5.0,
              modes=_B),
    ParamSpec('require_scan', True, 'stop while the laser scan is stale', modes=_B),
    ParamSpec('scan_timeout', 0.5, 'scan older than this (s) is stale', 0.02, 5.0, modes=_B),
    # --- base: geofence -------------------------------------------------------------------------
    ParamSpec('geofence.enabled', True, 'clip motion leaving the geofence polygon', modes=_B),
    ParamSpec('geofence.polygon', [-5.0, -5.0, 5.0, -5.0, 5.0, 5.0, -5.0, 5.0],
              'geofence vertices in the odom frame, flat [x0, y0, x1, y1, ...] (m)', modes=_B),
    ParamSpec('geofence.horizon', 0.5, 'look-ahead (s) of the geofence prediction; the speed '
              'towards the fence is limited to (distance - margin) / horizon', 0.05, 5.0,
              modes=_B),
    ParamSpec('geofence.margin', 0.25, 'the base centre keeps this distance (m) from the fence '
              '(cover the footprint circumradius)', 0.0, 2.0, modes=_B),
    # --- base: footprint and scan zones ---------------------------------------------------------
    ParamSpec('footprint.length', 0.40, 'footprint length along x (m), centred on base_link',
              0.05, 5.0, modes=_B),
    ParamSpec('footprint.width', 0.30, 'footprint width along y (m), centred on base_link',
              0.05, 5.0, modes=_B),
    ParamSpec('scan.stop_distance', 0.10, 'collision threshold: a scan point this close (m) to '
              'the footprint in the direction of motion stops the base', 0.0, 2.0, modes=_B),
    ParamSpec('scan.slowdown_distance', 0.40, 'a scan point this close (m) in the direction of '
              'motion scales the command by scan.slowdown_ratio', 0.0, 5.0, modes=_B),
    ParamSpec('scan.slowdown_ratio', 0.5, 'speed factor in the slowdown zone', 0.0, 1.0,
              modes=_B),
    ParamSpec('scan.laser_x', 0.0, 'laser x in base_link (m)', -5.0, 5.0, modes=_B),
    ParamSpec('scan.laser_y', 0.0, 'laser y in base_link (m)', -5.0, 5.0, modes=_B),
    ParamSpec('scan.laser_yaw', 0.0, 'laser yaw in base_link (rad)', -math.pi, math.pi,
              modes=_B),
    ParamSpec('scan.frame_id', 'laser', 'frame_id of the scans the mount (scan.laser_*) '
              "describes; a scan in another frame is refused (logged with the reason, so the "
              "scan stays stale and the base stopped); '' accepts any frame", modes=_B),
    # --- arm ------------------------------------------------------------------------------------
    ParamSpec('joint_state_timeout', 0.25, 'joint states older than this (s) -> stop', 0.02,
              5.0, modes=_A),
    ParamSpec('hard_caps.max_translation_step', 0.01, 'hard cap (m per command at '
              'arm.command_rate) on arm.max_translation_step', 0.0, 0.1, modes=_A),
    ParamSpec('hard_caps.max_rotation_step', 0.05, 'hard cap (rad per command at '
              'arm.command_rate) on arm.max_rotation_step', 0.0, 0.5, modes=_A),
    ParamSpec('arm.model', 'RM75', 'RealMan arm model: its joint names (joint_states are '
              'matched by name), joint limits, joint velocities and kinematics come from the '
              f'shared table ({", ".join(sorted(ARM_MODELS))})', modes=_A),
    ParamSpec('arm.joint_limit_margin', 0.1, 'joint targets are kept this far (rad) inside the '
              'limits', 0.0, 0.5, modes=_A),
    ParamSpec('arm.joint_velocity_scale', 0.5, 'fraction of the joint velocity limits used for '
              'the max step per tick', 0.01, 1.0, False, _A),
    ParamSpec('arm.max_translation_step', 0.005, 'end-effector translation per command at '
              'arm.command_rate (m, per axis, direction kept): the speed cap is this x '
              'command_rate', 0.0, None, False, _A, 'hard_caps.max_translation_step'),
    ParamSpec('arm.max_rotation_step', 0.02, 'end-effector rotation per command at '
              'arm.command_rate (rad, per axis)', 0.0, None, False, _A,
              'hard_caps.max_rotation_step'),
    ParamSpec('arm.command_rate', 10.0, 'the policy\'s control rate (Hz): the step caps are '
              'per 1 / command_rate s, however often end-effector deltas arrive', 1.0, 100.0,
              modes=_A),
    ParamSpec('arm.workspace_min', [-0.5, -0.5, 0.0], 'workspace box minimum [x, y, z] (m) in '
              'the arm base frame', modes=_A),
    ParamSpec('arm.workspace_max', [0.5, 0.5, 0.3], 'workspace box maximum [x, y, z] (m) in '
              'the arm base frame', modes=_A),
    ParamSpec('arm.hold_tolerance', 0.01, 'a joint target this close (rad) to the measured '
              'joints counts as a zero (hold) command for the e-stop reset', 0.0, 0.5, modes=_A),
    ParamSpec('arm.tool_offset', [0.0, 0.0, 0.0], 'tool point [x, y, z] (m) in the flange '
              'frame (set the gripper TCP)', modes=_A),
)

SPECS: Dict[str, ParamSpec] = {s.name: s for s in PARAMS}


def specs_for(mode: str) -> List[ParamSpec]:
    """The parameters the gate declares in `mode`, in declaration order (caps first)."""
    return [s for s in PARAMS if mode in s.modes]


def defaults(mode: str) -> Dict[str, Any]:
    return {s.name: s.default for s in specs_for(mode)}


# --- configs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeSettings:
    """What the node itself uses (not the decision core)."""

    mode: str = 'base'
    rate: float = 50.0
    state_rate: float = 2.0
    time_source: str = 'steady'
    publish_on_input: bool = True


@dataclass(frozen=True)
class BaseHardCaps:
    max_linear_velocity: float = 0.5
    max_angular_velocity: float = 1.0
    max_linear_acceleration: float = 2.0
    max_angular_acceleration: float = 4.0


@dataclass(frozen=True)
class BaseGateConfig:
    """Everything the base gate decides with."""

    supervisor: SupervisorConfig = field(default_factory=SupervisorConfig)
    caps: BaseHardCaps = field(default_factory=BaseHardCaps)
    velocity: VelocityLimits = field(default_factory=VelocityLimits)
    accel: AccelLimits = field(default_factory=AccelLimits)
    deadband_linear: float = 0.01
    deadband_angular: float = 0.01
    period: float = 0.02
    require_odom: bool = True
    odom_timeout: float = 0.5
    require_scan: bool = True
    scan_timeout: float = 0.5
    geofence: Optional[GeofenceConfig] = field(default_factory=GeofenceConfig)
    zones: ScanZoneConfig = field(default_factory=ScanZoneConfig)

    @property
    def odom_required(self) -> bool:
        """The geofence needs a pose: with it enabled, stale odometry always stops."""
        return self.require_odom or self.geofence is not None


@dataclass(frozen=True)
class ArmGateConfig:
    """Everything the arm gate decides with."""

    supervisor: SupervisorConfig = field(default_factory=SupervisorConfig)
    limits: ArmLimits = field(default_factory=ArmLimits)
    max_translation_step_cap: float = 0.01
    max_rotation_step_cap: float = 0.05
    period: float = 0.02
    joint_state_timeout: float = 0.25


GateConfig = Union[BaseGateConfig, ArmGateConfig]


class ConfigError(ValueError):
    """Parameter values that do not make a safe, consistent gate."""


def _floats(values: Sequence[Any]) -> Tuple[float, ...]:
    return tuple(float(v) for v in values)


def build(values: Mapping[str, Any]) -> Tuple[NodeSettings, GateConfig]:
    """Parameter values (name -> value, missing names take defaults) -> validated configs.

    Raises ConfigError listing every problem found.
    """
    mode = str(values.get('mode', 'base'))
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
    v = defaults(mode)
    v.update({k: values[k] for k in values if k in v})
    settings = NodeSettings(mode=mode, rate=float(v['rate']), state_rate=float(v['state_rate']),
                            time_source=str(v['time_source']),
                            publish_on_input=bool(v.get('publish_on_input', False)))
    supervisor = SupervisorConfig(
        command_timeout=float(v['command_timeout']),
        heartbeat_timeout=float(v['heartbeat_timeout']),
        require_heartbeat=bool(v['require_heartbeat']),
        reset_quiet_time=float(v['reset_quiet_time']),
        start_latched=bool(v['start_latched']),
        clock_timeout=float(v['clock_timeout']))
    period = 1.0 / settings.rate if settings.rate > 0 else math.inf
    config: GateConfig
    if mode == 'base':
        polygon = _floats(v['geofence.polygon'])
        config = BaseGateConfig(
            supervisor=supervisor,
            caps=BaseHardCaps(float(v['hard_caps.max_linear_velocity']),
                              float(v['hard_caps.max_angular_velocity']),
                              float(v['hard_caps.max_linear_acceleration']),
                              float(v['hard_caps.max_angular_acceleration'])),
            velocity=VelocityLimits(float(v['limits.max_vel_x_forward']),
                                    float(v['limits.max_vel_x_backward']),
                                    float(v['limits.max_vel_y']),
                                    float(v['limits.max_vel_yaw']),
                                    float(v['limits.max_planar_speed']),
                                    bool(v['limits.preserve_direction'])),
            accel=AccelLimits(float(v['limits.max_accel_x']), float(v['limits.max_decel_x']),
                              float(v['limits.max_accel_y']), float(v['limits.max_decel_y']),
                              float(v['limits.max_accel_yaw']),
                              float(v['limits.max_decel_yaw'])),
            deadband_linear=float(v['limits.deadband_linear']),
            deadband_angular=float(v['limits.deadband_angular']),
            period=period,
            require_odom=bool(v['require_odom']), odom_timeout=float(v['odom_timeout']),
            require_scan=bool(v['require_scan']), scan_timeout=float(v['scan_timeout']),
            geofence=(GeofenceConfig(polygon, float(v['geofence.horizon']),
                                     float(v['geofence.margin']))
                      if v['geofence.enabled'] else None),
            zones=ScanZoneConfig(float(v['footprint.length']), float(v['footprint.width']),
                                 float(v['scan.stop_distance']),
                                 float(v['scan.slowdown_distance']),
                                 float(v['scan.slowdown_ratio']), float(v['scan.laser_x']),
                                 float(v['scan.laser_y']), float(v['scan.laser_yaw']),
                                 str(v['scan.frame_id'])))
    else:
        config = ArmGateConfig(
            supervisor=supervisor,
            limits=ArmLimits(
                model=str(v['arm.model']),
                joint_limit_margin=float(v['arm.joint_limit_margin']),
                joint_velocity_scale=float(v['arm.joint_velocity_scale']),
                max_translation_step=float(v['arm.max_translation_step']),
                max_rotation_step=float(v['arm.max_rotation_step']),
                command_rate=float(v['arm.command_rate']),
                workspace_min=_vec3(v['arm.workspace_min']),
                workspace_max=_vec3(v['arm.workspace_max']),
                hold_tolerance=float(v['arm.hold_tolerance']),
                tool_offset=_vec3(v['arm.tool_offset'])),
            max_translation_step_cap=float(v['hard_caps.max_translation_step']),
            max_rotation_step_cap=float(v['hard_caps.max_rotation_step']),
            period=period,
            joint_state_timeout=float(v['joint_state_timeout']))
    problems = validate(settings, config)
    if problems:
        raise ConfigError('; '.join(problems))
    return settings, config


def _vec3(values: Sequence[Any]) -> Tuple[float, float, float]:
    vals = _floats(values)
    if len(vals) != 3:
        raise ConfigError(f'expected 3 values [x, y, z], got {len(vals)}')
    return (vals[0], vals[1], vals[2])


def _check_ranges(values: Mapping[str, float], problems: List[str]) -> None:
    """The descriptor ranges, checked again here (the core must not rely on rclpy for them)."""
    for name, value in values.items():
        spec = SPECS[name]
        if not math.isfinite(value):
            problems.append(f'{name} must be finite')
            continue
        if spec.min_value is not None and value < spec.min_value:
            problems.append(f'{name}={value} is below {spec.min_value}')
        if spec.max_value is not None and value > spec.max_value:
            problems.append(f'{name}={value} is above {spec.max_value}')


def validate(settings: NodeSettings, config: GateConfig) -> List[str]:
    """Every reason why these configs are not acceptable (empty list when they are)."""
    problems: List[str] = []
    if settings.time_source not in TIME_SOURCES:
        problems.append(f'time_source must be one of {TIME_SOURCES}')
    sup = config.supervisor
    _check_ranges({'rate': settings.rate, 'state_rate': settings.state_rate,
                   'command_timeout': sup.command_timeout,
                   'heartbeat_timeout': sup.heartbeat_timeout,
                   'reset_quiet_time': sup.reset_quiet_time}, problems)
    if settings.rate > 0 and sup.command_timeout < 1.0 / settings.rate:
        problems.append('command_timeout must be at least one tick (1 / rate)')
    if isinstance(config, BaseGateConfig):
        _validate_base(config, problems)
    else:
        _validate_arm(config, problems)
    return problems


def _validate_base(c: BaseGateConfig, problems: List[str]) -> None:
    vel, acc, caps, z = c.velocity, c.accel, c.caps, c.zones
    _check_ranges({
        'hard_caps.max_linear_velocity': caps.max_linear_velocity,
        'hard_caps.max_angular_velocity': caps.max_angular_velocity,
        'hard_caps.max_linear_acceleration': caps.max_linear_acceleration,
        'hard_caps.max_angular_acceleration': caps.max_angular_acceleration,
        'limits.max_vel_x_forward': vel.max_vx_forward,
        'limits.max_vel_x_backward': vel.max_vx_backward,
        'limits.max_vel_y': vel.max_vy, 'limits.max_vel_yaw': vel.max_wz,
        'limits.max_planar_speed': vel.max_planar_speed,
        'limits.deadband_linear': c.deadband_linear,
        'limits.deadband_angular': c.deadband_angular,
        'limits.max_accel_x': acc.accel_x, 'limits.max_decel_x': acc.decel_x,
        'limits.max_accel_y': acc.accel_y, 'limits.max_decel_y': acc.decel_y,
        'limits.max_accel_yaw': acc.accel_wz, 'limits.max_decel_yaw': acc.decel_wz,
        'odom_timeout': c.odom_timeout, 'scan_timeout': c.scan_timeout,
        'footprint.length': z.footprint_length, 'footprint.width': z.footprint_width,
        'scan.stop_distance': z.stop_distance, 'scan.slowdown_distance': z.slowdown_distance,
        'scan.slowdown_ratio': z.slowdown_ratio, 'scan.laser_x': z.laser_x,
        'scan.laser_y': z.laser_y, 'scan.laser_yaw': z.laser_yaw,
    }, problems)
    for name, value, cap in (
            ('limits.max_vel_x_forward', vel.max_vx_forward, caps.max_linear_velocity),
            ('limits.max_vel_x_backward', vel.max_vx_backward, caps.max_linear_velocity),
            ('limits.max_vel_y', vel.max_vy, caps.max_linear_velocity),
            ('limits.max_planar_speed', vel.max_planar_speed, caps.max_linear_velocity),
            ('limits.max_vel_yaw', vel.max_wz, caps.max_angular_velocity),
            ('limits.max_accel_x', acc.accel_x, caps.max_linear_acceleration),
            ('limits.max_decel_x', acc.decel_x, caps.max_linear_acceleration),
            ('limits.max_accel_y', acc.accel_y, caps.max_linear_acceleration),
            ('limits.max_decel_y', acc.decel_y, caps.max_linear_acceleration),
            ('limits.max_accel_yaw', acc.accel_wz, caps.max_angular_acceleration),
            ('limits.max_decel_yaw', acc.decel_wz, caps.max_angular_acceleration)):
        if value > cap:
            problems.append(f'{name}={value} exceeds its hard cap {cap}')
    if z.slowdown_distance < z.stop_distance:
        problems.append('scan.slowdown_distance must be >= scan.stop_distance')
    if c.geofence is not None:
        g = c.geofence
        _check_ranges({'geofence.horizon': g.horizon, 'geofence.margin': g.margin}, problems)
        try:
            Polygon.from_flat(g.polygon)
        except GeofenceError as exc:
            problems.append(f'geofence.polygon: {exc}')


def _validate_arm(c: ArmGateConfig, problems: List[str]) -> None:
    lim = c.limits
    _check_ranges({'joint_state_timeout': c.joint_state_timeout,
                   'hard_caps.max_translation_step': c.max_translation_step_cap,
                   'hard_caps.max_rotation_step': c.max_rotation_step_cap,
                   'arm.joint_limit_margin': lim.joint_limit_margin,
                   'arm.joint_velocity_scale': lim.joint_velocity_scale,
                   'arm.max_translation_step': lim.max_translation_step,
                   'arm.max_rotation_step': lim.max_rotation_step,
                   'arm.command_rate': lim.command_rate,
                   'arm.hold_tolerance': lim.hold_tolerance}, problems)
    if lim.max_translation_step > c.max_translation_step_cap:
        problems.append('arm.max_translation_step exceeds hard_caps.max_translation_step')
    if lim.max_rotation_step > c.max_rotation_step_cap:
        problems.append('arm.max_rotation_step exceeds hard_caps.max_rotation_step')
    if lim.model not in ARM_MODELS:
        # The arm's joints, limits and kinematics all come from this name: refuse at start-up.
        problems.append(f'arm.model {lim.model!r} is not a known arm (supported: '
                        f'{", ".join(sorted(ARM_MODELS))})')
        return
    for i, (lo, hi) in enumerate(zip(lim.arm.lower, lim.arm.upper)):
        if hi - lo <= 2.0 * lim.joint_limit_margin:
            problems.append(f'joint {i}: upper - lower must exceed twice the margin')
    if any(a >= b for a, b in zip(lim.workspace_min, lim.workspace_max)):
        problems.append('arm.workspace_min must be below arm.workspace_max on every axis')
    if not all(math.isfinite(x) for x in lim.workspace_min + lim.workspace_max
               + lim.tool_offset):
        problems.append('workspace and tool offset must be finite')


#: Parameters that may change while the gate runs (everything else is read-only).
RUNTIME = frozenset(s.name for s in PARAMS if not s.read_only)


def with_changes(values: Mapping[str, Any], changes: Mapping[str, Any]) -> Dict[str, Any]:
    """Current values updated by a runtime change; read-only names are refused."""
    refused = [k for k in changes if k not in RUNTIME]
    if refused:
        raise ConfigError('read-only parameter(s): ' + ', '.join(sorted(refused)))
    out = dict(values)
    out.update(changes)
    return out


__all__ = ['ArmGateConfig', 'BaseGateConfig', 'BaseHardCaps', 'ConfigError', 'GateConfig',
           'NodeSettings', 'PARAMS', 'ParamSpec', 'RUNTIME', 'SPECS', 'build', 'defaults',
           'specs_for', 'validate', 'with_changes']
