"""`arm_expert`: the scripted tabletop expert standing in for the policy on the ROS graph.

Listens to `arm_sim/episode_result` (latched): once an episode runs and its instruction has
arrived (`started`), it rebuilds the scene from task and seed exactly as the simulator sampled
it and drives it like the policy would: one ArmCommand end-effector delta (+ gripper) on
`arm_cmd_in` per control period of sim time (plus a `heartbeat`), computed from the measured
tool pose on `rm_driver/udp_arm_position`; the period boundaries come from the stamps of
`joint_states`, so it keeps pace with a simulator running faster than real time. When the
expert's plan ends (it has retracted and held still) it stops commanding and ends the episode
itself through `arm_sim/end_episode`, as a policy that decides it is done would.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, List, Optional, Tuple

from geometry_msgs.msg import Pose
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Header
from std_srvs.srv import Trigger
from vla_common import topics
from vla_common.node_main import run_node
from vla_common.params import declare
from vla_common.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from vla_common.stamps import to_seconds
from vla_msgs.msg import ArmCommand, ArmEpisodeResult

from arm_sim.core.expert import ExpertConfig, ScriptedExpert
from arm_sim.core.scene import make_scene


class ArmExpertNode(Node):
    """Measured tool pose + episode -> ArmCommand end-effector deltas."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('arm_expert', **kwargs)
        d = self
        defaults = ExpertConfig()
        self.config = dataclasses.replace(
            defaults,
            control_rate=declare(d, 'control_rate', defaults.control_rate,
                                 'commands per second of sim time (Hz): the policy\'s rate',
                                 1.0, 100.0, read_only=True),
            speed=declare(d, 'speed', defaults.speed, 'tool point speed (m/s); keep the '
                          'per-command step below the gate\'s', 0.005, 0.5),
            noise_std=declare(d, 'noise_std', 0.0, 'exploration noise std (m/s) for '
                              'demonstrations with recoveries', 0.0, 0.2),
            noise_seed=declare(d, 'noise_seed', 0, 'seed of the exploration noise', 0,
                               2 ** 31 - 1),
            hold_time=declare(d, 'hold_time', defaults.hold_time, 'seconds of sim time the '
                              'expert holds still at home before it ends its task (its done '
                              'frames)', 0.5, 10.0))
        self.placement = declare(d, 'placement', 'plain', 'seed namespace of the simulator\'s '
                                 'placements (its `placement`)', read_only=True)
        self.frame_id = declare(d, 'arm_frame_id', 'arm_base_link',
                                'frame of the end-effector deltas', read_only=True)
        self.pub = self.create_publisher(ArmCommand, topics.ARM_CMD_IN, COMMAND_QOS)
        self.pub_heartbeat = self.create_publisher(Header, topics.HEARTBEAT, COMMAND_QOS)
        self.create_subscription(ArmEpisodeResult, 'arm_sim/episode_result', self._on_result,
                                 LATCHED_QOS)
        self.create_subscription(Pose, 'rm_driver/udp_arm_position', self._on_pose, SENSOR_QOS)
        self.create_subscription(JointState, topics.JOINT_STATES, self._on_joints, SENSOR_QOS)
        self.end_client = self.create_client(Trigger, 'arm_sim/end_episode')
        self.expert: Optional[ScriptedExpert] = None
        self._episode: Optional[Tuple[str, int, int]] = None
        self._pose: Optional[Tuple[Tuple[float, ...], Tuple[float, ...]]] = None
        self._last_slot: Optional[int] = None
        self.get_logger().info(f'arm_expert ready: publishing on {self.pub.topic_name}')

    def _on_result(self, msg: ArmEpisodeResult) -> None:
        key = (msg.task, int(msg.seed), msg.header.stamp.sec)
        if msg.outcome != ArmEpisodeResult.OUTCOME_RUNNING or not msg.started:
            if self.expert is not None and msg.outcome != ArmEpisodeResult.OUTCOME_RUNNING:
                self.get_logger().info(f'episode {msg.task} seed {msg.seed} ended '
                                       f'(outcome {msg.outcome}): expert idle')
                self.expert = None
            return
        if self.expert is not None and key[:2] == self._episode[:2]:
            return
        try:
            scene = make_scene(msg.task, int(msg.seed), placement=self.placement)
        except ValueError as exc:
            self.get_logger().error(f'cannot follow episode {msg.task!r}: {exc}')
            return
        config = dataclasses.replace(self.config, noise_seed=self.config.noise_seed
                                     * 1_000_003 + int(msg.seed))
        self.expert = ScriptedExpert(scene, config)
        self._episode = key
        self._last_slot = None
        self.get_logger().info(f'expert doing {msg.task} seed {msg.seed}: '
                               f'"{scene.task.korean}"')

    def _on_pose(self, msg: Pose) -> None:
        p, o = msg.position, msg.orientation
        self._pose = ((p.x, p.y, p.z), (o.x, o.y, o.z, o.w))

    def _on_joints(self, msg: JointState) -> None:
        expert = self.expert
        if expert is None or self._pose is None or expert.done:
            return
        t = to_seconds(msg.header.stamp)
        # One command per control period, at the first state of each period boundary of sim
        # time (aligned with the camera ticks: in lockstep every frame gets its answer).
        slot = math.floor(t * self.config.control_rate + 1e-6)
        if slot == self._last_slot:
            return
        self._last_slot = slot
        action = expert.act(*self._pose)
        if action.done:
            self.get_logger().info(f'expert done ({action.phase}): ending the episode')
            self.end_client.call_async(Trigger.Request())
            return
        cmd = ArmCommand()
        cmd.header.stamp = msg.header.stamp
        cmd.header.frame_id = self.frame_id
        cmd.mode = ArmCommand.MODE_END_EFFECTOR_DELTA
        cmd.ee_delta = [float(v) for v in action.delta]
        cmd.gripper = float(action.gripper)
        self.pub.publish(cmd)
        self.pub_heartbeat.publish(Header(stamp=msg.header.stamp, frame_id='arm_expert'))


def main(args: Optional[List[str]] = None) -> int:
    return run_node(ArmExpertNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
