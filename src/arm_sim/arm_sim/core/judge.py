"""The episode judge of the tabletop tasks (pure): the simulator's verdict, never its action.

The judge watches the world and says what holds; it never moves or stops anything. The
episode ends when the policy ends its task (`finish('policy')`) or when its time limit runs
out (`finish('timeout')`); the verdict is taken at that moment, so an arm that reached the
goal and then moved on, or never settled, fails.

Success rules (all must hold at the end):
  * move:  the target object rests upright on the table, its centre at least `move_distance`
           (0.10 m) towards the commanded side of where it started and within 0.08 m of its
           start along x;
  * place: the target object rests upright inside the tray's inner walls / on the plate
           (centre within 0.045 m of the plate's centre);
  * reach: the open gripper's tool point is within 0.03 m (xy) of the target object's centre
           and 0.03-0.15 m above its top, and the object has not been moved (< 0.02 m);
  * move and place also need: the object released (not held, gripper open >= 0.045 m) and the
    arm retracted (tool point >= 0.15 m above the table);
  * every task: the arm still (every joint slower than 0.05 rad/s) for the last 1 s, and the
    episode ended by the policy, not by the time limit.
`grasped` (the target was held and lifted >= 0.03 m) and `placed` (the object's final position
satisfies the task's place rule) are reported on their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from vla_common.arm_verdict import (ArmVerdict as Verdict, OUTCOME_FAILED, OUTCOME_RUNNING,
                                    OUTCOME_SUCCESS, OUTCOME_TIMED_OUT)

from arm_sim.core.scene import (object_height, Placement, PLATE_HEIGHT, PLATE_RADIUS, Scene,
                                TRAY_FLOOR, TRAY_SIZE, TRAY_WALL)

Vec3 = Tuple[float, float, float]

MOVE_DISTANCE = 0.10
MOVE_X_TOLERANCE = 0.08
PLATE_TOLERANCE = PLATE_RADIUS - 0.01
REACH_XY = 0.03
REACH_Z = (0.03, 0.15)
RETRACT_Z = 0.15
OPEN_WIDTH = 0.045
STILL_SPEED = 0.05          # rad/s, every joint
STILL_TIME = 1.0            # s
REST_SPEED = 0.02           # m/s, an object at rest
UPRIGHT_COS = math.cos(0.35)
LIFT = 0.03


@dataclass(frozen=True)
class ObjectState:
    position: Vec3
    up_z: float         # z component of the object's up axis (1 = upright)
    speed: float        # m/s


@dataclass(frozen=True)
class Snapshot:
    """What the judge reads from the world at one instant."""

    time: float                          # s since the episode's first instruction
    objects: Mapping[str, ObjectState]
    held: Optional[str]                  # the object welded to the gripper, if any
    tcp: Vec3                            # tool point in the base frame
    gripper_opening: float               # m between the fingers
    joint_speed: float                   # max |joint velocity| (rad/s)


def _rest_z(name: str, surface: float = 0.0) -> float:
    return surface + 0.5 * object_height(name)


class Judge:
    """Watches one episode of `scene`; call `observe` every control tick, `finish` once."""

    def __init__(self, scene: Scene, start: Mapping[str, Vec3]) -> None:
        self.scene = scene
        self.task = scene.task
        self.start = dict(start)
        self.verdict = Verdict(object_start=tuple(start[self.task.target]))
        self._still_since: Optional[float] = None
        self._last: Optional[Snapshot] = None
        self._tcp_lo = [math.inf] * 3
        self._tcp_hi = [-math.inf] * 3

    @property
    def done(self) -> bool:
        return self.verdict.outcome != OUTCOME_RUNNING

    def observe(self, snap: Snapshot) -> Verdict:
        """Update with the world at `snap.time`; returns the live (running) verdict."""
        if self.done:
            return self.verdict
        self._last = snap
        for i in range(3):
            self._tcp_lo[i] = min(self._tcp_lo[i], snap.tcp[i])
            self._tcp_hi[i] = max(self._tcp_hi[i], snap.tcp[i])
        target = self.task.target
        obj = snap.objects[target]
        if snap.held == target and obj.position[2] >= _rest_z(target) + LIFT:
            self.verdict.grasped = True
        if snap.joint_speed < STILL_SPEED:
            if self._still_since is None:
                self._still_since = snap.time
        else:
            self._still_since = None
        self._evaluate(snap)
        return self.verdict

    def _placed(self, name: str, obj: ObjectState) -> bool:
        task, scene = self.task, self.scene
        x, y, z = obj.position
        resting = obj.speed < REST_SPEED and obj.up_z >= UPRIGHT_COS
        if task.kind == 'move':
            sx, sy, _ = self.start[name]
            sign = 1.0 if task.goal == 'left' else -1.0
            return (resting and sign * (y - sy) >= MOVE_DISTANCE
                    and abs(x - sx) <= MOVE_X_TOLERANCE and abs(z - _rest_z(name)) < 0.01)
        if task.kind == 'place':
            r: Placement = scene.receptacles[task.goal]
            if task.goal == 'tray':
                hx = 0.5 * TRAY_SIZE[0] - TRAY_WALL[0]
                hy = 0.5 * TRAY_SIZE[1] - TRAY_WALL[0]
                inside = abs(x - r.x) <= hx and abs(y - r.y) <= hy
                return resting and inside and z < _rest_z(name, TRAY_FLOOR) + 0.01
            on_plate = math.hypot(x - r.x, y - r.y) <= PLATE_TOLERANCE
            return resting and on_plate and abs(z - _rest_z(name, PLATE_HEIGHT)) < 0.01
        return False

    def _evaluate(self, snap: Snapshot) -> None:
        v, task = self.verdict, self.task
        target = task.target
        obj = snap.objects[target]
        v.time = snap.time
        v.object_end = tuple(obj.position)
        v.released = snap.held is None and snap.gripper_opening >= OPEN_WIDTH
        v.retracted = snap.tcp[2] >= RETRACT_Z
        v.still = (self._still_since is not None
                   and snap.time - self._still_since >= STILL_TIME)
        v.tcp_min = tuple(self._tcp_lo)
        v.tcp_max = tuple(self._tcp_hi)
        v.disturbed = tuple(
            n for n, s in snap.objects.items() if n != target
            and math.dist(s.position[:2], self.start[n][:2]) > 0.03)
        if task.kind == 'reach':
            top = obj.position[2] + 0.5 * object_height(target)
            dz = snap.tcp[2] - top
            unmoved = math.dist(obj.position[:2], self.start[target][:2]) < 0.02
            v.placed = (math.hypot(snap.tcp[0] - obj.position[0], snap.tcp[1] - obj.position[1])
                        <= REACH_XY and REACH_Z[0] <= dz <= REACH_Z[1] and unmoved
                        and snap.held is None)
            v.success = v.placed and v.still
        else:
            v.placed = self._placed(target, obj)
            v.success = v.placed and v.released and v.retracted and v.still

    def finish(self, ended_by: str) -> Verdict:
        """End the episode: 'policy' (the policy ended its task) or 'timeout'."""
        if self.done:
            return self.verdict
        if self._last is not None:
            self._evaluate(self._last)
        v = self.verdict
        v.ended_by = ended_by
        if ended_by == 'policy':
            v.outcome = OUTCOME_SUCCESS if v.success else OUTCOME_FAILED
        else:
            v.success = False   # a task the policy never ended is not done
            v.outcome = OUTCOME_TIMED_OUT
        return v


__all__ = ['Judge', 'ObjectState', 'OUTCOME_FAILED', 'OUTCOME_RUNNING',
           'OUTCOME_SUCCESS', 'OUTCOME_TIMED_OUT', 'Snapshot', 'Verdict']
