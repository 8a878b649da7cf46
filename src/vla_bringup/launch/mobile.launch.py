"""Mobile robot stack: simulator or base driver, VLA policy (base), safety gate, instruction node.

    ros2 launch vla_bringup mobile.launch.py sim:=mujoco model:=/path/to/checkpoint
    ros2 launch vla_bringup mobile.launch.py sim:=gazebo      # Ignition Fortress (x86 Humble)
    ros2 launch vla_bringup mobile.launch.py sim:=false       # the real base, camera, lidar
    ros2 launch vla_bringup mobile.launch.py sim:=false policy:=false   # policy elsewhere

The node list comes from vla_bringup.stacks.mobile_stack (the same description `run_stack`
uses on machines without `launch`).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction,
                            SetEnvironmentVariable)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from vla_bringup.launch_support import node_actions, transport_environment
from vla_bringup.stacks import mobile_stack, SIM_CHOICES

ARGUMENTS = (
    ('sim', 'mujoco', 'simulator: mujoco, gazebo, or false for the real robot'),
    ('model', '', 'policy checkpoint directory (empty: the policy_node default)'),
    ('params_file', '', 'extra parameter file layered over the defaults'),
    ('use_sim_time', '', 'use /clock (default: true for gazebo, false otherwise)'),
    ('scenario', '', 'mujoco: navigation scenario, e.g. 1box_vert_left'),
    ('voice', '', "start mic_capture (voice instructions): true, false, '' = true on the "
     'robot (sim:=false), false in simulators'),
    ('policy', 'true', 'false: no policy_node (it runs on another machine, same domain)'),
    ('laser_package', '', 'sim:=false: package of the laser driver (default sllidar_ros2)'),
    ('laser_executable', '', 'sim:=false: executable of the laser driver (default sllidar_node)'),
)


def _launch_setup(context, *args, **kwargs):
    values = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    stack = mobile_stack(**values)
    actions = node_actions(stack)
    if values['sim'] == 'gazebo':
        gazebo = os.path.join(get_package_share_directory('vla_bringup'), 'launch',
                              'gazebo.launch.py')
        actions.insert(0, IncludeLaunchDescription(PythonLaunchDescriptionSource(gazebo)))
    return actions


def generate_launch_description():
    declared = [DeclareLaunchArgument(name, default_value=default, description=desc)
                for name, default, desc in ARGUMENTS]
    declared[0] = DeclareLaunchArgument('sim', default_value='mujoco', choices=list(SIM_CHOICES),
                                        description=ARGUMENTS[0][2])
    return LaunchDescription(declared + transport_environment(SetEnvironmentVariable)
                             + [OpaqueFunction(function=_launch_setup)])
