"""Declarative descriptions of the stacks: one source of truth for launch files and the runner.

A stack is a list of NodeSpec: which executable, under which node name and namespace, with which
parameter files (layered: the node's own defaults, the stack's overrides, the user's file),
parameters and remappings. `mobile.launch.py` / `arm.launch.py` turn a StackSpec into launch_ros
Node actions on the target; `run_stack` turns the same StackSpec into processes here.
This module imports neither rclpy nor launch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

SIM_CHOICES = ('mujoco', 'gazebo', 'false')
ARM_SIM_CHOICES = ('mujoco', 'false')
#: The arm models of the shared table (vla_common.arm_models), in documentation order.
ARM_MODELS = ('RM65', 'RM75', 'GEN72')
#: The laser driver of `sim:=false` unless `laser_package`/`laser_executable` say otherwise:
#: Slamtec's ROS 2 driver for RPLIDAR A1/A2/A3/S1/S2 (apt ros-humble-sllidar-ros2 or source).
DEFAULT_LASER = ('sllidar_ros2', 'sllidar_node')


@dataclass(frozen=True)
class ParamFile:
    """A parameter file inside a package's share directory (or an absolute path)."""

    package: str
    path: str

    def resolve(self) -> str:
        """Absolute path (needs the package installed, i.e. ament_index)."""
        if not self.package:
            return self.path
        from ament_index_python.packages import get_package_share_directory

        import os
        return os.path.join(get_package_share_directory(self.package), self.path)


@dataclass(frozen=True)
class XacroFile:
    """A parameter whose value is `xacro <package share>/<path> name:=value ...` (a URDF).

    Launch evaluates it at start-up as a string (`ParameterValue(Command(...), value_type=str)`:
    launch_ros would otherwise parse the URDF text as YAML).
    """

    package: str
    path: str
    arguments: Tuple[Tuple[str, str], ...] = ()

    def command(self) -> List[str]:
        """The xacro command line (needs the package installed)."""
        return (['xacro', ParamFile(self.package, self.path).resolve()]
                + [f'{k}:={v}' for k, v in self.arguments])


def diagnostics_aggregator(sim_time: bool, user: Tuple[ParamFile, ...]) -> NodeSpec:
    """diagnostic_aggregator grouping every node's /diagnostics (optional, target only)."""
    return NodeSpec('analyzers', 'diagnostic_aggregator', 'aggregator_node',
                    (ParamFile('vla_bringup', 'config/diagnostic_aggregator.yaml'),) + user,
                    target_only=True, optional=True).with_parameters(use_sim_time=sim_time)


#: The mobile base's URDF (camera_link, camera_optical_frame and laser under base_link).
MOBILE_BASE_URDF = XacroFile('mobile_base', 'urdf/mobile_base.urdf.xacro')


@dataclass(frozen=True)
class NodeSpec:
    """One node of a stack."""

    name: str
    package: str
    executable: str
    param_files: Tuple[ParamFile, ...] = ()
    parameters: Tuple[Tuple[str, object], ...] = ()
    remappings: Tuple[Tuple[str, str], ...] = ()
    namespace: str = ''
    #: only on the target (needs packages that do not exist on the dev machine)
    target_only: bool = False
    #: launch starts it only where its package is installed and logs that it skipped it
    #: otherwise (visualisation aids; never a driver or anything on the command path)
    optional: bool = False

    def with_parameters(self, **params: object) -> 'NodeSpec':
        merged = dict(self.parameters)
        merged.update(params)
        return dataclasses.replace(self, parameters=tuple(merged.items()))

    def with_param_file(self, param_file: ParamFile) -> 'NodeSpec':
        return dataclasses.replace(self, param_files=self.param_files + (param_file,))


@dataclass(frozen=True)
class StackSpec:
    """A whole stack: nodes plus the arguments it was built from."""

    name: str
    nodes: Tuple[NodeSpec, ...]
    arguments: Dict[str, str] = field(default_factory=dict)

    def node(self, name: str) -> NodeSpec:
        for spec in self.nodes:
            if spec.name == name:
                return spec
        raise KeyError(f'stack {self.name!r} has no node {name!r}')

    def runnable_here(self) -> List[NodeSpec]:
        return [n for n in self.nodes if not n.target_only]


def _own_defaults(package: str, executable: str) -> ParamFile:
    return ParamFile(package, f'config/{executable}.param.yaml')


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', '1', 'yes', 'on'):
        return True
    if text in ('false', '0', 'no', 'off', ''):
        return False
    raise ValueError(f'not a boolean: {value!r}')


