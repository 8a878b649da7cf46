"""Stack descriptions: the node lists, parameter layering and --ros-args they produce."""

import pytest
from vla_bringup.stacks import (arm_stack, build_stack, DEFAULT_LASER, mobile_stack,
                                MOBILE_BASE_URDF, NodeSpec, ParamFile, ros_args)


def test_mobile_mujoco_nodes_and_layering():
    stack = mobile_stack(sim='mujoco', model='/m', scenario='1box_vert_left', seed=3)
    assert [n.name for n in stack.nodes] == ['mujoco_sim', 'robot_state_publisher',
                                             'safety_gate', 'policy_node', 'instruction_node',
                                             'analyzers']
    assert [n.name for n in stack.runnable_here()] == ['mujoco_sim', 'safety_gate',
                                                       'policy_node', 'instruction_node']
    sim = stack.node('mujoco_sim')
    assert dict(sim.parameters) == {'use_sim_time': True, 'scenario': '1box_vert_left',
                                    'seed': 3}
    assert dict(stack.node('safety_gate').parameters)['time_source'] == 'ros'
    assert dict(mobile_stack(sim='false').node('safety_gate').parameters).get(
        'time_source') is None
    policy = stack.node('policy_node')
    assert dict(policy.parameters)['model_path'] == '/m'
    assert dict(policy.parameters)['action_space'] == 'base'
    assert policy.param_files[0] == ParamFile('vla_policy_node', 'config/policy_node.param.yaml')
    assert policy.param_files[1] == ParamFile('vla_bringup', 'config/mobile.param.yaml')
    assert dict(stack.node('safety_gate').parameters)['mode'] == 'base'


def test_hardware_gates_start_latched_simulators_armed():
    assert dict(mobile_stack(sim='false').node('safety_gate').parameters)['start_latched']
    assert dict(arm_stack().node('safety_gate').parameters)['start_latched']
    for sim in ('mujoco', 'gazebo'):
        assert 'start_latched' not in dict(mobile_stack(sim=sim).node('safety_gate').parameters)


def test_mobile_real_robot_and_gazebo():
    real = mobile_stack(sim='false')
    assert {n.name for n in real.nodes} >= {'base_driver', 'camera', 'safety_gate'}
    assert [n.name for n in real.nodes if n.target_only] == ['camera', 'laser',
                                                             'robot_state_publisher',
                                                             'analyzers']
    assert [n.name for n in real.nodes if n.optional] == ['robot_state_publisher',
                                                          'analyzers']
    assert (real.node('laser').package, real.node('laser').executable) == DEFAULT_LASER
    assert [n.name for n in real.runnable_here()] == ['base_driver', 'safety_gate',
                                                      'policy_node', 'instruction_node',
                                                      'mic_capture']
    rsp = real.node('robot_state_publisher')
    assert dict(rsp.parameters)['robot_description'] == MOBILE_BASE_URDF
    with pytest.raises(TypeError, match='xacro'):
        ros_args(rsp)
    laser = mobile_stack(sim='false', laser_package='urg_node', laser_executable='urg_node_driver')
    assert laser.node('laser').package == 'urg_node'
    with pytest.raises(ValueError, match='sim:=false'):
        mobile_stack(sim='mujoco', laser_package='urg_node')
    offload = mobile_stack(sim='false', policy='false', voice='false')
    assert [n.name for n in offload.runnable_here()] == ['base_driver', 'safety_gate',
                                                         'instruction_node']
    gz = mobile_stack(sim='gazebo')
    assert not {'mujoco_sim', 'base_driver'} & {n.name for n in gz.nodes}
    assert all(dict(n.parameters)['use_sim_time'] is True for n in gz.nodes)


def test_user_params_file_is_layered_last(tmp_path):
    user = tmp_path / 'mine.yaml'
    stack = mobile_stack(params_file=str(user))
    for node in stack.nodes:
        assert node.param_files[-1] == ParamFile('', str(user))


@pytest.mark.parametrize('bad', [dict(sim='webots'), dict(use_sim_time='maybe')])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        mobile_stack(**bad)


def test_voice_starts_the_microphone():
    sim = mobile_stack(sim='mujoco')
    assert 'mic_capture' not in [n.name for n in sim.nodes]
    assert 'voice_enabled' not in dict(sim.node('instruction_node').parameters)
    voice = mobile_stack(sim='mujoco', voice='true')
    mic = voice.node('mic_capture')
    assert (mic.package, mic.executable) == ('vla_instruction', 'mic_capture')
    assert dict(voice.node('instruction_node').parameters)['voice_enabled'] is True
    quiet = mobile_stack(sim='false', voice='false')
    assert 'mic_capture' not in [n.name for n in quiet.nodes]
    assert dict(quiet.node('instruction_node').parameters)['voice_enabled'] is False
    assert 'mic_capture' in [n.name for n in arm_stack().nodes]


def test_arm_stack():
    stack = arm_stack(arm_model='RM65', model='/ck', voice='false')
    assert [n.name for n in stack.runnable_here()] == ['safety_gate', 'policy_node',
                                                       'realman_bridge', 'instruction_node']
    assert stack.nodes[-1].package == 'diagnostic_aggregator'
    assert dict(stack.node('realman_bridge').parameters)['arm_model'] == 'RM65'
    assert dict(stack.node('safety_gate').parameters)['mode'] == 'arm'
    with pytest.raises(ValueError):
        arm_stack(arm_model='UR5')
    with pytest.raises(ValueError):
        build_stack('boat')


def test_ros_args_like_launch_ros():
    spec = NodeSpec('gate', 'vla_safety', 'safety_gate', (ParamFile('', '/a.yaml'),),
                    (('mode', 'base'), ('rate', 50.0), ('on', True), ('empty', '')),
                    (('cmd_vel', 'wheels/cmd_vel'),), namespace='robot1')
    assert ros_args(spec) == [
        '--ros-args', '-r', '__node:=gate', '-r', '__ns:=robot1', '--params-file', '/a.yaml',
        '-p', "mode:='base'", '-p', 'rate:=50.0', '-p', 'on:=true', '-p', "empty:=''",
        '-r', 'cmd_vel:=wheels/cmd_vel']
