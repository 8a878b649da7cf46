"""Parameters of the gate: the frozen configs the gate decides with, whose parameter fields
take their parameter (name, default, description, range, read-only, hard cap) from the table
`vla_safety/data/gate_parameters.yaml` (`spec.declared_in_table`), the table the node
declares (`PARAMS`, collected from those fields), building the configs from parameter values,
and their validation.

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
from .spec import (collect, ConfigError, declared_in_table, field_values, from_values, MODES,
                   ParamSpec, switched)
from .watchdog import SupervisorConfig

TIME_SOURCES = ('steady', 'ros')


# --- configs ------------------------------------------------------------------------------------
# A field without a value is a parameter: its default, description and range are its entry in
# data/gate_parameters.yaml (`declared_in_table`). Fields with a value are sections or derived.
@dataclass(frozen=True)
@declared_in_table
class NodeSettings:
    """What the node itself uses (not the decision core)."""

    mode: str
    rate: float
    state_rate: float
    time_source: str
    publish_on_input: bool


@dataclass(frozen=True)
@declared_in_table
class BaseHardCaps:
    """Read-only bounds of the runtime-settable base limits."""

    max_linear_velocity: float
    max_angular_velocity: float
    max_linear_acceleration: float
    max_angular_acceleration: float


@dataclass(frozen=True)
@declared_in_table
class BaseGateConfig:
    """Everything the base gate decides with."""

    supervisor: SupervisorConfig = field(default_factory=SupervisorConfig)
    caps: BaseHardCaps = field(default_factory=BaseHardCaps)
    velocity: VelocityLimits = field(default_factory=VelocityLimits)
    deadband_linear: float
    deadband_angular: float
    accel: AccelLimits = field(default_factory=AccelLimits)
    period: float = 0.02
    require_odom: bool
    odom_timeout: float
    require_scan: bool
    scan_timeout: float
    geofence: Optional[GeofenceConfig] = switched(GeofenceConfig)
    zones: ScanZoneConfig = field(default_factory=ScanZoneConfig)

    @property
    def odom_required(self) -> bool:
        """The geofence needs a pose: with it enabled, stale odometry always stops."""
        return self.require_odom or self.geofence is not None


@dataclass(frozen=True)
@declared_in_table
class ArmGateConfig:
    """Everything the arm gate decides with."""

    supervisor: SupervisorConfig = field(default_factory=SupervisorConfig)
    joint_state_timeout: float
    max_translation_step_cap: float
    max_rotation_step_cap: float
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
