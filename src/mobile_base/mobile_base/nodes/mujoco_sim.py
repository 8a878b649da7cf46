"""`mujoco_sim`: the MuJoCo simulator of the base in the Korean navigation scenarios.

Consumes `cmd_vel` (only while the configured gate is its sole publisher: any other publisher
stops the base and is named in /diagnostics, see `vla_common.publisher_guard`) and
`instruction` (the episode clock starts at the episode's first instruction, see
`wait_for_instruction`); publishes `camera/image_raw`, `odom`, `scan`,
`ground_truth/odom`, `episode_result`, `/clock` and `/diagnostics`; serves `~/start_episode`.

The simulation thread, /clock, pacing, lockstep (on `cmd_vel`, or on the controller's
`cmd_vel_in` with `lockstep_topic`), episode requests and the clean shutdown come from
`vla_common.sim_node.SimulationNode`; this node adds the base's world, sensors, scene
randomisation and the episode judge's result. Sim time starts at 0 and runs continuously over
episodes. The simulator judges, it does not finish: an ended episode never stops the robot
(`hold_after_end: false`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, List, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticStatus
from rcl_interfaces.msg import SetParametersResult
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Image, LaserScan
from vla_common import topics
from vla_common.node_main import run_node
from vla_common.params import declare
from vla_common.planar import Twist2D
from vla_common.publisher_guard import CLEARED, FOREIGN, PublisherGuard
from vla_common.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from vla_common.sim_node import simulation_factory, SimulationNode, TICK_RATE
from vla_common.stamps import time_msg
from vla_msgs.msg import EpisodeResult, Instruction
from vla_msgs.srv import StartEpisode

from mobile_base.core.episode import EpisodeSummary, Outcome, Side
from mobile_base.core.odometry import pose_transform
from mobile_base.core.scenarios import resolve_scenario, ScenarioError, ScenarioInstance
from mobile_base.nodes.ros_io import (GROUND_TRUTH_COVARIANCE, odometry_msg, TfPublisher,
                                      twist_from_msg)


class MujocoSimNode(SimulationNode):
    """ROS 2 front end of `mobile_base.sim.world.MujocoWorld`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('mujoco_sim', **kwargs)
        self._declare_parameters()
        p = self.params
        self._scenario_dirs = [d for d in p['scenario_path'].split(os.pathsep) if d]
        self._current = (p['scenario'], p['seed'])
        self._label = ''
        self._result_sent = False

        self.pub_image = self.create_publisher(Image, topics.CAMERA_IMAGE, SENSOR_QOS)
        self.pub_odom = self.create_publisher(Odometry, topics.ODOM, SENSOR_QOS)
        self.pub_gt = self.create_publisher(Odometry, topics.GROUND_TRUTH, SENSOR_QOS)
        self.pub_scan = self.create_publisher(LaserScan, topics.SCAN, SENSOR_QOS)
        self.pub_result = self.create_publisher(EpisodeResult, topics.EPISODE_RESULT,
                                                LATCHED_QOS)
        self._cmd_sub = self.create_subscription(Twist, topics.CMD_VEL, self._on_cmd_vel,
                                                 COMMAND_QOS)
        self._guard = PublisherGuard(self, self._cmd_sub, p['cmd_vel_publisher'])
        # Lockstep paces the simulation on the controller's own commands: with a safety gate
        # in between, `cmd_vel` comes from the gate's timer whether the controller keeps up
        # or not, so the controller's `cmd_vel_in` is the one to wait for.
        self._pace_sub = self.create_subscription(
            Twist, p['lockstep_topic'], lambda _msg: self.notify_command(), COMMAND_QOS) \
            if p['lockstep_topic'] != topics.CMD_VEL else None
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction,
                                 LATCHED_QOS)
        self.create_service(StartEpisode, topics.START_EPISODE, self.on_start_episode)
        self.tf = TfPublisher(self, p['publish_tf'])
        self.add_on_set_parameters_callback(self.on_set_parameters)

        self._cmd: Optional[Twist2D] = None      # newest command not yet given to the world
        self._instruction_id: Optional[str] = None   # newest instruction seen (latched: once)
        self._instruction_pending = ''            # its id, until the sim thread starts the clock
        self.start_simulation()

    # --- Parameters ----------------------------------------------------------------------------
    def _declare_parameters(self) -> None:
        d = self
        self.declare_timing_parameters('cmd_vel')
        self.params = {
            'lockstep_topic': declare(d, 'lockstep_topic', topics.CMD_VEL,
                                      'the command topic lockstep waits for: cmd_vel, or the '
                                      "controller's own (cmd_vel_in) when a safety gate "
                                      'republishes cmd_vel on its own timer', read_only=True),
            'scenario': declare(d, 'scenario', '1box_vert_left',
                                'scenario at start-up: a name (e.g. 2box_hori_right) or a YAML '
                                'path (later episodes: ~/start_episode)', read_only=True),
            'seed': declare(d, 'seed', 0, 'placement seed of the start-up episode', 0,
                            2 ** 31 - 1, read_only=True),
            'scenario_path': declare(d, 'scenario_path', '',
                                     'extra directories with scenario YAML files '
                                     '(os.pathsep-separated), searched before the shipped ones',
                                     read_only=True),
            'auto_start': declare(d, 'auto_start', True,
                                  'start the configured episode at start-up', read_only=True),
            'image_width': declare(d, 'image_width', 224, 'camera width (px): 224 or 640',
                                   16, 4096, read_only=True),
            'image_height': declare(d, 'image_height', 224, 'camera height (px): 224 or 480',
                                    16, 4096, read_only=True),
            'camera_rate': declare(d, 'camera_rate', 10.0,
                                   'camera frames per second of sim time (0 = no camera)',
                                   0.0, 60.0, read_only=True),
            'scan_rate': declare(d, 'scan_rate', 10.0, 'scans per second of sim time (0 = off)',
                                 0.0, 50.0, read_only=True),
            'odom_rate': declare(d, 'odom_rate', 50.0,
                                 'odom and ground_truth/odom rate (Hz of sim time)', 1.0,
                                 TICK_RATE, read_only=True),
            'physics_rate': declare(d, 'physics_rate', 500.0, 'physics steps per second (Hz)',
                                    100.0, 5000.0, read_only=True),
            'wait_for_instruction': declare(
                d, 'wait_for_instruction', True,
                'start the episode clock (time limit, reported time) at the episode\'s first '
                'instruction on `instruction`, as an operator gives the task; false: at the '
                'episode start', read_only=True),
            'hold_after_end': declare(d, 'hold_after_end', False,
                                      'zero the base when an episode ends (off: the simulator '
                                      'judges, the policy must stop the robot itself)',
                                      read_only=True),
            'time_limit': declare(d, 'time_limit', 0.0,
                                  'episode time limit (sim s); 0 = the scenario file\'s '
                                  '(applies from the next episode)',
                                  0.0, 3600.0),
            'cmd_timeout': declare(d, 'cmd_timeout', 0.5,
                                   'sim s after which a cmd_vel is stale and the base stops',
                                   0.01, 10.0, read_only=True),
            'cmd_vel_publisher': declare(
                d, 'cmd_vel_publisher', topics.SAFETY_NODE,
                'the only node allowed to publish cmd_vel (the safety gate; relative names are '
                'in this node\'s namespace); any other publisher stops the base. Empty '
                'disables the check', read_only=True),
            'visual_jitter': declare(d, 'visual_jitter', 0.0,
                                     'colour and light randomisation per seed (0..1; next '
                                     'episode)', 0.0, 1.0),
            'palette': declare(d, 'palette', 'train',
                               "colours and textures: 'train' (the shipped model's), "
                               "'randomized' (domain randomisation) or 'held_out' (never "
                               "used in training; next episode)"),
            'lighting': declare(d, 'lighting', 'train',
                                "'train' (jittered around the default), 'shifted' (outside "
                                "that range) or 'wide' (either, even chance; next episode)"),
            'camera_noise': declare(d, 'camera_noise', 0.0,
                                    'max std of camera pixel noise (8-bit units), drawn per '
                                    'episode (next episode)', 0.0, 64.0),
            'camera_blur': declare(d, 'camera_blur', 0.0,
                                   'max camera blur sigma (px at 224 px), drawn per episode '
                                   '(next episode)', 0.0, 8.0),
            'distractor_prob': declare(d, 'distractor_prob', 0.0,
                                       'chance of one distractor object beside the route '
                                       '(next episode)', 0.0, 1.0),
            'placement': declare(d, 'placement', 'plain',
                                 'seed namespace of the placements: plain, collect (the left '
                                 'and right variants share one) or evaluate (disjoint from '
                                 'every collection; next episode)'),
            'layout_spread': declare(d, 'layout_spread', 1.0,
                                     'box and cup ranges widened about their centres by this '
                                     'factor (next episode)', 0.1, 5.0),
            'perturbation': declare(d, 'perturbation', 'none',
                                    'mid-episode change of the layout: none, box_moved, '
                                    'box_added or mixed (next episode)'),
            'start_noise_xy': declare(d, 'start_noise_xy', 0.0,
                                      'std of the start position noise (m; next episode)',
                                      0.0, 0.5),
            'start_noise_yaw': declare(d, 'start_noise_yaw', 0.0,
                                       'std of the start heading noise (rad; next episode)',
                                       0.0, 0.5),
            'odom_noise': declare(d, 'odom_noise', 0.0,
                                  'relative std of odometry velocity noise', 0.0, 0.5),
            'scan_noise': declare(d, 'scan_noise', 0.0, 'std of scan range noise (m)',
                                  0.0, 0.5),
            'publish_tf': declare(d, 'publish_tf', True,
                                  'broadcast odom -> base_link on /tf (needs tf2_ros)',
                                  read_only=True),
            'world_frame': declare(d, 'world_frame', 'map',
                                   'frame of ground_truth/odom (the scenario frame)',
                                   read_only=True),
            'odom_frame': declare(d, 'odom_frame', 'odom', 'odometry frame', read_only=True),
            'base_frame': declare(d, 'base_frame', 'base_link', 'robot frame', read_only=True),
            'camera_frame': declare(d, 'camera_frame', 'camera_optical_frame',
                                    'frame_id of camera images', read_only=True),
            'laser_frame': declare(d, 'laser_frame', 'laser', 'frame_id of scans',
                                   read_only=True),
        }

    def on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        # Range checks are done by rclpy (descriptors), choices by SimOptions; then the
        # shared callback puts the accepted values live.
        candidate = dict(self.params)
        candidate.update({p.name: p.value for p in params if p.name in self.params})
        try:
            self._sim_options(candidate).validate()
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        return super().on_set_parameters(params)

    def _sim_options(self, params: Optional[dict] = None) -> Any:
        from mobile_base.sim.world import SimOptions
        p = self.params if params is None else params
        return SimOptions(
            image_width=p['image_width'], image_height=p['image_height'],
            physics_rate=p['physics_rate'], cmd_timeout=p['cmd_timeout'],
            visual_jitter=p['visual_jitter'], palette=p['palette'], lighting=p['lighting'],
            camera_noise=p['camera_noise'], camera_blur=p['camera_blur'],
            distractor_prob=p['distractor_prob'], perturbation=p['perturbation'],
            placement=p['placement'], layout_spread=p['layout_spread'],
            start_noise=(p['start_noise_xy'], p['start_noise_xy'], p['start_noise_yaw']),
            odom_noise=p['odom_noise'], scan_noise=p['scan_noise'],
            hold_after_end=p['hold_after_end'])

    # --- Executor-thread callbacks -------------------------------------------------------------
    def _on_cmd_vel(self, msg: Twist) -> None:
        verdict, event = self._guard.check()
        if event == FOREIGN:
            self.get_logger().error(f'cmd_vel refused, base stopped: {verdict.reason}')
        elif event == CLEARED:
            self.get_logger().info('cmd_vel: foreign publisher gone')
        with self._lock:
            # A refused command still counts as a command (lockstep), as a stop.
            self._cmd = twist_from_msg(msg) if verdict.ok else Twist2D()
        if self._pace_sub is None:
            self.notify_command()

    def _on_instruction(self, msg: Instruction) -> None:
        # A stop word gives no task; the latched instruction delivered again is not a new one.
        if msg.status == Instruction.STATUS_STOP or msg.id == self._instruction_id:
            return
        with self._lock:
            self._instruction_id = msg.id
            self._instruction_pending = msg.id or '(no id)'

    # --- SimulationNode hooks (simulation thread) ----------------------------------------------
    def create_world(self) -> None:
        from mobile_base.sim.world import MujocoWorld
        self.world = MujocoWorld(self._sim_options())

    def has_episode(self) -> bool:
        return self.world.instance is not None

    def lockstep_active(self) -> bool:
        return not self.world.done and (self._pace_sub or self._cmd_sub).get_publisher_count() > 0

    def step_tick(self) -> None:
        world = self.world
        with self._lock:
            cmd, self._cmd = self._cmd, None
            instruction, self._instruction_pending = self._instruction_pending, ''
        self.take_command_flag()
        if instruction and world.start_task():
            self.get_logger().info(f'episode clock started by instruction {instruction} '
                                   f'({world.episode_time:.2f} s after the episode start)')
        if cmd is not None:
            world.set_command(cmd)
        world.step(max(1, int(round(world.options.physics_rate / TICK_RATE))))

    def start_episode(self, scenario: str, seed: int) -> Tuple[bool, str]:
        return self._start_episode(scenario, seed)

    def _start_episode(self, scenario: str, seed: int) -> Tuple[bool, str]:
        try:
            spec = resolve_scenario(scenario, self._scenario_dirs)
        except ScenarioError as exc:
            return False, str(exc)
        if self.world.options != self._sim_options():
            self.world.options = self._sim_options().validate()
        opts = self.world.options
        instance = spec.sample(seed, opts.start_noise, opts.placement, opts.layout_spread)
        if self.params['time_limit'] > 0.0:
            instance = dataclasses.replace(instance, time_limit=self.params['time_limit'])
        with self._lock:
            self._instruction_pending = ''   # it belonged to the previous episode
        self.world.reset(instance, wait_for_instruction=self.params['wait_for_instruction'])
        if self.params['camera_rate'] > 0.0:
            self.world.render()     # warm up (GL context, textures) outside the paced loop
        self._current = (scenario, seed)
        self._label = spec.name if not scenario.endswith(('.yaml', '.yml')) else scenario
        self._result_sent = False
        with self._lock:
            self._cmd = None
        self.episode_restarted()
        self._publish_result(self.world.summary())
        message = (f'episode {self._label} seed {seed}: "{instance.instruction}" '
                   f'({len(instance.obstacles)} obstacle(s), cup at '
                   f'{instance.cup.x:.2f}, {instance.cup.y:.2f})')
        self.get_logger().info(message)
        return True, message

    def publish_tick(self, stamp: Any) -> None:
        world, p = self.world, self.params
        if self.due('odom', p['odom_rate']):
            self._publish_odometry(stamp)
        if self.due('scan', p['scan_rate']):
            self._publish_scan(stamp)
        if world.done and not self._result_sent:
            self._publish_result(world.summary())
            self._result_sent = True
        if self.due('camera', p['camera_rate']):
            self.publish_image(self.pub_image, world.render(), stamp, p['camera_frame'])

    def _publish_odometry(self, stamp: Any) -> None:
        world, p = self.world, self.params
        odom = world.odometry_state()
        self.pub_odom.publish(odometry_msg(stamp, p['odom_frame'], p['base_frame'], odom.pose,
                                           odom.twist))
        self.tf.send(pose_transform(odom.pose, p['odom_frame'], p['base_frame']), stamp)
        self.pub_gt.publish(odometry_msg(stamp, p['world_frame'], p['base_frame'],
                                         world.ground_truth_pose(), world.ground_truth_twist(),
                                         GROUND_TRUTH_COVARIANCE, GROUND_TRUTH_COVARIANCE))

    def _publish_scan(self, stamp: Any) -> None:
        world = self.world
        robot = world.robot
        ranges = world.scan()
        msg = LaserScan()
        msg.header.stamp = stamp
        msg.header.frame_id = self.params['laser_frame']
        msg.angle_min = -math.pi
        msg.angle_increment = robot.scan_increment
        msg.angle_max = msg.angle_min + (len(ranges) - 1) * robot.scan_increment
        msg.time_increment = 0.0
        msg.scan_time = 1.0 / self.params['scan_rate']
        msg.range_min, msg.range_max = robot.scan_range_min, robot.scan_range_max
        msg.ranges = [float(r) for r in ranges]
        self.pub_scan.publish(msg)

    def _publish_result(self, summary: EpisodeSummary) -> None:
        msg = EpisodeResult()
        msg.header.stamp = time_msg(self.world.time)
        msg.header.frame_id = self.params['world_frame']
        msg.scenario = self._label
        msg.seed = int(summary.seed)
        inst = self.world.instance
        msg.placement = inst.placement if inst is not None else ''
        msg.layout_spread = float(inst.layout_spread) if inst is not None else 1.0
        msg.outcome = int(summary.outcome)
        msg.ended_by = int(summary.ended_by)
        msg.success = bool(summary.success)
        msg.time = float(summary.time)
        msg.task_start = float(summary.task_start)
        msg.path_length = float(summary.path_length)
        msg.min_clearance = float(summary.min_clearance)
        msg.passed_side = int(summary.passed_side)
        msg.passed_sides = [int(s) for s in summary.passed_sides]
        msg.commanded_side = int(summary.commanded_side)
        msg.at_rest = bool(summary.at_rest)
        msg.overshoot = bool(summary.overshoot)
        msg.final_distance = float(summary.final_distance)
        msg.final_error = float(summary.final_error)
        msg.perturbation = summary.perturbation
        msg.perturbation_time = float(summary.perturbation_time)
        self.pub_result.publish(msg)
        if summary.outcome != Outcome.RUNNING:
            sides = '/'.join(Side(s).name.lower() for s in summary.passed_sides) or 'none'
            text = (f'episode {self._label} seed {summary.seed}: {summary.outcome.name} '
                    f'(ended by {summary.ended_by.name.lower()}) after {summary.time:.1f} s, '
                    f'{summary.final_distance:.2f} m from the cup, path '
                    f'{summary.path_length:.2f} m, min clearance {summary.min_clearance:.3f} m, '
                    f'passed {sides} (commanded {Side(summary.commanded_side).name.lower()}): '
                    f'{"success" if summary.success else "failure"}')
            self.log_episode_end(text, summary.success)

    def publish_diagnostics(self, rtf: float, steps_per_s: float) -> None:
        world = self.world
        verdict = self._guard.verdict
        inst: Optional[ScenarioInstance] = world.instance
        status = self.simulation_status(
            'mujoco_sim: simulation', 'mujoco', rtf, steps_per_s,
            scenario=inst.name if inst else '', episode_outcome=world.outcome.name,
            cmd_vel_publishers=','.join(verdict.publishers) if verdict else '',
            foreign_cmd_vel_publishers=','.join(verdict.foreign) if verdict else '')
        if verdict is not None and verdict.rogue:
            status.level = DiagnosticStatus.ERROR
            status.message = f'cmd_vel refused: {verdict.reason}'
        self.publish_status(status)


def main(args: Optional[List[str]] = None) -> int:
    return run_node(simulation_factory(MujocoSimNode), args)


if __name__ == '__main__':
    raise SystemExit(main())
