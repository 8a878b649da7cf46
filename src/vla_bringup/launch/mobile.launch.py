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
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from vla_bringup.launch_support import node_actions, stack_launch_description
from vla_bringup.stacks import mobile_stack, SIM_CHOICES

ARGUMENTS = (
    ('sim', 'mujoco', 'simulator: mujoco, gazebo, or false for the real robot', SIM_CHOICES),
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


def _actions(values):
    actions = node_actions(mobile_stack(**values))
    if values['sim'] == 'gazebo':
        gazebo = os.path.join(get_package_share_directory('vla_bringup'), 'launch',
                              'gazebo.launch.py')
        actions.insert(0, IncludeLaunchDescription(PythonLaunchDescriptionSource(gazebo)))
    return actions


def generate_launch_description():
    return stack_launch_description(ARGUMENTS, _actions)
