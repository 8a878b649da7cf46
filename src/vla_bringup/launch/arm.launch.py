"""RealMan arm stack: driver or simulator, VLA policy (arm), arm safety gate, RealMan bridge.

    ros2 launch vla_bringup arm.launch.py arm_model:=RM75                 # the real arm
    ros2 launch vla_bringup arm.launch.py sim:=mujoco task:=blue_block_tray seed:=3

`sim:=false` starts RealMan's rm_driver (ros2_rm_robot, with its config for the model) and a
camera driver; `sim:=mujoco` starts arm_sim, which speaks the driver's topics. Either way the
bridge maps the gate's `arm_cmd` to `/rm_driver/movep_canfd_cmd` / `movej_canfd_cmd`
(rm_ros_interfaces, radians) and the gripper to `set_gripper_position_cmd`; only the e-stop
reaches `/rm_driver/move_stop_cmd`. The node list comes from vla_bringup.stacks.arm_stack
(the same description `run_stack` uses on machines without `launch`).
"""

from vla_bringup.launch_support import node_actions, stack_launch_description
from vla_bringup.stacks import ARM_MODELS, ARM_SIM_CHOICES, arm_stack

ARGUMENTS = (
    ('arm_model', 'RM75', 'RealMan arm model: RM65, RM75 or GEN72', ARM_MODELS),
    ('sim', 'false', 'mujoco (arm_sim) or false for the real arm', ARM_SIM_CHOICES),
    ('model', '', 'policy checkpoint directory (empty: the shipped arm model)'),
    ('params_file', '', 'extra parameter file layered over the defaults'),
    ('use_sim_time', '', 'use /clock (default: true for mujoco, false otherwise)'),
    ('voice', '', "start mic_capture (voice instructions): true, false, '' = true on the "
     'real arm (sim:=false), false in the simulator'),
    ('task', '', 'mujoco: tabletop task of the first episode, e.g. blue_block_tray'),
    ('seed', '', 'mujoco: placement seed of the first episode'),
    ('policy', 'true', 'start the policy node (false: arm_cmd_in comes from elsewhere, e.g. '
     'the scripted expert or another host)'),
)


def _actions(values):
    seed = values.pop('seed')
    return node_actions(arm_stack(seed=int(seed) if seed else None, **values))


def generate_launch_description():
    return stack_launch_description(ARGUMENTS, _actions)
