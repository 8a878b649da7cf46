"""The launch files, evaluated by the real upstream launch / launch_ros (humble, vendored).

Every variant of mobile.launch.py, arm.launch.py and gazebo.launch.py is walked the way the
LaunchService visits it (`vla_testing.launch_tools.expand`: the real DeclareLaunchArgument
checks, OpaqueFunction, includes, conditions), and every launch_ros Node goes through
launch_ros's real substitution and parameter evaluation, the part of `Node.execute` before the
process starts; no process is started (test_launch_service.py runs the stacks). So a parameter
that launch_ros would refuse or mangle (a URDF parsed as YAML, a non-uniform list, a bad node
name) fails here. Each node's resulting command line must equal what `run_stack` starts, and
its effective parameters (parameter files layered like rcl does) are checked.
The plain checks (executables and parameter files exist, parameter-file keys are launched
nodes) need no launch.
"""

import ast
import os
import pathlib
import xml.etree.ElementTree as ET

import pytest
import yaml
from vla_bringup.stacks import (arm_stack, ARM_MODELS, ARM_SIM_CHOICES, DEFAULT_LASER,
                                mobile_stack, ros_args, SIM_CHOICES)

PKG = pathlib.Path(__file__).resolve().parents[1]
SRC = PKG.parent
LAUNCH_FILES = sorted((PKG / 'launch').glob('*.launch.py'))
#: Executables from packages that are not part of this workspace (installed on the target).
EXTERNAL = {('v4l2_camera', 'v4l2_camera_node'), ('ros_gz_sim', 'create'),
            ('ros_gz_bridge', 'parameter_bridge'), DEFAULT_LASER,
            ('robot_state_publisher', 'robot_state_publisher'),
            ('diagnostic_aggregator', 'aggregator_node'), ('rm_driver', 'rm_driver')}


