"""Episode bookkeeping: outcome, path length, clearance and which side the robot passed.

Pure geometry on the ground-truth pose, used identically by the MuJoCo simulator and by the
pure-core expert tests. Numeric constants match vla_msgs/EpisodeResult.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Optional

from vla_common import scenarios

from mobile_base.core.geometry import convex_distance, Pose2D, rectangle_corners
from mobile_base.core.robot import DEFAULT_ROBOT, RobotSpec
from mobile_base.core.scenarios import ScenarioInstance


class Outcome(IntEnum):
    RUNNING = 0
    REACHED = 1
    COLLIDED = 2
    TIMED_OUT = 3


class Side(IntEnum):
    NONE = 0
    LEFT = 1
    RIGHT = 2

    @classmethod
    def from_name(cls, name: str) -> 'Side':
        return {scenarios.LEFT: cls.LEFT, scenarios.RIGHT: cls.RIGHT}.get(name, cls.NONE)


@dataclass(frozen=True)
class EpisodeSummary:
    """What the simulator reports on `episode_result`."""

    scenario: str
    seed: int
    outcome: Outcome
    time: float
    path_length: float
    min_clearance: float
    passed_side: Side
    commanded_side: Side

    @property
    def success(self) -> bool:
        """Reached the cup on the commanded side."""
        return self.outcome == Outcome.REACHED and self.passed_side == self.commanded_side


def robot_footprint(pose: Pose2D, robot: RobotSpec = DEFAULT_ROBOT):
    """Corners of the robot body footprint at `pose`."""
    return rectangle_corners(pose.x, pose.y, pose.yaw, robot.body_length, robot.body_width)


def clearance(instance: ScenarioInstance, pose: Pose2D, robot: RobotSpec = DEFAULT_ROBOT) -> float:
    """Smallest distance (m) between the robot body and any obstacle (0 when touching)."""
    body = robot_footprint(pose, robot)
    return min((convex_distance(body, ob.corners()) for ob in instance.obstacles),
               default=math.inf)


class EpisodeMonitor:
    """Feed it ground-truth poses in time order; it decides when and how the episode ends.

    The episode clock (`time`, the time limit) starts at the task: `start_task(t)`, called
    when the episode's first instruction arrives (the simulator node) or at once when the
    caller drives the robot itself (`started=True`: direct stepping, tests). Before that the
    robot waits for its operator: collisions still count, the time limit does not run.
    """

    def __init__(self, instance: ScenarioInstance, robot: RobotSpec = DEFAULT_ROBOT,
                 collision_distance: float = 0.0, started: bool = True) -> None:
        self.instance = instance
        self.robot = robot
        self.collision_distance = collision_distance
        self.outcome = Outcome.RUNNING
        self.time = 0.0
        #: episode time (s, the `t` of `update`) at which the task started; None = waiting
        self.task_start: Optional[float] = 0.0 if started else None
        self.path_length = 0.0
        self.min_clearance = math.inf
        self.passed_side = Side.NONE
        self._last: Optional[Pose2D] = None
        first = instance.obstacles[0] if instance.obstacles else None
        self._first = instance.route_coordinates(first.x, first.y) if first else None

    @property
    def done(self) -> bool:
        return self.outcome != Outcome.RUNNING

    @property
    def started(self) -> bool:
        return self.task_start is not None

    def start_task(self, t: float) -> bool:
        """Start the episode clock at episode time `t` (s); False if it was already running."""
        if self.task_start is not None or self.done:
            return False
        self.task_start = t
        return True

    def update(self, t: float, pose: Pose2D, contact: bool = False) -> Outcome:
        """Account for the robot being at `pose` at episode time `t` (s); return the outcome.

        `t` counts from the episode's start; the reported `time` and the time limit count
        from the task's start. `contact` reports a physical contact seen by the simulator
        (counts as a collision). After the episode ended further updates change nothing.
        """
        if self.done:
            return self.outcome
        inst = self.instance
        self.time = t - self.task_start if self.task_start is not None else 0.0
        if self._last is not None:
            self.path_length += math.hypot(pose.x - self._last.x, pose.y - self._last.y)
            self._track_side(self._last, pose)
        self._last = pose
        c = clearance(inst, pose, self.robot)
        self.min_clearance = min(self.min_clearance, c)
        if contact or c <= self.collision_distance:
            self.outcome = Outcome.COLLIDED
        elif math.hypot(pose.x - inst.cup.x, pose.y - inst.cup.y) <= inst.success_radius:
            self.outcome = Outcome.REACHED
        elif self.task_start is not None and self.time >= inst.time_limit:
            self.outcome = Outcome.TIMED_OUT
        return self.outcome

    def _track_side(self, a: Pose2D, b: Pose2D) -> None:
        # The side is decided where the robot first crosses the line through the first
        # obstacle's centre perpendicular to the route: left of the box centre means the box
        # was on the robot's right, i.e. the robot passed on the left.
        if self._first is None or self.passed_side != Side.NONE:
            return
        along_ob, lat_ob = self._first
        a_al, a_lat = self.instance.route_coordinates(a.x, a.y)
        b_al, b_lat = self.instance.route_coordinates(b.x, b.y)
        if a_al < along_ob <= b_al:
            f = (along_ob - a_al) / (b_al - a_al)
            lat = a_lat + f * (b_lat - a_lat)
            self.passed_side = Side.LEFT if lat > lat_ob else Side.RIGHT

    def summary(self) -> EpisodeSummary:
        inst = self.instance
        return EpisodeSummary(inst.name, inst.seed, self.outcome, self.time, self.path_length,
                              self.min_clearance, self.passed_side, Side.from_name(inst.side))
