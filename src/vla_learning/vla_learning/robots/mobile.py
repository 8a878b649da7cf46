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
