"""arm_sim as a real node process: rm_driver's topics, messages, units and bad-input rules."""

import math
import pathlib
import time

import pytest
from ament_index_python.packages import get_package_prefix, get_package_share_directory
from geometry_msgs.msg import Pose
from rm_ros_interfaces.msg import Cartepos, Gripperset, Jointpos
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger
from vla_common.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from vla_msgs.msg import ArmCommand, ArmEpisodeResult, Instruction, TaskResult
from vla_msgs.srv import StartEpisode
from vla_testing.ros import call_service, MessageCollector, wait_for, wait_for_subscribers

from arm_sim.nodes.arm_sim import DRIVER_PUB_QOS, DRIVER_SUB_QOS

PREFIX = pathlib.Path(get_package_prefix('arm_sim'))
SHARE = pathlib.Path(get_package_share_directory('arm_sim'))


def arm_sim(*params):
    return [str(PREFIX / 'lib' / 'arm_sim' / 'arm_sim'), '--ros-args', '--params-file',
            str(SHARE / 'config' / 'arm_sim.param.yaml')] + [
        a for p in params for a in ('-p', p)]


def jointpos(values, dof):
    msg = Jointpos()
    msg.joint = [float(v) for v in values]
    msg.dof = dof
    return msg


@pytest.mark.stack
def test_arm_sim_speaks_the_driver_interface(ros, node_processes):
    sim = node_processes(arm_sim('task:=blue_block_tray', 'seed:=2', 'realtime_factor:=2.0'),
                         'arm_sim')
    sim.wait_for_output('arm_sim ready', timeout=90.0)
    node = ros.create_node('arm_probe')
    joints = MessageCollector(node, JointState, 'joint_states', DRIVER_PUB_QOS)
    pose = MessageCollector(node, Pose, 'rm_driver/udp_arm_position', DRIVER_PUB_QOS)
    images = MessageCollector(node, Image, 'camera/image_raw', SENSOR_QOS)
    wrist = MessageCollector(node, Image, 'wrist_camera/image_raw', SENSOR_QOS)
    results = MessageCollector(node, ArmEpisodeResult, 'arm_sim/episode_result', LATCHED_QOS)
    stops = MessageCollector(node, Bool, 'rm_driver/move_stop_result', DRIVER_SUB_QOS)
    grips = MessageCollector(node, Bool, 'rm_driver/set_gripper_position_result',
                             DRIVER_SUB_QOS)
    clock = MessageCollector(node, Clock, '/clock')
    movej = node.create_publisher(Jointpos, 'rm_driver/movej_canfd_cmd', DRIVER_SUB_QOS)
    movep = node.create_publisher(Cartepos, 'rm_driver/movep_canfd_cmd', DRIVER_SUB_QOS)
    stop = node.create_publisher(Bool, 'rm_driver/move_stop_cmd', DRIVER_SUB_QOS)
    gripper = node.create_publisher(Gripperset, 'rm_driver/set_gripper_position_cmd',
                                    DRIVER_SUB_QOS)
    instruction = node.create_publisher(Instruction, 'instruction', LATCHED_QOS)

    first = results.wait(1, timeout=20.0)
    assert (first.task, first.seed, first.outcome, first.started) == (
        'blue_block_tray', 2, ArmEpisodeResult.OUTCOME_RUNNING, False)
    js = joints.wait(1, timeout=20.0)
    assert list(js.name) == [f'joint{i}' for i in range(1, 8)]
    assert len(js.position) == 7 and len(js.velocity) == 0 and len(js.effort) == 0
    assert js.header.frame_id == '' and (js.header.stamp.sec or js.header.stamp.nanosec)
    home = pose.wait(1, timeout=10.0)
    assert (home.position.x, home.position.y, home.position.z) == pytest.approx(
        (0.30, 0.0, 0.25), abs=3e-3)
    for stream in (images, wrist):
        img = stream.wait(1, timeout=20.0)
        assert (img.width, img.height, img.encoding) == (224, 224, 'rgb8')
    clock.wait(2, timeout=10.0)

    # An instruction starts the episode's clock.
    wait_for_subscribers(instruction, 1, timeout=20.0)
    instruction.publish(Instruction(id='ins-1', text='파란 블록을 집어서 쟁반에 넣으세요'))
    results.wait(1, predicate=lambda m: m.started, timeout=20.0)

    # movej_canfd_cmd in radians: joint1 goes to the target.
    q0 = list(joints.last.position)
    wait_for_subscribers(movej, 1, timeout=20.0)
    target = [q0[0] + 0.2] + q0[1:]
    movej.publish(jointpos(target, 7))
    joints.wait(1, predicate=lambda m: abs(m.position[0] - target[0]) < 0.01, timeout=20.0)
    assert joints.last.position[0] == pytest.approx(target[0] * 0.01745 * 180 / math.pi,
                                                    abs=0.01)

    # Bad input: ignored with the driver's error, the arm stays, the node lives on.
    here = list(joints.last.position)
    for bad in (jointpos(here[:6], 7), jointpos(here, 6),
                jointpos(here[:6] + [math.nan], 7), jointpos([here[0], 2.5] + here[2:], 7)):
        movej.publish(bad)
    bad_pose = Cartepos()
    bad_pose.pose.position.x = math.nan
    bad_pose.pose.orientation.w = 1.0
    movep.publish(bad_pose)
    results.wait(1, predicate=lambda m: m.commands_ignored >= 5, timeout=20.0)
    assert joints.last.position[1] == pytest.approx(here[1], abs=0.01)
    assert 'Movej CANFD error code is' in sim.output()

    # movep_canfd_cmd: the controller's inverse kinematics moves the tool point.
    p = pose.last
    goal = Cartepos()
    goal.pose.position.x, goal.pose.position.y = p.position.x + 0.03, p.position.y
    goal.pose.position.z = p.position.z - 0.02
    goal.pose.orientation = p.orientation
    movep.publish(goal)
    pose.wait(1, predicate=lambda m: abs(m.position.x - goal.pose.position.x) < 0.003
              and abs(m.position.z - goal.pose.position.z) < 0.003, timeout=20.0)

    # Gripper: 1..1000 accepted, 0 refused.
    wait_for_subscribers(gripper, 1, timeout=20.0)
    gripper.publish(Gripperset(position=1))
    gripper.publish(Gripperset(position=0))
    grips.wait(2, timeout=20.0)
    assert [m.data for m in grips.messages[:2]] == [True, False]

    # move_stop_cmd: the trajectory emergency stop brakes a motion and drops its target.
    q1 = list(joints.last.position)
    t_far = time.monotonic()
    movej.publish(jointpos([q1[0] - 1.0] + q1[1:], 7))
    joints.wait(1, predicate=lambda m: m.position[0] < q1[0] - 0.05, timeout=20.0,
                since=t_far)
    stop.publish(Bool(data=False))       # the driver stops on true and on false alike
    assert stops.wait(1, timeout=20.0).data is True
    stopped = results.wait(1, predicate=lambda m: m.hard_stops == 1, timeout=20.0)
    assert stopped.hard_stops == 1
    at_stop = joints.last.position[0]
    clock.clear()
    clock.wait(150, timeout=30.0)        # 1.5 s of sim time
    assert joints.last.position[0] == pytest.approx(at_stop, abs=0.05)
    assert joints.last.position[0] > q1[0] - 0.9

    # The episode ends when the policy says so; the simulator only judges.
    end = call_service(node, Trigger, 'arm_sim/end_episode', Trigger.Request(), timeout=30.0)
    assert end.success and 'failed' in end.message
    final = results.wait(1, predicate=lambda m: m.outcome != 0, timeout=20.0)
    assert (final.outcome, final.ended_by, final.placed) == (
        ArmEpisodeResult.OUTCOME_FAILED, 'policy', False)

    bad = call_service(node, StartEpisode, 'arm_sim/start_episode',
                       StartEpisode.Request(scenario='purple_cup_left', seed=0), timeout=30.0)
    assert not bad.success and 'unknown arm task' in bad.message
    ok = call_service(node, StartEpisode, 'arm_sim/start_episode',
                      StartEpisode.Request(scenario='reach_blue_block', seed=5), timeout=30.0)
    assert ok.success, ok.message
    results.wait(1, predicate=lambda m: m.task == 'reach_blue_block' and m.outcome == 0
                 and not m.started, timeout=20.0)

    # The policy node's TaskResult DONE for the episode's instruction ends it too (the one of
    # an earlier instruction does not).
    task_result = node.create_publisher(TaskResult, 'policy_node/task_result', LATCHED_QOS)
    instruction.publish(Instruction(id='ins-2', text='파란 블록 위로 손을 옮기세요'))
    results.wait(1, predicate=lambda m: m.task == 'reach_blue_block' and m.started,
                 timeout=20.0)
    wait_for_subscribers(task_result, 1, timeout=20.0)
    task_result.publish(TaskResult(instruction_id='ins-1', result=TaskResult.RESULT_DONE))
    clock.clear()
    clock.wait(30, timeout=30.0)
    assert results.last.outcome == ArmEpisodeResult.OUTCOME_RUNNING
    task_result.publish(TaskResult(instruction_id='ins-2', result=TaskResult.RESULT_DONE))
    done = results.wait(1, predicate=lambda m: m.task == 'reach_blue_block' and m.outcome != 0,
                        timeout=20.0)
    assert (done.outcome, done.ended_by) == (ArmEpisodeResult.OUTCOME_FAILED, 'policy')
    wait_for(lambda: sim.alive, timeout=1.0, what='arm_sim alive')


