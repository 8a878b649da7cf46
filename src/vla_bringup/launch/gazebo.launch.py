"""Ignition Gazebo Fortress (ROS 2 Humble, x86) world with the mecanum base and the bridge.

    ros2 launch vla_bringup gazebo.launch.py world:=navigation_1box.sdf

Starts gz sim with a navigation world, publishes the robot description (mobile_base's URDF
expanded with use_gazebo:=true: MecanumDrive system, camera and gpu_lidar sensors),
spawns it with ros_gz_sim, and bridges /clock, cmd_vel, odom, scan and the camera with
ros_gz_bridge (config/gz_bridge.yaml). mobile.launch.py sim:=gazebo includes this file and
adds the policy, safety gate and instruction nodes.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import Command, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node


def generate_launch_description():
    bringup = get_package_share_directory('vla_bringup')
    gz_sim = os.path.join(get_package_share_directory('ros_gz_sim'), 'launch',
                          'gz_sim.launch.py')
    urdf = os.path.join(get_package_share_directory('mobile_base'), 'urdf',
                        'mobile_base.urdf.xacro')
    description = Command(['xacro ', urdf, ' use_gazebo:=true'])
    world = PathJoinSubstitution([bringup, 'worlds', LaunchConfiguration('world')])
    return LaunchDescription([
        DeclareLaunchArgument('world', default_value='navigation_1box.sdf',
                              description='world file in vla_bringup/worlds'),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(gz_sim),
                                 launch_arguments={'gz_args': ['-r ', world]}.items()),
        Node(package='robot_state_publisher', executable='robot_state_publisher',
             parameters=[{'robot_description': description, 'use_sim_time': True}],
             output='screen'),
        Node(package='ros_gz_sim', executable='create', output='screen',
             arguments=['-name', 'vla_base', '-topic', 'robot_description',
                        '-x', '0', '-y', '0', '-z', '0.08']),
        Node(package='ros_gz_bridge', executable='parameter_bridge', output='screen',
             parameters=[{'config_file': os.path.join(bringup, 'config', 'gz_bridge.yaml'),
                          'use_sim_time': True}]),
    ])