VoiceNodes = Tuple[List[NodeSpec], Dict[str, object]]


def _front_end(nodes: List[NodeSpec], spec, voice: Optional[object], sim: str,
               instruction_node: bool, sim_time: bool, user) -> List[NodeSpec]:
    """Append the operator front-end (instruction node, microphones when `voice`) and the
    diagnostics aggregator to `nodes`; returns the microphone nodes."""
    mics, voice_params = _voice_nodes(voice, sim == 'false', spec)
    if instruction_node:
        nodes.append(spec('instruction_node', 'vla_instruction',
                          'instruction_node').with_parameters(**voice_params))
        nodes += mics
    nodes.append(diagnostics_aggregator(sim_time, user))
    return mics


def _voice_nodes(voice: Optional[object], default: bool, spec_of) -> VoiceNodes:
    """`mic_capture` when voice resolves true; instruction_node's voice_enabled when explicit.

    voice '' / None: the stack's default (true on hardware, false in simulators) decides
    whether the microphone is captured; instruction_node keeps its own `voice_enabled`.
    """
    explicit = voice not in (None, '')
    enabled = _bool(voice) if explicit else default
    nodes = [spec_of('mic_capture', 'vla_instruction', 'mic_capture')] if enabled else []
    return nodes, ({'voice_enabled': enabled} if explicit else {})


def mobile_stack(sim: str = 'mujoco', model: str = '', params_file: str = '',
                 use_sim_time: Optional[object] = None, scenario: str = '',
                 seed: Optional[int] = None, instruction_node: bool = True,
                 voice: Optional[object] = None, policy: object = True,
                 laser_package: str = '', laser_executable: str = '') -> StackSpec:
    """The mobile robot: sim or base driver, policy (base), safety gate, instruction node.

    sim: 'mujoco' (runs here), 'gazebo' (target: Ignition Fortress, started by gazebo.launch.py,
    bridged by ros_gz_bridge) or 'false' (real hardware: base_driver, a camera driver and a
    laser driver, `laser_package`/`laser_executable`, default DEFAULT_LASER).
    model: checkpoint directory for the policy; empty means the policy node's configured default.
    voice: true/false/'' ('' = true on hardware, false in simulators): start `mic_capture`.
    policy: false leaves the policy out (it runs on another machine: docs/jetson.md, offload).
    robot_state_publisher (target only) publishes the URDF's fixed frames in the mujoco and
    hardware stacks; gazebo.launch.py starts its own.
    """
    if sim not in SIM_CHOICES:
        raise ValueError(f'sim must be one of {SIM_CHOICES}, got {sim!r}')
    if sim != 'false' and (laser_package or laser_executable):
        raise ValueError('laser_package/laser_executable apply to sim:=false only')
    # Simulators stamp everything with /clock time, so their stacks run on sim time.
    sim_time = (_bool(use_sim_time) if use_sim_time not in (None, '')
                else sim in ('mujoco', 'gazebo'))
    overrides = ParamFile('vla_bringup', 'config/mobile.param.yaml')
    user = (ParamFile('', params_file),) if params_file else ()

    def spec(name: str, package: str, executable: str, **kw: object) -> NodeSpec:
        node = NodeSpec(name, package, executable,
                        (_own_defaults(package, executable), overrides) + user, **kw)
        return node.with_parameters(use_sim_time=sim_time)

    nodes: List[NodeSpec] = []
    if sim == 'mujoco':
        sim_node = spec('mujoco_sim', 'mobile_base', 'mujoco_sim')
        extra: Dict[str, object] = {}
        if scenario:
            extra['scenario'] = scenario
        if seed is not None:
            extra['seed'] = int(seed)
        nodes.append(sim_node.with_parameters(**extra) if extra else sim_node)
    elif sim == 'false':
        nodes.append(spec('base_driver', 'mobile_base', 'base_driver'))
        nodes.append(NodeSpec('camera', 'v4l2_camera', 'v4l2_camera_node',
                              (overrides,) + user,
                              remappings=(('image_raw', 'camera/image_raw'),
                                          ('camera_info', 'camera/camera_info')),
                              target_only=True))
        nodes.append(NodeSpec('laser', laser_package or DEFAULT_LASER[0],
                              laser_executable or DEFAULT_LASER[1], (overrides,) + user,
                              target_only=True))
    # sim == 'gazebo': the simulator, its bridge and robot_state_publisher come from
    # gazebo.launch.py.
    if sim in ('mujoco', 'false'):
        nodes.append(NodeSpec('robot_state_publisher', 'robot_state_publisher',
                              'robot_state_publisher', (overrides,) + user,
                              target_only=True, optional=True).with_parameters(
                                  robot_description=MOBILE_BASE_URDF, use_sim_time=sim_time))
    gate = spec('safety_gate', 'vla_safety', 'safety_gate').with_parameters(mode='base')
    if sim == 'false':
        # Hardware: the gate starts latched (STARTUP); nothing moves after a (re)start until an
        # operator runs `reset_estop` (docs/safety.md). Simulators start armed.
        gate = gate.with_parameters(start_latched=True)
    if sim_time:
        # Watchdogs on /clock: a simulator running faster than real time must not trip them.
        gate = gate.with_parameters(time_source='ros')
    nodes.append(gate)
    if _bool(policy):
        nodes.append(spec('policy_node', 'vla_policy_node', 'policy_node').with_parameters(
            action_space='base', model_path=model or default_model_path()))
    mics = _front_end(nodes, spec, voice, sim, instruction_node, sim_time, user)
    args = {'sim': sim, 'model': model, 'params_file': params_file,
            'use_sim_time': str(sim_time).lower(), 'voice': str(bool(mics)).lower()}
    return StackSpec('mobile', tuple(nodes), args)


