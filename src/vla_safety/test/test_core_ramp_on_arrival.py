"""The acceleration ramp holds when a command jumps between the gate's ticks.

The policy publishes an event chunk's first action the moment it arrives (between the
gate's 50 Hz ticks) and the gate, with `publish_on_input`, gates and publishes it at once.
That extra step must not give the robot a larger velocity change: at arrival the ramp allows
only accel x (time since the last tick), and on the first tick after, only accel x (time since
the arrival) — together exactly one tick's worth, as without the extra step.
"""

import pytest
from vla_safety.core.reasons import Reason


@pytest.mark.parametrize('start, target', [(0.0, 0.3), (0.3, -0.3), (0.3, 0.0)])
def test_a_jump_arriving_between_ticks_is_ramped_on_arrival_and_on_the_next_tick(
        make_base, start, target):
    h = make_base()
    accel = h.config.accel
    speeding_up = abs(target) > abs(start) and start * target >= 0
    limit = accel.accel_y if speeding_up else accel.decel_y
    d = h.run(0.0, 2.0, vy=start)                      # steady at `start`
    assert d.cmd.vy == pytest.approx(start)
    t_tick = 2.0
    t_arrival = t_tick + 0.007                          # the event chunk, mid-period
    d = h.command(t_arrival, vy=target)                 # publish_on_input: stepped at once
    assert abs(d.cmd.vy - start) <= limit * 0.007 + 1e-9
    assert d.reasons & Reason.ACCEL_LIMITED
    at_arrival = d.cmd.vy
    d = h.command(t_tick + 0.02, vy=target)             # the first timer tick after
    assert abs(d.cmd.vy - at_arrival) <= limit * 0.013 + 1e-9
    assert abs(d.cmd.vy - start) <= limit * 0.02 + 1e-9  # one tick's worth in all
    assert d.reasons & Reason.ACCEL_LIMITED
    d = h.run(t_tick + 0.04, t_tick + 2.0, vy=target)    # and it gets there
    assert d.cmd.vy == pytest.approx(target)
