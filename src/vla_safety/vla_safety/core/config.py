"""Parameters of the gate: the frozen configs the gate decides with, each field declaring the
parameter that sets it (`spec.param`: name, default, description, range, read-only), the
table the node declares (`PARAMS`, collected from those fields), building the configs from
parameter values, and their validation.

The node declares exactly this table (through `vla_common.params.declare`), and the shipped
`config/safety_gate*.param.yaml` files are checked against it by the tests, so defaults live
in one place. Read-only parameters are structure and hard caps: they only come from a
parameter file. The runtime-settable ones are bounded by read-only hard caps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from vla_common.arm_models import ARM_MODELS

from .arm import ArmLimits
from .geofence import GeofenceConfig, GeofenceError, Polygon
from .limits import AccelLimits, VelocityLimits
from .scan_zones import ScanZoneConfig
from .spec import (collect, ConfigError, field_values, from_values, MODES, param, ParamSpec,
                   switch)
from .watchdog import SupervisorConfig

TIME_SOURCES = ('steady', 'ros')


# --- configs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeSettings:
    """What the node itself uses (not the decision core)."""

    mode: str = param('mode', 'base', "gate mode: 'base' (Twist cmd_vel_in -> cmd_vel) or 'arm' "
                      '(ArmCommand arm_cmd_in -> arm_cmd)')
    rate: float = param('rate', 50.0, 'output timer rate (Hz); the gate publishes at this rate, '
                        'always', 5.0, 500.0)
    state_rate: float = param('state_rate', 2.0, 'rate (Hz) of the periodic ~/state and '
                              '/diagnostics (~/state is also published on every change)', 0.1,
                              50.0)
    time_source: str = param('time_source', 'steady', "clock of the watchdogs: 'steady' "
                             '(monotonic; a stalled /clock cannot freeze them) or '
                             "'ros' (node clock, follows use_sim_time)")
    publish_on_input: bool = param('publish_on_input', True, 'also gate and publish each command '
                                   'as it arrives (lower latency; arm: end-effector deltas, '
                                   'whose step caps are per command, not per tick); the '
                                   'fixed-rate output continues regardless')


@dataclass(frozen=True)
class BaseHardCaps:
    """Read-only bounds of the runtime-settable base limits."""

    max_linear_velocity: float = param('hard_caps.max_linear_velocity', 0.5, 'hard cap (m/s) on '
                                       'every linear velocity limit', 0.0, 5.0)
    max_angular_velocity: float = param('hard_caps.max_angular_velocity', 1.0, 'hard cap (rad/s) '
                                        'on the yaw rate limit', 0.0, 10.0)
    max_linear_acceleration: float = param('hard_caps.max_linear_acceleration', 2.0, 'hard cap '
                                           '(m/s^2) on the linear acceleration/deceleration '
                                           'limits', 0.01, 20.0)
    max_angular_acceleration: float = param('hard_caps.max_angular_acceleration', 4.0, 'hard cap '
                                            '(rad/s^2) on the yaw acceleration/deceleration '
                                            'limits', 0.01, 40.0)


@dataclass(frozen=True)
class BaseGateConfig:
    """Everything the base gate decides with."""

    supervisor: SupervisorConfig = field(default_factory=SupervisorConfig)
    caps: BaseHardCaps = field(default_factory=BaseHardCaps)
    velocity: VelocityLimits = field(default_factory=VelocityLimits)
    deadband_linear: float = param('limits.deadband_linear', 0.01, 'linear components below this '
                                   '(m/s) are zeroed', 0.0, 0.1, runtime=True)
    deadband_angular: float = param('limits.deadband_angular', 0.01, 'yaw rate below this '
                                    '(rad/s) is zeroed', 0.0, 0.2, runtime=True)
    accel: AccelLimits = field(default_factory=AccelLimits)
    period: float = 0.02
    require_odom: bool = param('require_odom', True, 'stop while odometry is stale (always '
                               'required when the geofence is enabled)')
    odom_timeout: float = param('odom_timeout', 0.5, 'odometry older than this (s) is stale',
                                0.02, 5.0)
    require_scan: bool = param('require_scan', True, 'stop while the laser scan is stale')
    scan_timeout: float = param('scan_timeout', 0.5, 'scan older than this (s) is stale', 0.02,
                                5.0)
    geofence: Optional[GeofenceConfig] = switch('geofence.enabled', True, 'clip motion leaving '
                                                'the geofence polygon', GeofenceConfig)
    zones: ScanZoneConfig = field(default_factory=ScanZoneConfig)

    @property
    def odom_required(self) -> bool:
        """The geofence needs a pose: with it enabled, stale odometry always stops."""
        return self.require_odom or self.geofence is not None


@dataclass(frozen=True)
class ArmGateConfig:
    """Everything the arm gate decides with."""

    supervisor: SupervisorConfig = field(default_factory=SupervisorConfig)
    joint_state_timeout: float = param('joint_state_timeout', 0.25, 'joint states older than '
                                       'this (s) -> stop', 0.02, 5.0)
    max_translation_step_cap: float = param('hard_caps.max_translation_step', 0.01, 'hard cap (m '
                                            'per command at arm.command_rate) on '
                                            'arm.max_translation_step', 0.0, 0.1)
    max_rotation_step_cap: float = param('hard_caps.max_rotation_step', 0.05, 'hard cap (rad per '
                                         'command at arm.command_rate) on arm.max_rotation_step',
                                         0.0, 0.5)
    limits: ArmLimits = field(default_factory=ArmLimits)
    period: float = 0.02


GateConfig = Union[BaseGateConfig, ArmGateConfig]

#: The parameters of each mode: those of the node settings and of the mode's gate config, in
#: declaration order (a hard cap before the limits it bounds).
PARAMS: Tuple[ParamSpec, ...] = collect({'base': (NodeSettings, BaseGateConfig),
                                         'arm': (NodeSettings, ArmGateConfig)})

SPECS: Dict[str, ParamSpec] = {s.name: s for s in PARAMS}


def specs_for(mode: str) -> List[ParamSpec]:
    """The parameters the gate declares in `mode`, in declaration order (caps first)."""
    return [s for s in PARAMS if mode in s.modes]


def defaults(mode: str) -> Dict[str, Any]:
    return {s.name: s.default for s in specs_for(mode)}


def build(values: Mapping[str, Any]) -> Tuple[NodeSettings, GateConfig]:
    """Parameter values (name -> value, missing names take defaults) -> validated configs.

    Raises ConfigError listing every problem found.
    """
    mode = str(values.get('mode', 'base'))
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
    v = defaults(mode)
    v.update({k: values[k] for k in values if k in v})
    settings = from_values(NodeSettings, v, mode=mode)
    period = 1.0 / settings.rate if settings.rate > 0 else math.inf
    config: GateConfig = from_values(BaseGateConfig if mode == 'base' else ArmGateConfig, v,
                                     period=period)
    problems = validate(settings, config)
    if problems:
        raise ConfigError('; '.join(problems))
    return settings, config


def _check_ranges(config: Any, problems: List[str]) -> None:
    """The descriptor ranges and hard caps of every parameter field, checked again here (the
    core must not rely on rclpy for them)."""
    values = {spec.name: value for spec, value in field_values(config)}
    for spec, value in field_values(config):
        if spec.min_value is None and spec.max_value is None and spec.max_from is None:
            continue
        name = spec.name
        if not math.isfinite(value):
            problems.append(f'{name} must be finite')
            continue
        if spec.min_value is not None and value < spec.min_value:
            problems.append(f'{name}={value} is below {spec.min_value}')
        if spec.max_value is not None and value > spec.max_value:
            problems.append(f'{name}={value} is above {spec.max_value}')
        if spec.max_from is not None and value > values[spec.max_from]:
            problems.append(f'{name}={value} exceeds its hard cap {spec.max_from}='
                            f'{values[spec.max_from]}')


def validate(settings: NodeSettings, config: GateConfig) -> List[str]:
    """Every reason why these configs are not acceptable (empty list when they are)."""
    problems: List[str] = []
    if settings.time_source not in TIME_SOURCES:
        problems.append(f'time_source must be one of {TIME_SOURCES}')
    _check_ranges(settings, problems)
    _check_ranges(config, problems)
    if settings.rate > 0 and config.supervisor.command_timeout < 1.0 / settings.rate:
        problems.append('command_timeout must be at least one tick (1 / rate)')
    if isinstance(config, BaseGateConfig):
        _validate_base(config, problems)
    else:
        _validate_arm(config, problems)
    return problems


def _validate_base(c: BaseGateConfig, problems: List[str]) -> None:
    if c.zones.slowdown_distance < c.zones.stop_distance:
        problems.append('scan.slowdown_distance must be >= scan.stop_distance')
    if c.geofence is not None:
        try:
            Polygon.from_flat(c.geofence.polygon)
        except GeofenceError as exc:
            problems.append(f'geofence.polygon: {exc}')


def _validate_arm(c: ArmGateConfig, problems: List[str]) -> None:
    lim = c.limits
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