def arm_stack(arm_model: str = 'RM75', sim: str = 'false', model: str = '',
              params_file: str = '', use_sim_time: Optional[object] = None,
              voice: Optional[object] = None, task: str = '', seed: Optional[int] = None,
              instruction_node: bool = True, policy: object = True) -> StackSpec:
    """RealMan arm: driver or simulator, camera, policy (arm), arm safety gate, the bridge to
    the RealMan driver's topics, instruction node.

    sim: 'false' (the real arm: RealMan's rm_driver with its config for `arm_model` and a
    camera driver, both target only; the gate starts latched, STARTUP) or 'mujoco' (arm_sim:
    the same driver topics, a scene and a wrist camera, /clock; task/seed of its first
    episode). model: policy checkpoint directory; empty means the shipped arm model
    (models/nano_arm) when it exists, else the policy node's configured default.
    voice: true/false/'' ('' = true on hardware, false in the simulator): start `mic_capture`.
    policy: false leaves the policy out (it runs elsewhere, or the scripted expert stands in
    for it: vla_learning's arm collection).
    """
    if arm_model not in ARM_MODELS:
        raise ValueError(f'arm_model must be one of {ARM_MODELS}, got {arm_model!r}')
    if sim not in ARM_SIM_CHOICES:
        raise ValueError(f'sim must be one of {ARM_SIM_CHOICES}, got {sim!r}')
    # The simulator stamps everything with /clock time, so its stack runs on sim time.
    sim_time = (_bool(use_sim_time) if use_sim_time not in (None, '') else sim == 'mujoco')
    overrides = ParamFile('vla_bringup', 'config/arm.param.yaml')
    user = (ParamFile('', params_file),) if params_file else ()

    def spec(name: str, package: str, executable: str, own: Optional[ParamFile] = None,
             **kw: object) -> NodeSpec:
        own = own or _own_defaults(package, executable)
        return NodeSpec(name, package, executable, (own, overrides) + user,
                        **kw).with_parameters(use_sim_time=sim_time)

    nodes: List[NodeSpec] = []
    if sim == 'mujoco':
        extra: Dict[str, object] = {'arm_model': arm_model}
        if task:
            extra['task'] = task
        if seed is not None:
            extra['seed'] = int(seed)
        nodes.append(spec('arm_sim', 'arm_sim', 'arm_sim').with_parameters(**extra))
    else:
        # RealMan's driver (ros2_rm_robot): its connection settings from arm.param.yaml (the
        # keys of its rm_<model>_config.yaml), arm_type/arm_dof from the model table.
        from vla_common.arm_models import arm_model as model_of

        table = model_of(arm_model)
        nodes.append(NodeSpec('rm_driver', 'rm_driver', 'rm_driver', (overrides,) + user,
                              target_only=True).with_parameters(
                                  arm_type=table.driver_type, arm_dof=table.dof))
        nodes.append(NodeSpec('camera', 'v4l2_camera', 'v4l2_camera_node', (overrides,) + user,
                              remappings=(('image_raw', 'camera/image_raw'),
                                          ('camera_info', 'camera/camera_info')),
                              target_only=True))
    gate = spec('safety_gate', 'vla_safety', 'safety_gate',
                ParamFile('vla_safety', 'config/safety_gate_arm.param.yaml')).with_parameters(
                    mode='arm', **{'arm.model': arm_model})
    if sim == 'false':
        gate = gate.with_parameters(start_latched=True)   # hardware: see mobile_stack
    if sim_time:
        # Watchdogs on /clock: a simulator running faster than real time must not trip them.
        gate = gate.with_parameters(time_source='ros')
    nodes.append(gate)
    if _bool(policy):
        node = spec('policy_node', 'vla_policy_node', 'policy_node').with_parameters(
            action_space='arm')
        chosen = model or default_arm_model_path()
        nodes.append(node.with_parameters(model_path=chosen) if chosen else node)
    nodes.append(spec('realman_bridge', 'vla_bringup', 'realman_bridge',
                      ParamFile('vla_bringup', 'config/realman_bridge.param.yaml')
                      ).with_parameters(arm_model=arm_model))
    mics = _front_end(nodes, spec, voice, sim, instruction_node, sim_time, user)
    args = {'arm_model': arm_model, 'sim': sim, 'model': model, 'params_file': params_file,
            'use_sim_time': str(sim_time).lower(), 'voice': str(bool(mics)).lower()}
    return StackSpec('arm', tuple(nodes), args)