def _console_scripts(package):
    setup = SRC / package / 'setup.py'
    if not setup.exists():
        return set()
    tree = ast.parse(setup.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ' = ' in node.value:
            names.add(node.value.split(' = ')[0].strip())
    return names


def _all_stacks():
    stacks = [mobile_stack(sim=s, voice=v) for s in SIM_CHOICES for v in ('true', 'false')]
    stacks += [arm_stack(arm_model=m, sim=s) for m in ARM_MODELS for s in ARM_SIM_CHOICES]
    return stacks


def test_launch_files_exist_and_parse():
    names = {p.name for p in LAUNCH_FILES}
    assert {'mobile.launch.py', 'arm.launch.py', 'gazebo.launch.py'} <= names
    for path in LAUNCH_FILES:
        tree = ast.parse(path.read_text(), filename=str(path))
        assert any(isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description'
                   for n in tree.body), path


@pytest.mark.parametrize('stack', _all_stacks(), ids=lambda s: f'{s.name}-{s.arguments}')
def test_every_executable_and_param_file_exists(stack):
    for node in stack.nodes:
        if (node.package, node.executable) in EXTERNAL:
            assert node.target_only, f'{node.name} needs a target-only package'
            continue
        assert node.executable in _console_scripts(node.package), \
            f'{node.package} has no executable {node.executable}'
        for pf in node.param_files:
            if pf.package:
                assert (SRC / pf.package / pf.path).is_file(), f'missing {pf}'


def test_node_names_in_parameter_files_match_launched_nodes():
    launched = {n.name for s in _all_stacks() for n in s.nodes}
    for path in sorted((PKG / 'config').glob('*.yaml')):
        data = yaml.safe_load(path.read_text()) or {}
        if 'ros__parameters' in str(data) and path.name not in ('gz_bridge.yaml',):
            for key in data:
                assert key == '/**' or key.lstrip('/') in launched, \
                    f'{path.name}: {key} is not a launched node'


# --- the launch files under the real launch / launch_ros -------------------------------------

OPTIONAL = ('robot_state_publisher', 'diagnostic_aggregator')


@pytest.fixture
def rsp_installed(tmp_path, monkeypatch):
    """Register the optional nodes' packages in a temporary ament index.

    Launch starts optional nodes (robot_state_publisher, diagnostic_aggregator) only where
    their package is installed; these tests only evaluate the nodes (no process starts), so
    the registration is all they need.
    """
    marker = tmp_path / 'share' / 'ament_index' / 'resource_index' / 'packages'
    marker.mkdir(parents=True)
    for package in OPTIONAL:
        (marker / package).write_text('')
    monkeypatch.setenv('AMENT_PREFIX_PATH', f'{tmp_path}:{os.environ["AMENT_PREFIX_PATH"]}')


def _launch(name):
    from vla_testing.launch_tools import find_launch_file
    return find_launch_file('vla_bringup', name)


def _expand(name, arguments, target_only=()):
    from vla_testing.launch_tools import expand
    return expand(_launch(name), arguments, target_only)


def _assert_same_as_runner(expansion, stack):
    """Launch starts exactly the stack's nodes, with run_stack's arguments and parameters."""
    from vla_testing.launch_tools import parameters_from_args

    assert [n.name for n in expansion.nodes] == [n.name for n in stack.nodes]
    for resolved, spec in zip(expansion.nodes, stack.nodes):
        assert (resolved.package, resolved.executable) == (spec.package, spec.executable)
        assert resolved.remappings == list(spec.remappings)
        if spec.target_only:
            continue
        runner = ros_args(spec)
        files = [a for i, a in enumerate(runner) if i and runner[i - 1] == '--params-file']
        launched_files = [a for i, a in enumerate(resolved.ros_args)
                          if i and resolved.ros_args[i - 1] == '--params-file']
        assert launched_files[:len(files)] == files, spec.name
        assert resolved.parameters == parameters_from_args(runner, spec.name, ''), spec.name


@pytest.mark.parametrize('voice', ['', 'true', 'false'])
@pytest.mark.parametrize('sim', ['mujoco', 'false'])
def test_mobile_launch_matches_the_stack(launch_overlay, rsp_installed, sim, voice, tmp_path):
    user = tmp_path / 'user.yaml'
    user.write_text('policy_node:\n  ros__parameters:\n    queue_threshold: 4\n')
    args = {'sim': sim, 'model': '/ck', 'params_file': str(user), 'voice': voice}
    expansion = _expand('mobile.launch.py', args)
    stack = mobile_stack(**args)
    _assert_same_as_runner(expansion, stack)
    policy = expansion.node('policy_node').parameters
    assert policy['model_path'] == '/ck' and policy['queue_threshold'] == 4
    assert policy['action_space'] == 'base'
    gate = expansion.node('safety_gate').parameters
    assert gate['mode'] == 'base' and gate['use_sim_time'] is (sim == 'mujoco')
    names = [n.name for n in expansion.nodes]
    assert ('mic_capture' in names) is (voice == 'true' or (voice == '' and sim == 'false'))
    instruction = expansion.node('instruction_node').parameters
    if voice:
        assert instruction['voice_enabled'] is (voice == 'true')
    from vla_bringup.runner import transport_profile
    assert expansion.environment['FASTDDS_DEFAULT_PROFILES_FILE'] == transport_profile()
    # Every node's /diagnostics ("<node>: <task>") lands in one group of the aggregator.
    analyzers = expansion.node('analyzers').parameters
    prefixes = [p for k, v in analyzers.items() if k.endswith('.startswith') for p in v]
    for node in stack.runnable_here():
        assert sum(node.name.startswith(p) for p in prefixes) == 1, node.name


def _urdf(text):
    robot = ET.fromstring(text)
    assert robot.tag == 'robot'
    return robot


def test_robot_state_publisher_gets_the_urdf_as_a_string(launch_overlay, rsp_installed):
    """Command(xacro) output goes through launch_ros's evaluation typed as a string."""
    for sim in ('mujoco', 'false'):
        rsp = _expand('mobile.launch.py', {'sim': sim}).node('robot_state_publisher')
        urdf = _urdf(rsp.parameters['robot_description'])
        joints = {j.get('name'): j.find('parent').get('link') for j in urdf.findall('joint')}
        assert joints['camera_joint'] == joints['laser_joint'] == 'base_link'
        assert urdf.find('gazebo') is None
        assert rsp.parameters['use_sim_time'] is (sim == 'mujoco')


def test_optional_node_without_its_package_is_skipped_and_logged(launch_overlay):
    expansion = _expand('mobile.launch.py', {'sim': 'mujoco'})
    assert 'robot_state_publisher' not in [n.name for n in expansion.nodes]
    assert 'robot_state_publisher is not installed: robot_state_publisher is not started' \
        in expansion.log
    assert 'diagnostic_aggregator is not installed: analyzers is not started' in expansion.log
    assert [n.name for n in expansion.nodes] == [
        n.name for n in mobile_stack(sim='mujoco').runnable_here()]


def test_hardware_drivers(launch_overlay, rsp_installed):
    expansion = _expand('mobile.launch.py', {'sim': 'false'})
    laser = expansion.node('laser')
    assert (laser.package, laser.executable) == DEFAULT_LASER
    assert laser.parameters['frame_id'] == 'laser' and laser.parameters['serial_port']
    camera = expansion.node('camera')
    assert camera.parameters['camera_frame_id'] == 'camera_optical_frame'
    assert ('image_raw', 'camera/image_raw') in camera.remappings
    other = _expand('mobile.launch.py', {'sim': 'false', 'laser_package': 'urg_node',
                                         'laser_executable': 'urg_node_driver'})
    assert (other.node('laser').package, other.node('laser').executable) == (
        'urg_node', 'urg_node_driver')
    assert 'base_driver' in [n.name for n in expansion.nodes]
    assert expansion.node('base_driver').parameters['backend'] == 'serial'
    offload = _expand('mobile.launch.py', {'sim': 'false', 'policy': 'false'})
    assert 'policy_node' not in [n.name for n in offload.nodes]


def test_gazebo_launch(launch_overlay, rsp_installed):
    expansion = _expand('gazebo.launch.py', {}, target_only=('ros_gz_sim',))
    assert expansion.external_includes == ['ros_gz_sim']
    rsp = expansion.node('robot_state_publisher')
    urdf = _urdf(rsp.parameters['robot_description'])
    assert urdf.find("gazebo/plugin[@name='ignition::gazebo::systems::MecanumDrive']") \
        is not None
    assert rsp.parameters['use_sim_time'] is True
    bridge = expansion.node('gz_bridge')
    config = pathlib.Path(bridge.parameters['config_file'])
    topics = {e['ros_topic_name']: e for e in yaml.safe_load(config.read_text())}
    assert {'cmd_vel', 'odom', 'scan', 'camera/image_raw', '/clock', '/tf',
            'joint_states'} <= set(topics)
    assert topics['cmd_vel']['direction'] == 'ROS_TO_GZ'
    assert expansion.configurations['world'] == 'navigation_1box.sdf'
    assert (PKG / 'worlds' / expansion.configurations['world']).is_file()
    assert {(n.package, n.executable) for n in expansion.nodes} <= EXTERNAL
    with_stack = _expand('mobile.launch.py', {'sim': 'gazebo'}, target_only=('ros_gz_sim',))
    assert [n.name for n in with_stack.nodes][:3] == ['robot_state_publisher', 'spawn_vla_base',
                                                      'gz_bridge']
    _assert_same_as_runner_tail(with_stack, mobile_stack(sim='gazebo'))


def _assert_same_as_runner_tail(expansion, stack):
    tail = type(expansion)(nodes=expansion.nodes[-len(stack.nodes):])
    _assert_same_as_runner(tail, stack)


def test_a_urdf_parameter_without_value_type_str_is_refused(launch_overlay):
    """The bug class this file guards against: launch_ros YAML-parses substitution output."""
    from launch import LaunchContext
    from launch.substitutions import Command
    from launch_ros.parameter_descriptions import ParameterValue
    from launch_ros.utilities import evaluate_parameters, normalize_parameters
    from vla_bringup.stacks import MOBILE_BASE_URDF

    command = Command(' '.join(MOBILE_BASE_URDF.command()))
    with pytest.raises(Exception):
        evaluate_parameters(LaunchContext(),
                            normalize_parameters([{'robot_description': command}]))
    typed = evaluate_parameters(LaunchContext(), normalize_parameters(
        [{'robot_description': ParameterValue(command, value_type=str)}]))
    assert _urdf(typed[0]['robot_description']).get('name') == 'mobile_base'


@pytest.mark.parametrize('sim', ARM_SIM_CHOICES)
@pytest.mark.parametrize('model', ARM_MODELS)
def test_arm_launch_matches_the_stack(launch_overlay, rsp_installed, model, sim):
    args = {'arm_model': model, 'sim': sim, 'voice': 'false'}
    expansion = _expand('arm.launch.py', args)
    _assert_same_as_runner(expansion, arm_stack(**args))
    assert expansion.node('realman_bridge').parameters['arm_model'] == model
    gate = expansion.node('safety_gate').parameters
    assert gate['mode'] == 'arm' and gate['arm.model'] == model
    assert gate['use_sim_time'] is (sim == 'mujoco')
    assert gate.get('start_latched', False) is (sim == 'false')
    names = [n.name for n in expansion.nodes]
    if sim == 'false':
        driver = expansion.node('rm_driver').parameters
        assert driver['arm_type'] == {'RM65': 'RM_65', 'RM75': 'RM_75', 'GEN72': 'GEN_72'}[model]
        assert driver['arm_dof'] == (6 if model == 'RM65' else 7)
        assert driver['arm_ip'] and driver['udp_port'] == 8089
        assert ('image_raw', 'camera/image_raw') in expansion.node('camera').remappings
        assert 'mic_capture' in [n.name for n in _expand('arm.launch.py', {}).nodes]
        assert 'arm_sim' not in names
    else:
        assert expansion.node('arm_sim').parameters['arm_model'] == model
        assert {'rm_driver', 'camera', 'mic_capture'}.isdisjoint(names)


def test_arm_launch_sim_task_and_seed(launch_overlay, rsp_installed):
    args = {'arm_model': 'GEN72', 'sim': 'mujoco', 'task': 'red_cup_left', 'seed': '4'}
    expansion = _expand('arm.launch.py', args)
    _assert_same_as_runner(expansion, arm_stack(arm_model='GEN72', sim='mujoco',
                                                task='red_cup_left', seed=4))
    sim = expansion.node('arm_sim').parameters
    assert (sim['task'], sim['seed'], sim['use_sim_time']) == ('red_cup_left', 4, True)
    with pytest.raises(Exception, match='webots'):
        _expand('arm.launch.py', {'sim': 'webots'})


@pytest.mark.parametrize('bad', [{'sim': 'webots'}, {'sim': 'mujoco', 'voice': 'maybe'}])
def test_bad_launch_arguments_are_refused(launch_overlay, bad):
    with pytest.raises(Exception, match='webots|maybe'):
        _expand('mobile.launch.py', bad)
