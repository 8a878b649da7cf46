"""`arm_sim`: a MuJoCo RealMan arm at a table that speaks RealMan rm_driver's ROS interface.

Consumes what rm_driver consumes (relative names, as the driver's):
  rm_driver/movej_canfd_cmd (rm_ros_interfaces/Jointpos, rad), rm_driver/movep_canfd_cmd
  (rm_ros_interfaces/Cartepos), rm_driver/move_stop_cmd (std_msgs/Bool),
  rm_driver/set_gripper_position_cmd (rm_ros_interfaces/Gripperset);
publishes what it publishes: joint_states (sensor_msgs/JointState: joint1..N, rad, the
driver's 0.01745 degree factor), rm_driver/udp_arm_position (geometry_msgs/Pose, tool pose),
rm_driver/move_stop_result and rm_driver/set_gripper_position_result (std_msgs/Bool);
plus the simulator's own: camera/image_raw (scene camera) and wrist_camera/image_raw (224x224
rgb8), arm_sim/episode_result (vla_msgs/ArmEpisodeResult), /clock, /diagnostics; services
arm_sim/start_episode (vla_msgs/StartEpisode: task + seed) and arm_sim/end_episode
(std_srvs/Trigger: the policy ended its task; the verdict is taken now). An `instruction`
starts the episode's time limit; the policy node's `policy_node/task_result` saying DONE for
the episode's latest instruction ends the episode like `end_episode` (the policy ended its
task; the simulator only judges). Bad driver input is what the real driver would not act on:
ignored, with an ERROR log in the driver's words (arm_sim.core.driver); never a crash.

The simulation thread, /clock, pacing, lockstep, episode requests and shutdown come from
vla_common.sim_node.SimulationNode. Lockstep waits for the driver's motion commands
(movej/movep_canfd_cmd), or with `lockstep_topic: arm_cmd_in` for the policy's own command
before the safety gate: then the simulation waits for a slow policy, never for what the gate
decided not to forward (docs/arm.md, "Lockstep").
"""

from __future__ import annotations

import math
import threading
from typing import Any, List, Optional, Tuple

from geometry_msgs.msg import Point, Pose
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger
from vla_common import topics
from vla_common.arm_models import ARM_MODELS
from vla_common.node_main import run_node
from vla_common.params import declare
from vla_common.qos import COMMAND_QOS, keep_last, LATCHED_QOS, SENSOR_QOS
from vla_common.sim_node import simulation_factory, SimulationNode, TICK_RATE
from vla_common.stamps import time_msg
from vla_msgs.msg import ArmCommand, ArmEpisodeResult, Instruction, TaskResult
from vla_msgs.srv import StartEpisode

from arm_sim.core.driver import (check_jointpos, check_pose, CommandError, DEGREE_RAD,
                                 gripper_opening, JointTarget, unreachable)
from arm_sim.core.judge import Verdict
from vla_common.arm_verdict import OUTCOME_CODES, OUTCOME_RUNNING
from arm_sim.core.scene import make_scene
from arm_sim.sim.mjcf import SCENE_CAMERA, WRIST_CAMERA

#: rm_driver's QoS: publishers rclcpp::QoS(10) (reliable, volatile), command subscriptions
#: rclcpp::ParametersQoS() (reliable, depth 1000).
DRIVER_PUB_QOS = keep_last(10, ReliabilityPolicy.RELIABLE)
DRIVER_SUB_QOS = keep_last(1000, ReliabilityPolicy.RELIABLE)
WRIST_IMAGE = 'wrist_camera/image_raw'
EPISODE_RESULT = '~/episode_result'
END_EPISODE = '~/end_episode'
#: How the policy node says an instruction ended (vla_msgs/TaskResult).
TASK_RESULT = 'policy_node/task_result'


def _import_rm_interfaces():
    try:
        from rm_ros_interfaces.msg import Cartepos, Gripperset, Jointpos
    except ImportError as exc:
        raise RuntimeError(
            'rm_ros_interfaces is not installed: build RealMan ros2_rm_robot\'s '
            'rm_ros_interfaces (or, on the dev machine, scripts/setup.sh builds '
            'third_party/rm_ros_interfaces) and source the workspace') from exc
    return Jointpos, Cartepos, Gripperset


