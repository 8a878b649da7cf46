"""Scripted expert: a ground-truth planner that drives to the cup on the commanded side.

The route is a polyline in the scenario frame: start -> a point beside the first obstacle on
the commanded side (far enough before it that the sideways move is finished) -> along that
lateral offset past the last obstacle -> the cup. The offset keeps the robot's bounding circle
`margin` away from every obstacle corner, whatever the robot's heading. A pure-pursuit tracker
follows the polyline holonomically (x, y velocities in the robot frame) and turns the robot
gently towards its direction of travel, so the forward camera sees where it goes, as a human
teleoperator would drive. Speeds stay below the safety gate's limits so the gate never clips
the demonstration.

Optional exploration noise (Ornstein-Uhlenbeck on the command) makes demonstrations that
include recoveries; the tracker always steers back to the route.

The expert ends its own task: it decelerates (at most `max_decel`) to a stop `stop_distance`
from the cup (the judge's goal distance) and from then on commands exactly zero, for as long
as it is asked (`done` is set). That zero command is the only exactly-zero command it ever
sends, which is what labels its stop in the demonstrations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import List, Optional, Protocol, Sequence, Tuple

import numpy as np
from vla_common.planar import Point, Twist2D, ZERO_TWIST
from vla_common.scenarios import LEFT

from mobile_base.core.episode import GOAL_DISTANCE
from mobile_base.core.geometry import Pose2D, rotate, wrap_angle
from mobile_base.core.robot import DEFAULT_ROBOT, RobotSpec
from mobile_base.core.scenarios import Obstacle, ScenarioInstance


class LayoutChange(Protocol):
    """A mid-episode change of the layout (mobile_base.sim.scene.PerturbationPlan)."""

    trigger_along: float

    def apply(self, obstacles: Sequence[Obstacle]) -> Tuple[Obstacle, ...]: ...


@dataclass(frozen=True)
class ExpertConfig:
    max_speed: float = 0.3           # m/s, norm of (vx, vy); gate limit is 0.5 per axis
    max_angular: float = 0.6         # rad/s; gate limit 1.0
    max_accel: float = 0.8           # m/s^2, smooths starts and speed changes
    max_decel: float = 0.25          # m/s^2, the braking profile towards the stop point
    creep_speed: float = 0.03        # m/s, slowest approach speed before the stop
    stop_tolerance: float = 0.01     # m, stopped when this close to the stop point
    lookahead: float = 0.35          # m, pure-pursuit lookahead
    margin: float = 0.15             # m, bounding circle to obstacle clearance on the route
    approach: float = 0.25           # m, extra run-up before the first obstacle
    stop_distance: float = GOAL_DISTANCE   # m, robot centre to cup centre where it stops
    max_heading: float = math.radians(35.0)   # rad, largest heading off the route axis
    # rad, on the final approach (within 0.8 m of the cup): enough to face the cup even when
    # the way in is sideways (two-box layouts), so the camera sees what it stops at
    final_max_heading: float = math.radians(90.0)
    heading_gain: float = 1.5        # 1/s
    noise_std: float = 0.0           # m/s (and rad/s) std of OU exploration noise
    noise_theta: float = 2.0         # 1/s, OU mean reversion
    noise_seed: int = 0


class ScriptedExpert:
    """Holonomic pure pursuit along a side-respecting route; `act(pose, t)` -> Twist2D."""

    def __init__(self, instance: ScenarioInstance, config: Optional[ExpertConfig] = None,
                 robot: RobotSpec = DEFAULT_ROBOT, change: Optional[LayoutChange] = None
                 ) -> None:
        self.instance = instance
        self.config = config or ExpertConfig()
        self.robot = robot
        self.route: List[Point] = plan_route(instance, self.config, robot)
        #: The mid-episode change of the layout it knows of (it sees the world): once the
        #: robot reaches its trigger, the route is replanned around the changed obstacles.
        self.change = change
        self.reset()

    def reset(self) -> None:
        self._last_cmd = ZERO_TWIST
        self._last_t: Optional[float] = None
        self._progress = 0.0
        self._noise = np.zeros(3)
        self._rng = np.random.default_rng(self.config.noise_seed)
        self.done = False

    def act(self, pose: Pose2D, t: float) -> Twist2D:
        """Body-frame command for the robot at `pose` (scenario frame) at time `t` (s)."""
        cfg = self.config
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        cup = self.instance.cup
        dist_cup = math.hypot(cup.x - pose.x, cup.y - pose.y)
        to_stop = dist_cup - cfg.stop_distance
        if self.done or to_stop <= cfg.stop_tolerance:
            self.done = True
            self._last_cmd = ZERO_TWIST
            return ZERO_TWIST
        change = self.change
        if change is not None and \
                self.instance.route_coordinates(pose.x, pose.y)[0] >= change.trigger_along:
            # The simulator changes the layout at the same point (sim/world.py); the progress
            # along the route is kept.
            self.change = None
            self.instance = replace(self.instance,
                                    obstacles=tuple(change.apply(self.instance.obstacles)))
            self.route = plan_route(self.instance, cfg, self.robot)
        target, self._progress = _lookahead_point(self.route, (pose.x, pose.y), self._progress,
                                                  cfg.lookahead)
        dx, dy = target[0] - pose.x, target[1] - pose.y
        norm = math.hypot(dx, dy)
        # Braking profile: the speed from which max_decel stops the robot at the stop point.
        speed = min(cfg.max_speed, max(cfg.creep_speed, math.sqrt(2.0 * cfg.max_decel
                                                                  * max(0.0, to_stop))))
        vxw, vyw = (dx / norm * speed, dy / norm * speed) if norm > 1e-6 else (0.0, 0.0)
        # Heading: towards the direction of travel, within max_heading of the route axis.
        ax, ay = self.instance.route_axis
        axis_yaw = math.atan2(ay, ax)
        travel = wrap_angle(math.atan2(vyw, vxw) - axis_yaw) if norm > 1e-6 else 0.0
        limit = cfg.max_heading
        if dist_cup < 0.8:   # final approach: face the cup
            travel = wrap_angle(math.atan2(cup.y - pose.y, cup.x - pose.x) - axis_yaw)
            limit = cfg.final_max_heading
        desired = axis_yaw + max(-limit, min(limit, travel))
        wz = cfg.heading_gain * wrap_angle(desired - pose.yaw)
        wz = max(-cfg.max_angular, min(cfg.max_angular, wz))
        vx, vy = rotate(vxw, vyw, -pose.yaw)
        cmd = Twist2D(vx, vy, wz)
        if cfg.noise_std > 0.0 and dt > 0.0:
            th = cfg.noise_theta
            self._noise += -th * self._noise * dt + cfg.noise_std * math.sqrt(2 * th * dt) \
                * self._rng.normal(size=3)
            cmd = Twist2D(cmd.vx + self._noise[0], cmd.vy + self._noise[1],
                          cmd.wz + self._noise[2])
        cmd = self._limit(cmd, dt)
        self._last_cmd = cmd
        return cmd

    def _limit(self, cmd: Twist2D, dt: float) -> Twist2D:
        cfg = self.config
        vx, vy = cmd.vx, cmd.vy
        n = math.hypot(vx, vy)
        if n > cfg.max_speed:
            vx, vy = vx * cfg.max_speed / n, vy * cfg.max_speed / n
        if dt > 0.0:
            lx, ly = self._last_cmd.vx, self._last_cmd.vy
            ddx, ddy = vx - lx, vy - ly
            step = math.hypot(ddx, ddy)
            if step > cfg.max_accel * dt:
                k = cfg.max_accel * dt / step
                vx, vy = lx + ddx * k, ly + ddy * k
        wz = max(-cfg.max_angular, min(cfg.max_angular, cmd.wz))
        return Twist2D(vx, vy, wz)


def plan_route(instance: ScenarioInstance, config: ExpertConfig = ExpertConfig(),
               robot: RobotSpec = DEFAULT_ROBOT) -> List[Point]:
    """Waypoints (scenario frame) from the start to the cup passing on the commanded side."""
    sign = 1.0 if instance.side == LEFT else -1.0
    radius = robot.bounding_radius + config.margin
    along: List[float] = []
    lateral: List[float] = []
    for ob in instance.obstacles:
        for cx, cy in ob.corners():
            a, lat = instance.route_coordinates(cx, cy)
            along.append(a)
            lateral.append(lat)
    start = (instance.start.x, instance.start.y)
    cup = (instance.cup.x, instance.cup.y)
    if not along:
        return [start, cup]
    offset = (max(lateral) + radius) if sign > 0 else (min(lateral) - radius)
    a_in = min(along) - radius - config.approach
    a_out = max(along) + radius
    ax, ay = instance.route_axis

    def point(a: float, lat: float) -> Point:
        return (start[0] + a * ax - lat * ay, start[1] + a * ay + lat * ax)

    cup_along, _ = instance.route_coordinates(*cup)
    a_in = max(a_in, 0.05)
    a_out = min(a_out, cup_along)
    return [start, point(a_in, offset), point(a_out, offset), cup]


def _lookahead_point(route: List[Point], pos: Tuple[float, float], progress: float,
                     lookahead: float) -> Tuple[Point, float]:
    """The point `lookahead` along the route past the robot's projection (monotonic progress)."""
    # Project onto the polyline, never moving backwards along it (avoids shortcuts).
    seg_len = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(route, route[1:])]
    total = sum(seg_len)
    best_s, best_d = progress, math.inf
    s0 = 0.0
    for (a, b), length in zip(zip(route, route[1:]), seg_len):
        if length > 0.0:
            t = ((pos[0] - a[0]) * (b[0] - a[0]) + (pos[1] - a[1]) * (b[1] - a[1])) / length ** 2
            t = max(0.0, min(1.0, t))
            px, py = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
            s = s0 + t * length
            d = math.hypot(pos[0] - px, pos[1] - py)
            if s >= progress - 1e-9 and s <= progress + 2.0 * lookahead + 0.5 and d < best_d:
                best_s, best_d = s, d
        s0 += length
    target_s = min(total, best_s + lookahead)
    s0 = 0.0
    for (a, b), length in zip(zip(route, route[1:]), seg_len):
        if s0 + length >= target_s and length > 0.0:
            t = (target_s - s0) / length
            return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])), best_s
        s0 += length
    return route[-1], best_s
