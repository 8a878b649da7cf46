"""The episode judge: when an episode ends, how, and whether it was a success.

Pure geometry on the ground-truth pose, used identically by the MuJoCo simulator and by the
pure-core tests. Numeric constants match vla_msgs/EpisodeResult.

The simulator judges, it does not finish: nothing here stops the robot. An episode ends when
  - the robot body touches a box (COLLIDED, ended by the collision), or
  - the robot itself came to rest: |v| < `rest_speed` and |wz| < `rest_yaw_rate` for
    `rest_time` after it had moved at least `min_travel` since the task started; it is then
    watched for `stay_time` more: moving again is MOVED_AFTER_STOP (oscillation, driving on),
    otherwise it is judged where it stands: OVERSHOT if it had driven into the cup's place
    (its centre within `overshoot_distance` of the cup's: the body over the cup),
    REACHED inside the success radius, STOPPED_OUTSIDE elsewhere (ended by the policy), or
  - the time limit passes before it came to rest (TIMED_OUT: it never stopped, or it
    drove on).
Success = REACHED, no collision, and every box of the layout passed on the commanded side.
The episode clock starts with the task (`start_task`, the episode's first instruction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Optional, Sequence, Tuple

from vla_common import scenarios

from mobile_base.core.geometry import convex_distance, Pose2D, rectangle_corners
from mobile_base.core.robot import DEFAULT_ROBOT, RobotSpec
from mobile_base.core.scenarios import Obstacle, ScenarioInstance

#: m, robot centre to cup centre where the task is finished: the expert stops there (its
#: front bumper ~4 cm from the cup) and the final position error is measured from it.
GOAL_DISTANCE = 0.30


class Outcome(IntEnum):
    RUNNING = 0
    REACHED = 1           # came to rest inside the success radius and stayed
    COLLIDED = 2
    TIMED_OUT = 3         # never came to rest within the time limit
    STOPPED_OUTSIDE = 4   # came to rest outside the success radius
    OVERSHOT = 5          # drove into the cup's place before coming to rest
    MOVED_AFTER_STOP = 6  # came to rest, then moved again


class EndedBy(IntEnum):
    NONE = 0        # still running
    POLICY = 1      # the robot came to rest by itself
    TIMEOUT = 2
    COLLISION = 3


class Side(IntEnum):
    NONE = 0
    LEFT = 1
    RIGHT = 2

    @classmethod
    def from_name(cls, name: str) -> 'Side':
        return {scenarios.LEFT: cls.LEFT, scenarios.RIGHT: cls.RIGHT}.get(name, cls.NONE)


@dataclass(frozen=True)
class JudgeConfig:
    """What counts as coming to rest, and where."""

    rest_speed: float = 0.02        # m/s, planar speed below which the robot is at rest
    rest_yaw_rate: float = 0.05     # rad/s, and yaw rate below this
    rest_time: float = 1.0          # s at rest that count as "came to rest"
    stay_time: float = 1.0          # s more it must stay at rest before it is judged
    min_travel: float = 0.10        # m travelled since the task started before a rest counts
    overshoot_distance: float = 0.20    # m, robot centre to cup centre: closer is overshoot


@dataclass(frozen=True)
class EpisodeSummary:
    """What the simulator reports on `episode_result`."""

    scenario: str
    seed: int
    outcome: Outcome
    time: float
    path_length: float
    min_clearance: float
    passed_side: Side                       # of the first box (route order)
    commanded_side: Side
    passed_sides: Tuple[Side, ...] = ()     # of every box, route order
    ended_by: EndedBy = EndedBy.NONE
    final_distance: float = math.nan        # m, robot centre to cup centre at the end
    overshoot: bool = False
    task_start: float = -1.0                # episode s when the task started, -1 = waiting
    perturbation: str = ''                  # mid-episode change of the layout, '' = none
    perturbation_time: float = -1.0         # task time (s) it happened, -1 = none

    @property
    def sides_correct(self) -> bool:
        """Every box passed, each on the commanded side."""
        return bool(self.passed_sides) and all(s == self.commanded_side
                                               for s in self.passed_sides)

    @property
    def at_rest(self) -> bool:
        """The robot came to rest by itself and stayed at rest."""
        return self.outcome in (Outcome.REACHED, Outcome.STOPPED_OUTSIDE, Outcome.OVERSHOT)

    @property
    def final_error(self) -> float:
        """m, distance to the cup minus the goal distance (+ stopped short, - too close)."""
        return self.final_distance - GOAL_DISTANCE

    @property
    def success(self) -> bool:
        """Came to rest inside the radius, no collision, every box on the commanded side."""
        return self.outcome == Outcome.REACHED and self.sides_correct


def robot_footprint(pose: Pose2D, robot: RobotSpec = DEFAULT_ROBOT):
    """Corners of the robot body footprint at `pose`."""
    return rectangle_corners(pose.x, pose.y, pose.yaw, robot.body_length, robot.body_width)


def clearance(obstacles: Sequence[Obstacle], pose: Pose2D,
              robot: RobotSpec = DEFAULT_ROBOT) -> float:
    """Smallest distance (m) between the robot body and any obstacle (0 when touching)."""
    body = robot_footprint(pose, robot)
    return min((convex_distance(body, ob.corners()) for ob in obstacles), default=math.inf)


class EpisodeMonitor:
    """Feed it ground-truth poses in time order; it decides when and how the episode ends.

    The episode clock (`time`, the time limit) starts at the task: `start_task(t)`, called
    when the episode's first instruction arrives (the simulator node) or at once when the
    caller drives the robot itself (`started=True`: direct stepping, tests). Before that the
    robot waits for its operator: collisions still count, the time limit does not run.
    """

    def __init__(self, instance: ScenarioInstance, robot: RobotSpec = DEFAULT_ROBOT,
                 collision_distance: float = 0.0, started: bool = True,
                 judge: JudgeConfig = JudgeConfig()) -> None:
        self.instance = instance
        self.robot = robot
        self.collision_distance = collision_distance
        self.judge = judge
        self.outcome = Outcome.RUNNING
        self.ended_by = EndedBy.NONE
        self.time = 0.0
        self.path_length = 0.0
        self.min_clearance = math.inf
        self.obstacles: Tuple[Obstacle, ...] = tuple(instance.obstacles)
        self.passed_sides = [Side.NONE] * len(self.obstacles)
        #: episode time (s, the `t` of `update`) at which the task started; None = waiting
        self.task_start: Optional[float] = 0.0 if started else None
        self._travel_at_start = 0.0
        self._last: Optional[Pose2D] = None
        self._last_t: Optional[float] = None
        self._still_since: Optional[float] = None     # task time the robot stopped moving
        self._rest_at: Optional[float] = None         # task time it came to rest
        self.closest = math.inf                       # m, nearest the centre came to the cup
        self._final: Optional[Pose2D] = None
        self.perturbation, self.perturbation_time = '', -1.0

    @property
    def done(self) -> bool:
        return self.outcome != Outcome.RUNNING

    @property
    def started(self) -> bool:
        return self.task_start is not None

    @property
    def passed_side(self) -> Side:
        return self.passed_sides[0] if self.passed_sides else Side.NONE

    def start_task(self, t: float) -> bool:
        """Start the episode clock at episode time `t` (s); False if it was already running."""
        if self.task_start is not None or self.done:
            return False
        self.task_start = t
        self._travel_at_start = self.path_length
        return True

    def replace_obstacles(self, obstacles: Sequence[Obstacle], kind: str) -> None:
        """The layout changed now (`kind`: a box moved or appeared): judge against the new
        one from here on. Sides already decided stay; a new box gets its own side."""
        self.obstacles = tuple(obstacles)
        self.passed_sides += [Side.NONE] * (len(self.obstacles) - len(self.passed_sides))
        self.perturbation, self.perturbation_time = kind, self.time

    def update(self, t: float, pose: Pose2D, contact: bool = False) -> Outcome:
        """Account for the robot being at `pose` at episode time `t` (s); return the outcome.

        `t` counts from the episode's start; the reported `time` and the time limit count
        from the task's start. `contact` reports a physical contact seen by the simulator
        (counts as a collision). After the episode ended further updates change nothing.
        """
        if self.done:
            return self.outcome
        inst, judge = self.instance, self.judge
        self.time = t - self.task_start if self.task_start is not None else 0.0
        moving = True
        if self._last is not None:
            step = math.hypot(pose.x - self._last.x, pose.y - self._last.y)
            self.path_length += step
            self._track_sides(self._last, pose)
            dt = t - self._last_t if self._last_t is not None else 0.0
            if dt > 0.0:
                yaw_rate = abs(math.remainder(pose.yaw - self._last.yaw, math.tau)) / dt
                moving = step / dt >= judge.rest_speed or yaw_rate >= judge.rest_yaw_rate
        self._last, self._last_t = pose, t
        self.closest = min(self.closest, math.hypot(pose.x - inst.cup.x, pose.y - inst.cup.y))
        c = clearance(self.obstacles, pose, self.robot)
        self.min_clearance = min(self.min_clearance, c)
        if contact or c <= self.collision_distance:
            return self._end(Outcome.COLLIDED, EndedBy.COLLISION, pose)
        if self.task_start is None:
            return self.outcome
        if self._rest_at is not None:                  # came to rest: does it stay?
            if moving:
                return self._end(Outcome.MOVED_AFTER_STOP, EndedBy.POLICY, pose)
            if self.time - self._rest_at >= judge.stay_time - 1e-9:
                return self._end(self._verdict(pose), EndedBy.POLICY, pose)
            return self.outcome
        armed = self.path_length - self._travel_at_start >= judge.min_travel
        if moving or not armed:
            self._still_since = None
        elif self._still_since is None:
            self._still_since = self.time
        elif self.time - self._still_since >= judge.rest_time - 1e-9:
            self._rest_at = self.time
            return self.outcome
        if self.time >= inst.time_limit:
            return self._end(Outcome.TIMED_OUT, EndedBy.TIMEOUT, pose)
        return self.outcome

    def _verdict(self, pose: Pose2D) -> Outcome:
        inst = self.instance
        if self.closest < self.judge.overshoot_distance:
            return Outcome.OVERSHOT
        if math.hypot(pose.x - inst.cup.x, pose.y - inst.cup.y) <= inst.success_radius:
            return Outcome.REACHED
        return Outcome.STOPPED_OUTSIDE

    def _end(self, outcome: Outcome, ended_by: EndedBy, pose: Pose2D) -> Outcome:
        self.outcome, self.ended_by, self._final = outcome, ended_by, pose
        return outcome

    def _track_sides(self, a: Pose2D, b: Pose2D) -> None:
        # Each box's side is decided where the robot first crosses the line through its
        # centre perpendicular to the route: left of the box centre means the box was on the
        # robot's right, i.e. the robot passed on the left.
        inst = self.instance
        a_al, a_lat = inst.route_coordinates(a.x, a.y)
        b_al, b_lat = inst.route_coordinates(b.x, b.y)
        for i, ob in enumerate(self.obstacles):
            if self.passed_sides[i] != Side.NONE:
                continue
            along_ob, lat_ob = inst.route_coordinates(ob.x, ob.y)
            if a_al < along_ob <= b_al:
                f = (along_ob - a_al) / (b_al - a_al)
                lat = a_lat + f * (b_lat - a_lat)
                self.passed_sides[i] = Side.LEFT if lat > lat_ob else Side.RIGHT

    def summary(self) -> EpisodeSummary:
        inst = self.instance
        pose = self._final or self._last
        distance = (math.hypot(pose.x - inst.cup.x, pose.y - inst.cup.y) if pose is not None
                    else math.nan)
        return EpisodeSummary(
            inst.name, inst.seed, self.outcome, self.time, self.path_length, self.min_clearance,
            self.passed_side, Side.from_name(inst.side), tuple(self.passed_sides),
            self.ended_by, distance, self.closest < self.judge.overshoot_distance,
            -1.0 if self.task_start is None else self.task_start, self.perturbation,
            self.perturbation_time)