class ArmSimNode(SimulationNode):
    """ROS 2 front end of `arm_sim.sim.world.ArmWorld`, shaped like rm_driver."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('arm_sim', **kwargs)
        jointpos, cartepos, gripperset = _import_rm_interfaces()
        self._declare_parameters()
        p = self.params
        self._current = (p['task'], p['seed'])
        self._result_key: Optional[Tuple] = None
        self._ignored = 0
        self._stops0 = 0
        self._end_requested = False
        self._instruction_seen = False
        self._instruction_id = ''      # the latest instruction of the running episode
        # Driver commands in arrival order, handed from the executor thread to the simulation
        # thread (a stop must cancel the motion sent before it, not the one after).
        self._pending: List[Tuple[str, Any]] = []

        self.pub_image = self.create_publisher(Image, topics.CAMERA_IMAGE, SENSOR_QOS)
        self.pub_wrist = self.create_publisher(Image, WRIST_IMAGE, SENSOR_QOS)
        self.pub_joints = self.create_publisher(JointState, topics.JOINT_STATES, DRIVER_PUB_QOS)
        self.pub_pose = self.create_publisher(Pose, 'rm_driver/udp_arm_position',
                                              DRIVER_PUB_QOS)
        self.pub_stop_result = self.create_publisher(Bool, 'rm_driver/move_stop_result',
                                                     DRIVER_SUB_QOS)
        self.pub_gripper_result = self.create_publisher(
            Bool, 'rm_driver/set_gripper_position_result', DRIVER_SUB_QOS)
        self.pub_result = self.create_publisher(ArmEpisodeResult, EPISODE_RESULT, LATCHED_QOS)
        self._motion_subs = [
            self.create_subscription(jointpos, 'rm_driver/movej_canfd_cmd', self._on_movej,
                                     DRIVER_SUB_QOS),
            self.create_subscription(cartepos, 'rm_driver/movep_canfd_cmd', self._on_movep,
                                     DRIVER_SUB_QOS)]
        # Lockstep on the policy's own command (`lockstep_topic`): the gate forwards a command
        # or decides not to (a hold, a refusal); the simulation must wait for the policy, not
        # for the gate's decision, or a refused command stalls it for lockstep_timeout.
        self._pace_subs = [self.create_subscription(
            ArmCommand, p['lockstep_topic'], lambda _msg: self.notify_command(), COMMAND_QOS)] \
            if p['lockstep_topic'] else self._motion_subs
        self.create_subscription(Bool, 'rm_driver/move_stop_cmd', self._on_stop, DRIVER_SUB_QOS)
        self.create_subscription(gripperset, 'rm_driver/set_gripper_position_cmd',
                                 self._on_gripper, DRIVER_SUB_QOS)
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction,
                                 LATCHED_QOS)
        self.create_subscription(TaskResult, TASK_RESULT, self._on_task_result, LATCHED_QOS)
        self.create_service(StartEpisode, topics.START_EPISODE, self.on_start_episode)
        self.create_service(Trigger, END_EPISODE, self._on_end_episode)
        self.add_on_set_parameters_callback(self.on_set_parameters)
        self._end_lock = threading.Lock()
        self.start_simulation()

    # --- parameters ----------------------------------------------------------------------------
    def _declare_parameters(self) -> None:
        d = self
        self.declare_timing_parameters('motion command (movej/movep_canfd_cmd, or '
                                       'lockstep_topic)')
        models = ', '.join(sorted(ARM_MODELS))
        self.params = {
            'lockstep_topic': declare(d, 'lockstep_topic', '', 'the command lockstep waits for: '
                                      "empty = the driver's motion commands (movej/movep_canfd"
                                      "_cmd), or the policy's own vla_msgs/ArmCommand topic "
                                      '(arm_cmd_in) in front of a safety gate', read_only=True),
            'arm_model': declare(d, 'arm_model', 'RM75', f'RealMan arm to simulate ({models})',
                                 read_only=True),
            'task': declare(d, 'task', 'red_cup_left', 'tabletop task of the start-up episode '
                            '(later episodes: ~/start_episode)', read_only=True),
            'seed': declare(d, 'seed', 0, 'placement seed of the start-up episode', 0,
                            2 ** 31 - 1, read_only=True),
            'placement': declare(d, 'placement', 'plain', 'seed namespace of the placements: '
                                 'plain, collect (demonstrations) or evaluate (held out)',
                                 read_only=True),
            'auto_start': declare(d, 'auto_start', True, 'start the configured episode at '
                                  'start-up', read_only=True),
            'image_width': declare(d, 'image_width', 224, 'camera width (px)', 16, 4096,
                                   read_only=True),
            'image_height': declare(d, 'image_height', 224, 'camera height (px)', 16, 4096,
                                    read_only=True),
            'camera_rate': declare(d, 'camera_rate', 10.0, 'frames per second of sim time of '
                                   'each camera (0 = no cameras)', 0.0, 60.0, read_only=True),
            'wrist_camera': declare(d, 'wrist_camera', True, 'also render and publish the '
                                    'wrist camera', read_only=True),
            'state_rate': declare(d, 'state_rate', 100.0, 'joint_states and udp_arm_position '
                                  'rate (Hz of sim time; the driver reports at 200 Hz)', 1.0,
                                  TICK_RATE, read_only=True),
            'physics_rate': declare(d, 'physics_rate', 500.0, 'physics steps per second (Hz)',
                                    100.0, 5000.0, read_only=True),
            'joint_speed_scale': declare(d, 'joint_speed_scale', 0.5, 'fraction of the URDF '
                                         'joint velocities the emulated controller follows '
                                         'targets with', 0.05, 1.0, read_only=True),
            'stream_period': declare(d, 'stream_period', 0.1, 'period (s) over which the '
                                     'controller spreads a low-following (follow false) '
                                     'pass-through point: the command stream\'s period', 0.005,
                                     1.0, read_only=True),
            'degree_rad': declare(d, 'degree_rad', DEGREE_RAD, 'factor from the controller\'s '
                                  'degrees to joint_states radians (rm_driver uses 0.01745; '
                                  'pi/180 switches the quirk off)', 0.017, 0.018,
                                  read_only=True),
            'time_limit': declare(d, 'time_limit', 0.0, 'episode time limit after the first '
                                  'instruction (sim s); 0 = the task\'s (next episode)', 0.0,
                                  3600.0),
            'visual_jitter': declare(d, 'visual_jitter', 0.0, 'colour and light randomisation '
                                     'per seed (0..1; next episode)', 0.0, 1.0),
            'start_noise': declare(d, 'start_noise', 0.0, 'std of the home tool point\'s '
                                   'offset (m; next episode)', 0.0, 0.05),
            'base_frame': declare(d, 'base_frame', 'base_link', 'arm base frame (frame_id of '
                                  'the episode result)', read_only=True),
            'camera_frame': declare(d, 'camera_frame', 'scene_camera_optical_frame',
                                    'frame_id of scene camera images', read_only=True),
            'wrist_camera_frame': declare(d, 'wrist_camera_frame',
                                          'wrist_camera_optical_frame',
                                          'frame_id of wrist camera images', read_only=True),
        }

    def _options(self) -> Any:
        from arm_sim.sim.world import ArmSimOptions
        p = self.params
        return ArmSimOptions(
            arm_model=p['arm_model'], image_width=p['image_width'],
            image_height=p['image_height'], physics_rate=p['physics_rate'],
            joint_speed_scale=p['joint_speed_scale'], stream_period=p['stream_period'],
            visual_jitter=p['visual_jitter'],
            start_noise=p['start_noise'], degree_rad=p['degree_rad'])

    # --- executor-thread callbacks -------------------------------------------------------------
    def _hand_over(self, key: str, value: Any) -> None:
        with self._lock:
            self._pending.append((key, value))

    def _refuse(self, command: str, error: CommandError) -> None:
        self._ignored += 1
        self.get_logger().error(error.log_text(command), throttle_duration_sec=1.0)

    def _on_movej(self, msg: Any) -> None:
        result = check_jointpos(self.world.arm, list(msg.joint), int(msg.dof))
        if isinstance(result, CommandError):
            self._refuse('Movej CANFD', result)
            return
        assert isinstance(result, JointTarget)
        if result.ignored_values:
            self.get_logger().warning(
                f'Jointpos carries {result.ignored_values} value(s) beyond the '
                f'{self.world.arm.name}\'s {self.world.arm.dof} joints: not read (as the '
                'driver)', throttle_duration_sec=5.0)
        self._hand_over('motion', ('joint', result.joints, bool(msg.follow)))
        self._motion_arrived()

    def _on_movep(self, msg: Any) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        position, quaternion = (p.x, p.y, p.z), (o.x, o.y, o.z, o.w)
        error = check_pose(position, quaternion)
        if error is not None:
            self._refuse('Movep CANFD', error)
            return
        self._hand_over('motion', ('pose', position, quaternion, bool(msg.follow)))
        self._motion_arrived()

    def _motion_arrived(self) -> None:
        if not self.params['lockstep_topic']:
            self.notify_command()

    def _on_stop(self, msg: Bool) -> None:
        # rm_driver passes `data` as the call's blocking flag: any message stops.
        self._hand_over('stop', True)
        self.pub_stop_result.publish(Bool(data=True))

    def _on_gripper(self, msg: Any) -> None:
        result = gripper_opening(int(msg.position))
        if isinstance(result, CommandError):
            self._refuse('Gripper set position', result)
            self.pub_gripper_result.publish(Bool(data=False))
            return
        self._hand_over('gripper', result)
        self.pub_gripper_result.publish(Bool(data=True))

    def _on_instruction(self, msg: Instruction) -> None:
        self._hand_over('instruction', msg.id)

    def _on_task_result(self, msg: TaskResult) -> None:
        if msg.result == TaskResult.RESULT_DONE:
            self._hand_over('done', msg.instruction_id)

    def _on_end_episode(self, request: Any, response: Any) -> Any:
        done = threading.Event()
        self._hand_over('end', done)
        if not done.wait(timeout=30.0):
            response.success, response.message = False, 'simulation thread did not respond'
            return response
        v = self._last_verdict
        response.success = True
        response.message = (f'{self.world.scene.name if self.world.scene else "-"}: '
                            f'{v.outcome} ({v.stages()})')
        return response

    # --- SimulationNode hooks (simulation thread) ----------------------------------------------
    def create_world(self) -> None:
        from arm_sim.sim.world import ArmWorld
        self.world = ArmWorld(self._options())
        self._last_verdict = Verdict()

    def has_episode(self) -> bool:
        return self.world.scene is not None

    def lockstep_active(self) -> bool:
        return not self.world.done and any(s.get_publisher_count() > 0
                                           for s in self._pace_subs)

    def ready_message(self, *details: str) -> str:
        return super().ready_message(self.world.arm.name, *details)

    def start_episode(self, task: str, seed: int) -> Tuple[bool, str]:
        try:
            scene = make_scene(task, seed, placement=self.params['placement'])
        except ValueError as exc:
            return False, str(exc)
        options = self._options()       # jitter and start noise apply from the next episode
        if self.world.options != options:
            self.world.options = options.validate()
        if self.params['time_limit'] > 0.0:
            scene = scene.with_time_limit(self.params['time_limit'])
        self.world.reset(scene)
        if self.params['camera_rate'] > 0.0:
            self.world.render()      # warm up (GL context, textures) outside the paced loop
        self._current = (task, seed)
        with self._lock:
            self._pending.clear()
        self.episode_restarted()
        self._stops0 = self.world.hard_stops
        self._ignored = 0
        self._result_key = None
        self._instruction_id = ''
        self._publish_result(force=True)
        target = scene.target
        message = (f'episode {task} seed {seed}: "{scene.task.korean}" ({scene.task.target} at '
                   f'{target.x:.2f}, {target.y:.2f})')
        self.get_logger().info(message)
        return True, message

    def step_tick(self) -> None:
        world = self.world
        with self._lock:
            pending, self._pending = self._pending, []
        self.take_command_flag()
        ends = []
        for i, (kind, value) in enumerate(pending):
            if kind == 'stop':
                world.hard_stop()
                self.get_logger().warning('move_stop_cmd: trajectory emergency stop (target '
                                          'dropped, arm braked where it is)')
            elif kind == 'motion':
                if any(k == 'motion' for k, _ in pending[i + 1:]):
                    continue     # a newer pass-through point in this tick supersedes it
                if value[0] == 'joint':
                    world.command_joints(value[1], value[2])
                else:
                    ok, perr, rerr = world.command_pose(value[1], value[2], value[3])
                    if not ok:
                        self._refuse('Movep CANFD', unreachable(perr, rerr))
            elif kind == 'gripper':
                world.command_gripper(value)
            elif kind == 'done':
                # The policy ended the task of the episode's latest instruction.
                if world.scene is not None and world.started and not world.done and \
                        value == self._instruction_id:
                    ends.append(None)
            elif kind == 'instruction':
                if world.scene is not None and not world.done:
                    self._instruction_id = value
                if world.scene is not None and not world.started:
                    world.start_clock()
                    self.get_logger().info(f'instruction {value!r}: the episode\'s '
                                           f'{world.scene.time_limit:.0f} s time limit runs')
            elif kind == 'end':
                ends.append(value)
        world.step(max(1, int(round(world.options.physics_rate / TICK_RATE))))
        for done in ends:
            if not world.done:
                self._last_verdict = world.finish('policy')
            if done is not None:
                done.set()

    def publish_tick(self, stamp: Any) -> None:
        world, p = self.world, self.params
        if self.due('state', p['state_rate']):
            self._publish_state(stamp)
        self._publish_result()
        if self.due('camera', p['camera_rate']):
            self.publish_image(self.pub_image, world.render(SCENE_CAMERA), stamp,
                               p['camera_frame'])
            if p['wrist_camera']:
                self.publish_image(self.pub_wrist, world.render(WRIST_CAMERA), stamp,
                                   p['wrist_camera_frame'])

    def _publish_state(self, stamp: Any) -> None:
        world = self.world
        js = JointState()
        js.header.stamp = stamp        # rm_driver sets the stamp, not the frame_id
        js.name = list(world.arm.joint_names)
        js.position = [float(v) for v in world.reported_joint_positions()]
        self.pub_joints.publish(js)
        (x, y, z), (qx, qy, qz, qw) = world.tool_pose()
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = x, y, z
        pose.orientation.x, pose.orientation.y = qx, qy
        pose.orientation.z, pose.orientation.w = qz, qw
        self.pub_pose.publish(pose)

    def _publish_result(self, force: bool = False) -> None:
        world = self.world
        if world.scene is None:
            return
        v = world.verdict
        # Republished when the verdict changes, or the target object moved by a centimetre.
        key = (v.outcome, world.started, v.grasped, v.placed, v.released, v.retracted, v.still,
               v.success, world.hard_stops - self._stops0, self._ignored,
               tuple(round(c, 2) for c in v.object_end))
        if key == self._result_key and not force:
            return
        self._result_key = key
        scene = world.scene
        msg = ArmEpisodeResult()
        msg.header.stamp = time_msg(world.time)
        msg.header.frame_id = self.params['base_frame']
        msg.task, msg.seed = scene.name, int(scene.seed)
        msg.outcome, msg.ended_by = OUTCOME_CODES[v.outcome], v.ended_by
        msg.started, msg.time = world.started, float(v.time)
        msg.grasped, msg.placed, msg.released = v.grasped, v.placed, v.released
        msg.retracted, msg.still, msg.success = v.retracted, v.still, v.success
        msg.target_object = scene.task.target
        msg.object_start, msg.object_end = _point(v.object_start), _point(v.object_end)
        msg.tcp_min, msg.tcp_max = _point(v.tcp_min), _point(v.tcp_max)
        msg.disturbed = list(v.disturbed)
        msg.hard_stops = int(world.hard_stops - self._stops0)
        msg.commands_ignored = int(self._ignored)
        self.pub_result.publish(msg)
        if v.outcome != OUTCOME_RUNNING:
            self.log_episode_end(f'episode {scene.name} seed {scene.seed}: '
                                 f'{v.outcome.upper()} (ended by {v.ended_by}) after '
                                 f'{v.time:.1f} s: {v.stages()}', v.success)

    def publish_diagnostics(self, rtf: float, steps_per_s: float) -> None:
        world = self.world
        self.publish_status(self.simulation_status(
            'arm_sim: simulation', f'mujoco {world.arm.name}', rtf, steps_per_s,
            task=world.scene.name if world.scene else '',
            episode_outcome=world.verdict.outcome if world.scene else '',
            hard_stops=world.hard_stops, commands_ignored=self._ignored))


def _point(v: Any) -> Point:
    x, y, z = (float(c) if math.isfinite(c) else 0.0 for c in v)
    return Point(x=x, y=y, z=z)


def main(args: Optional[List[str]] = None) -> int:
    return run_node(simulation_factory(ArmSimNode), args)


if __name__ == '__main__':
    raise SystemExit(main())
