"""Ignition Gazebo Fortress (ROS 2 Humble, x86) world with the mecanum base and the bridge.

    ros2 launch vla_bringup gazebo.launch.py world:=navigation_1box.sdf

Starts gz sim with a navigation world, publishes the robot description (mobile_base's URDF
expanded by xacro with use_gazebo:=true: MecanumDrive system with odometry TF, joint state
publisher, camera and gpu_lidar sensors, mecanum wheel friction), spawns it with ros_gz_sim,
and bridges /clock, cmd_vel, odom, /tf, joint_states, scan and the camera with ros_gz_bridge
(config/gz_bridge.yaml). mobile.launch.py sim:=gazebo includes this file and adds the policy,
safety gate and instruction nodes.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare
from vla_bringup.launch_support import launch_value
from vla_bringup.stacks import MOBILE_BASE_URDF, XacroFile


def generate_launch_description():
    bringup = get_package_share_directory('vla_bringup')
    # Resolved when the include runs (ros_gz_sim is installed on the Gazebo workstation only).
    gz_sim = PathJoinSubstitution([FindPackageShare('ros_gz_sim'), 'launch', 'gz_sim.launch.py'])
    description = XacroFile(MOBILE_BASE_URDF.package, MOBILE_BASE_URDF.path,
                            (('use_gazebo', 'true'),))
    world = PathJoinSubstitution([bringup, 'worlds', LaunchConfiguration('world')])
    return LaunchDescription([
        DeclareLaunchArgument('world', default_value='navigation_1box.sdf',
                              description='world file in vla_bringup/worlds'),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(gz_sim),
                                 launch_arguments={'gz_args': ['-r ', world]}.items()),
        Node(package='robot_state_publisher', executable='robot_state_publisher',
             name='robot_state_publisher',
             parameters=[{'robot_description': launch_value(description),
                          'use_sim_time': True}],
             output='screen'),
        Node(package='ros_gz_sim', executable='create', name='spawn_vla_base', output='screen',
             arguments=['-name', 'vla_base', '-topic', 'robot_description',
                        '-x', '0', '-y', '0', '-z', '0.08']),
        Node(package='ros_gz_bridge', executable='parameter_bridge', name='gz_bridge',
             output='screen',
             parameters=[{'config_file': os.path.join(bringup, 'config', 'gz_bridge.yaml'),
                          'use_sim_time': True}]),
    ])
