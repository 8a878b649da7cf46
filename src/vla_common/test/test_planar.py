"""The planar types shared by mobile_base and vla_safety."""

import math
import subprocess
import sys

import pytest
from vla_common.planar import segments_cross, Twist2D, ZERO_TWIST


@pytest.mark.parametrize('p1, p2, q1, q2, crossing', [
    ((0, 0), (2, 2), (0, 2), (2, 0), True),        # an X
    ((0, 0), (2, 0), (1, -1), (1, 1), True),        # a plus
    ((0, 0), (1, 1), (0, 1), (1, 2), False),        # parallel
    ((0, 0), (1, 0), (2, -1), (2, 1), False),       # would cross if extended
    ((0, 0), (2, 0), (1, 0), (1, 1), False),        # an end touching the other segment
    ((0, 0), (1, 0), (1, 0), (2, 1), False),        # shared end (adjacent polygon edges)
    ((0, 0), (2, 0), (1, 0), (3, 0), False),        # collinear overlap
])
def test_segments_cross_only_at_a_single_interior_point(p1, p2, q1, q2, crossing):
    assert segments_cross(p1, p2, q1, q2) is crossing
    assert segments_cross(q1, q2, p1, p2) is crossing      # symmetric
    assert segments_cross(p2, p1, q2, q1) is crossing      # direction does not matter


def test_twist2d():
    t = Twist2D(0.2, -0.1, 0.5)
    assert t.is_finite() and not t.is_zero() and ZERO_TWIST.is_zero()
    assert t.scaled(2.0).as_tuple() == (0.4, -0.2, 1.0)
    assert t.close_to(Twist2D(0.2 + 1e-12, -0.1, 0.5)) and not t.close_to(ZERO_TWIST)
    for bad in (math.nan, math.inf, -math.inf):
        assert not Twist2D(0.0, bad, 0.0).is_finite()


def test_the_pure_modules_import_no_ros():
    """mobile_base's and vla_safety's pure cores import these: they must stay rclpy-free."""
    code = ('import sys, vla_common.planar, vla_common.scenarios; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("rclpy", "std_msgs", "sensor_msgs", "vla_msgs", "numpy")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == '[]'