STACKS = {'mobile': mobile_stack, 'arm': arm_stack}

#: The shipped default base policy, relative to vla_bringup's share directory.
DEFAULT_MODEL = 'models/nano_base'
#: The shipped default arm policy, relative to vla_bringup's share directory.
DEFAULT_ARM_MODEL = 'models/nano_arm'


def default_model_path() -> str:
    """Absolute path of the shipped default base policy checkpoint."""
    return ParamFile('vla_bringup', DEFAULT_MODEL).resolve()


def default_arm_model_path() -> str:
    """Absolute path of the shipped default arm policy checkpoint ('' until one is shipped)."""
    import os

    path = ParamFile('vla_bringup', DEFAULT_ARM_MODEL).resolve()
    return path if os.path.isfile(os.path.join(path, 'config.json')) else ''


def build_stack(name: str, **arguments: object) -> StackSpec:
    """Build a stack by name from launch-style arguments (`sim='mujoco'`, ...)."""
    if name not in STACKS:
        raise ValueError(f'unknown stack {name!r}; known: {sorted(STACKS)}')
    return STACKS[name](**arguments)  # type: ignore[arg-type]


def resolved_parameters(spec: NodeSpec) -> Dict[str, object]:
    """The parameters `spec` starts with, as the node sees them: each parameter file in order
    (its `/**` and node-name sections; nested keys joined with '.'), then the explicit ones.
    Needs the packages installed (the files are resolved through ament_index)."""
    import yaml
    from vla_common.params import flatten_parameters

    values: Dict[str, object] = {}
    for pf in spec.param_files:
        with open(pf.resolve(), encoding='utf-8') as f:
            data = yaml.safe_load(f) or {}
        for section in ('/**', spec.name, '/' + spec.name):
            params = (data.get(section) or {}).get('ros__parameters') or {}
            flatten_parameters(params, values)
    values.update(dict(spec.parameters))
    return values


def write_params_file(path: str, nodes: Mapping[str, Mapping[str, object]]) -> str:
    """A user parameter file (`params_file` of a stack): {node name: {parameter: value}}."""
    import yaml

    data = {name: {'ros__parameters': dict(params)} for name, params in nodes.items()}
    with open(path, 'w', encoding='utf-8') as f:
        yaml.safe_dump(data, f, sort_keys=False, allow_unicode=True)
    return path


def ros_args(spec: NodeSpec) -> List[str]:
    """The `--ros-args ...` command-line tail that starts `spec` like launch_ros would."""
    args = ['--ros-args', '-r', f'__node:={spec.name}']
    if spec.namespace:
        args += ['-r', f'__ns:={spec.namespace}']
    for pf in spec.param_files:
        args += ['--params-file', pf.resolve()]
    for key, value in spec.parameters:
        args += ['-p', f'{key}:={_param_literal(value)}']
    for src, dst in spec.remappings:
        args += ['-r', f'{src}:={dst}']
    return args


def _param_literal(value: object) -> str:
    if isinstance(value, XacroFile):
        raise TypeError('a robot description is expanded by launch (xacro at start-up); '
                        'its node is target-only and not started by run_stack')
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        # YAML-quote so that strings like "true" or "1" stay strings.
        return "'" + value.replace("'", "''") + "'" if value else "''"
    return str(value)
