"""`expert_node`: the scripted expert driving the robot through the ROS graph.

Listens to `episode_result` (latched): on RUNNING it rebuilds the episode's layout from the
scenario name (or YAML path), seed, placement namespace and spread, exactly as the simulator
sampled it (the start-pose noise aside: it drives from wherever it is), and starts the
expert; on any end it publishes one zero command and idles. With `perturbation` set like the
simulator's, it draws the same mid-episode change and, once the robot reaches its trigger,
replans around the changed layout (demonstrations that react to a moved or added box).
Each `ground_truth/odom` message
(at most `control_rate` per second of its stamps, i.e. of sim time) yields one command on
`cmd_vel_in` (plus a `heartbeat` for the safety gate), so the expert keeps pace with a
simulator running faster than real time.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, List, Optional, Tuple

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from std_msgs.msg import Header
from vla_common import topics
from vla_common.node_main import run_node
from vla_common.params import declare
from vla_common.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from vla_msgs.msg import EpisodeResult, Instruction

from mobile_base.core.expert import ExpertConfig, ScriptedExpert
from mobile_base.core.geometry import Pose2D
from mobile_base.core.odometry import quaternion_to_yaw
from mobile_base.core.scenarios import make_instance, ScenarioError
from mobile_base.sim.scene import PERTURBATIONS, perturbation_plan
from mobile_base.nodes.ros_io import twist_to_msg


class ExpertNode(Node):
    """Ground truth + episode -> holonomic Twist commands."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('expert_node', **kwargs)
        d = self
        self._dirs = [p for p in declare(d, 'scenario_path', '',
                                         'extra scenario directories (os.pathsep-separated)',
                                         read_only=True).split(os.pathsep) if p]
        self.control_rate = declare(d, 'control_rate', 20.0,
                                    'commands per second of ground-truth time (Hz)', 1.0, 200.0)
        defaults = ExpertConfig()
        self.base_config = dataclasses.replace(
            defaults,
            max_speed=declare(d, 'max_speed', defaults.max_speed,
                              'largest planar speed (m/s); keep below the gate limit',
                              0.01, 2.0),
            max_angular=declare(d, 'max_angular', defaults.max_angular,
                                'largest yaw rate (rad/s)', 0.01, 3.0),
            margin=declare(d, 'margin', defaults.margin,
                           'planned clearance of the robot bounding circle (m)', 0.0, 1.0),
            noise_std=declare(d, 'noise_std', 0.0,
                              'exploration noise std (m/s, rad/s) for recovery data', 0.0, 0.5),
            noise_seed=declare(d, 'noise_seed', 0, 'seed of the exploration noise', 0,
                               2 ** 31 - 1))
        self.perturbation = declare(d, 'perturbation', 'none',
                                    "the simulator's mid-episode change (none|box_moved|"
                                    'box_added|mixed): the expert reacts to it', read_only=True)
        if self.perturbation not in PERTURBATIONS:
            raise ValueError(f'perturbation must be one of {PERTURBATIONS}, '
                             f'got {self.perturbation!r}')
        self.pub = self.create_publisher(Twist, topics.CMD_VEL_IN, COMMAND_QOS)
        # The expert stands in for the policy, so it also keeps the gate's deadman alive.
        self.pub_heartbeat = None
        if declare(d, 'publish_heartbeat', True,
                   'publish `heartbeat` (std_msgs/Header) with every command, as the policy '
                   'does, for a safety gate with require_heartbeat', read_only=True):
            self.pub_heartbeat = self.create_publisher(Header, topics.HEARTBEAT, COMMAND_QOS)
        self.create_subscription(EpisodeResult, topics.EPISODE_RESULT, self._on_result,
                                 LATCHED_QOS)
        # Like the policy, the expert moves only once the operator has given the episode's
        # task: a new instruction (not yet used by an episode) on `instruction`.
        self._wait_for_instruction = declare(
            d, 'wait_for_instruction', True,
            'drive an episode only after a new instruction on `instruction`', read_only=True)
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction,
                                 LATCHED_QOS)
        self._instruction_id: Optional[str] = None
        self._unused_instruction = False
        self._waiting = False
        self.create_subscription(Odometry, topics.GROUND_TRUTH, self._on_ground_truth,
                                 SENSOR_QOS)
        self.expert: Optional[ScriptedExpert] = None
        self._episode: Optional[Tuple[str, int, int]] = None
        self._t0: Optional[float] = None
        self._last_slot: Optional[int] = None
        self.get_logger().info(f'expert_node ready: publishing on {self.pub.topic_name}')

    def _on_result(self, msg: EpisodeResult) -> None:
        key = (msg.scenario, int(msg.seed), msg.header.stamp.sec * 10 ** 9
               + msg.header.stamp.nanosec)
        if msg.outcome != EpisodeResult.OUTCOME_RUNNING:
            if self.expert is not None:
                self.pub.publish(Twist())
                self.get_logger().info(f'episode {msg.scenario} seed {msg.seed} ended '
                                       f'(outcome {msg.outcome}): expert idle')
            self.expert = None
            return
        if key == self._episode:
            return
        try:
            # The layout exactly as the simulator drew it (namespace and spread included).
            instance = make_instance(msg.scenario, msg.seed, self._dirs,
                                     placement=msg.placement or 'plain',
                                     spread=msg.layout_spread or 1.0)
        except ScenarioError as exc:
            self.get_logger().error(f'cannot follow episode {msg.scenario!r}: {exc}')
            self.expert = None
            return
        config = dataclasses.replace(self.base_config,
                                     noise_seed=self.base_config.noise_seed * 1_000_003
                                     + int(msg.seed))
        self.expert = ScriptedExpert(instance, config,
                                     change=perturbation_plan(instance, int(msg.seed),
                                                              self.perturbation))
        self._episode = key
        self._t0 = None
        self._last_slot = None
        # An instruction that came before this result (the two topics race) is this one's.
        self._waiting = self._wait_for_instruction and not self._unused_instruction
        self._unused_instruction = False
        self.get_logger().info(f'expert driving {msg.scenario} seed {msg.seed} on the '
                               f'{instance.side}: "{instance.instruction}"'
                               + (' once instructed' if self._waiting else ''))

    def _on_instruction(self, msg: Instruction) -> None:
        # A stop word gives no task; the latched instruction delivered again is not new.
        if msg.status == Instruction.STATUS_STOP or msg.id == self._instruction_id:
            return
        self._instruction_id = msg.id
        if self._waiting:
            self._waiting = False
            self.get_logger().info(f'instruction {msg.id}: expert starts')
        else:
            self._unused_instruction = True

    def _on_ground_truth(self, msg: Odometry) -> None:
        if self.expert is None or self._waiting:
            return
        t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        # One command per control period, at the first message of each period boundary of
        # sim time: aligned with the simulator's camera ticks, so in lockstep every frame
        # gets its answer (a plain "dt >= period" drifts off the frame ticks).
        slot = math.floor(t * self.control_rate + 1e-6)
        if slot == self._last_slot:
            return
        self._last_slot = slot
        if self._t0 is None:
            self._t0 = t
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        pose = Pose2D(p.x, p.y, quaternion_to_yaw(q.x, q.y, q.z, q.w))
        self.pub.publish(twist_to_msg(self.expert.act(pose, t - self._t0)))
        if self.pub_heartbeat is not None:
            self.pub_heartbeat.publish(Header(stamp=self.get_clock().now().to_msg(),
                                              frame_id='expert_node'))


def main(args: Optional[List[str]] = None) -> int:
    return run_node(ExpertNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
