"""The mobile base in the learning loop: what `vla_convert`, `vla_train` and `vla_evaluate`
need to know about its datasets (the collection stack and bag reading live in
`vla_learning.collect` and `vla_learning.convert`, where they started)."""

from __future__ import annotations

from typing import Dict

ROBOT_TYPE = 'mecanum_base_mujoco'
ACTION_SPACE = 'base'
ACTION_NAMES = ('linear_x', 'linear_y', 'angular_z')
STATE_NAMES = ('odom_vx', 'odom_vy', 'odom_wz')
#: Mirroring (image flipped left-right) negates these action and state dimensions.
MIRROR = (1.0, -1.0, -1.0)
HAS_POSE = True          # observation.pose: the ground-truth x, y, yaw
HAS_DONE = True          # action.done: the expert holding its stop at the cup
NORMALIZER_QUANTILE = 0.0
#: The objects the instruction node accepts for this robot (None: the normaliser's default).
KNOWN_TARGETS = None


def usable(record: Dict[str, object]) -> bool:
    """A demonstration to learn from: the judge's success (the expert came to rest at the cup,
    by itself, on the commanded side of every box). Records without the verdict predate the
    expert's stop: not usable."""
    return bool(record.get('success'))


def read_episode(bag: str, image_size: int) -> Dict[str, object]:
    from vla_learning.convert import read_episode as read

    return read(bag, image_size)


# --- collection (vla_learning.collection.run_collection) -------------------------------------
# The collection stack and its topics: mujoco_sim (lockstep, training randomisation), gate,
# scripted expert, instruction node.
from vla_learning.collect import COLLECT_TOPICS, REQUIRED_TOPICS, collect_stack  # noqa: E402,F401


def session(stack, log=None):
    from vla_bringup.session import EpisodeSession

    return EpisodeSession(stack, log=log)


def run_demonstration(sess, plan, timeout: float):
    """One expert episode of `plan`; the session's report."""
    return sess.run_episode(plan.scenario, plan.seed, plan.instruction, 'expert',
                            timeout=timeout)


def record_of(plan, report) -> Dict[str, object]:
    """episode.json of a mobile demonstration (the judge's verdict included)."""
    from dataclasses import asdict

    return {**asdict(plan), 'name': plan.name,
            'outcome': report.outcome, 'ended_by': report.ended_by,
            'success': report.success, 'time': report.time,
            'passed_sides': report.passed_sides, 'commanded_side': report.commanded_side,
            'side_correct': report.side_correct, 'final_error': report.final_error,
            'min_clearance': report.min_clearance, 'safety_time': report.safety_time,
            'wall_time': report.wall_time}
