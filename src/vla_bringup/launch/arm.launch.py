"""RealMan arm stack: VLA policy (arm), arm safety gate, bridge to the RealMan ROS 2 driver.

    ros2 launch vla_bringup arm.launch.py arm_model:=RM75 model:=/path/to/checkpoint

Start the RealMan driver first (`ros2 launch rm_driver rm_75_driver.launch.py` from
ros2_rm_robot); the bridge maps the gate's `arm_cmd` to `/rm_driver/movej_canfd_cmd`
(rm_ros_interfaces/Jointpos, radians) / `/rm_driver/movep_canfd_cmd` and a fault to
`/rm_driver/move_stop_cmd`; the driver's `/joint_states` feeds the policy and the gate.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from vla_bringup.launch_support import node_actions, transport_environment
from vla_bringup.stacks import ARM_MODELS, arm_stack

ARGUMENTS = (
    ('arm_model', 'RM75', 'RealMan arm model: RM65, RM75 or GEN72'),
    ('model', '', 'policy checkpoint directory (empty: the policy_node default)'),
    ('params_file', '', 'extra parameter file layered over the defaults'),
    ('use_sim_time', 'false', 'use /clock'),
    ('voice', '', "start mic_capture (voice instructions): true, false, '' = true"),
)


def _launch_setup(context, *args, **kwargs):
    values = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    return node_actions(arm_stack(**values))


def generate_launch_description():
    declared = [DeclareLaunchArgument(name, default_value=default, description=desc)
                for name, default, desc in ARGUMENTS]
    declared[0] = DeclareLaunchArgument('arm_model', default_value='RM75',
                                        choices=list(ARM_MODELS), description=ARGUMENTS[0][2])
    return LaunchDescription(declared + transport_environment(SetEnvironmentVariable)
                             + [OpaqueFunction(function=_launch_setup)])