@pytest.mark.stack
def test_lockstep_on_the_policys_command_waits_for_the_policy_not_for_the_gate(
        ros, node_processes):
    """`lockstep_topic: arm_cmd_in`: only the policy's own command releases sim time; the
    driver commands the gate forwards do not (the gate may decide to forward nothing)."""
    sim = node_processes(arm_sim('realtime_factor:=0.0', 'lockstep:=true',
                                 'lockstep_topic:=arm_cmd_in', 'lockstep_timeout:=30.0',
                                 'lockstep_max_lag:=0.1', 'camera_rate:=0.0'), 'arm_sim')
    sim.wait_for_output('arm_sim ready', timeout=90.0)
    node = ros.create_node('pace_probe')
    ticks = []        # (wall, sim time) of each /clock
    node.create_subscription(Clock, '/clock', lambda m: ticks.append(
        (time.monotonic(), m.clock.sec + m.clock.nanosec * 1e-9)), 10)
    pose = MessageCollector(node, Pose, 'rm_driver/udp_arm_position', DRIVER_PUB_QOS)
    movep = node.create_publisher(Cartepos, 'rm_driver/movep_canfd_cmd', DRIVER_SUB_QOS)
    policy = node.create_publisher(ArmCommand, 'arm_cmd_in', COMMAND_QOS)
    wait_for_subscribers(policy, 1, timeout=20.0)
    wait_for_subscribers(movep, 1, timeout=20.0)

    # The policy is silent: the simulation holds, whatever reaches the driver's topics.
    wait_for(lambda: ticks and time.monotonic() - ticks[-1][0] > 1.0, 60.0,
             what='lockstep to hold the simulation')
    held = ticks[-1][1]
    point = Cartepos(follow=False)
    point.pose = pose.wait(1, timeout=10.0)
    z0 = point.pose.position.z
    point.pose.position.z = z0 - 0.005
    for _ in range(10):
        movep.publish(point)
        time.sleep(0.1)
    assert ticks[-1][1] == held
    # Each command of the policy releases one lag's worth of sim time.
    policy.publish(ArmCommand(mode=ArmCommand.MODE_END_EFFECTOR_DELTA))
    wait_for(lambda: ticks[-1][1] > held + 0.05, 20.0, what='the policy to release sim time')
    time.sleep(1.0)
    assert held + 0.05 < ticks[-1][1] < held + 0.25
    # The driver command still moved the arm (it is applied; it just paces nothing).
    assert pose.last.position.z < z0 - 0.002
