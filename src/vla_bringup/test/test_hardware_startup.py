"""A restarted safety gate on a hardware stack never moves the robot without an operator reset.

The gate is started exactly as the hardware stack describes it (`mobile_stack(sim='false')`,
the runner's command line), in its own process, while a command stream, a heartbeat and the
sensors are already flowing, as after a crash on the robot. It must publish only zeros, with
reason STARTUP, until the operator runs `reset_estop` (the installed command, here as on the
target with `ros2 run vla_safety reset_estop`); then it is killed and started again, and the
same holds.
"""

import subprocess
import time

import pytest
from vla_bringup.runner import executable_path
from vla_bringup.stacks import mobile_stack, ros_args
from vla_msgs.msg import SafetyState
from vla_testing.gate_driver import GateDriver, twist
from vla_testing.ros import wait_for_subscribers

pytestmark = pytest.mark.stack
T = 30.0
INPUT_FAULTS = (SafetyState.REASON_ODOM_TIMEOUT | SafetyState.REASON_SCAN_TIMEOUT
                | SafetyState.REASON_HEARTBEAT_LOST)


def _start_gate(node_processes, name):
    spec = mobile_stack(sim='false').node('safety_gate')
    proc = node_processes([executable_path(spec.package, spec.executable)] + ros_args(spec),
                          name)
    proc.wait_for_output('safety gate up', timeout=60.0)
    return proc


def _reset_estop():
    return subprocess.run([executable_path('vla_safety', 'reset_estop'), '--reason',
                           'test operator', '--timeout', '20'],
                          capture_output=True, text=True, timeout=120)


def _only_zeros_until_reset(world, since, gate):
    """The gate (re)started into the STARTUP latch and holds the robot while commanded."""
    state = world.state.wait(1, timeout=T, since=since, predicate=lambda s: s.state ==
                             SafetyState.STATE_ESTOP and s.reasons & SafetyState.REASON_STARTUP)
    assert 'STARTUP' in state.reason_names and state.estop_reason.startswith('startup:')
    # As an operator would, reset only once the gate sees its inputs (a restarted process can
    # take seconds under load to match the running publishers): then the one fault left to
    # refuse the reset for is the policy's non-zero command.
    world.state.wait(1, timeout=T, since=since, predicate=lambda s: not s.reasons & INPUT_FAULTS)
    world.out.clear()
    world.out.wait(50, timeout=T)                 # 1 s of output at 50 Hz, still commanded
    assert all(m.linear.x == 0.0 for m in world.out.messages)
    refused = _reset_estop()                      # the policy is still commanding 0.3 m/s
    assert refused.returncode == 1 and 'non-zero command' in refused.stdout, refused
    assert all(m.linear.x == 0.0 for m in world.out.messages)
    assert gate.alive()


def test_restarted_gate_holds_until_an_operator_reset(ros, node_processes):
    world = GateDriver(ros)       # sensors, heartbeat and a policy commanding 0.3 m/s
    world.cmd = twist(0.3)
    started = time.monotonic()
    gate = _start_gate(node_processes, 'gate_first')
    wait_for_subscribers(world.cmd_pub, timeout=T)
    _only_zeros_until_reset(world, started, gate)

    world.cmd = twist(0.0)                        # the operator stops the policy, then resets
    time.sleep(1.0)
    reset = _reset_estop()
    assert reset.returncode == 0 and 'e-stop released' in reset.stdout, reset
    world.cmd = twist(0.3)
    world.out.wait(1, timeout=T, predicate=lambda m: m.linear.x > 0.05)   # armed: it moves

    gate.kill()                                   # SIGKILL mid-motion, stream still flowing
    restarted = time.monotonic()
    gate = _start_gate(node_processes, 'gate_restarted')
    _only_zeros_until_reset(world, restarted, gate)
    world.cmd = twist(0.0)
    time.sleep(1.0)
    assert _reset_estop().returncode == 0
    world.cmd = twist(0.3)
    world.out.wait(1, timeout=T, predicate=lambda m: m.linear.x > 0.05)
