"""The launch-less runner: starts described nodes as processes, names a dead node, leaves no
orphans on Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

import pytest
from vla_bringup.runner import executable_path, parse_launch_arguments, StackRunner
from vla_bringup.stacks import NodeSpec, ParamFile, StackSpec
from vla_testing.ros import wait_for


def _gate(name):
    return NodeSpec(name, 'vla_safety', 'safety_gate',
                    (ParamFile('vla_safety', 'config/safety_gate.param.yaml'),))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f'/proc/{pid}/stat') as f:
        return f.read().split()[2] != 'Z'


def test_parse_launch_arguments():
    parsed = parse_launch_arguments(['sim:=mujoco', 'model:=/a:=b'])
    assert parsed == {'sim': 'mujoco', 'model': '/a:=b'}
    with pytest.raises(ValueError):
        parse_launch_arguments(['sim=mujoco'])


def test_missing_executable_is_named():
    with pytest.raises(FileNotFoundError, match='no_such_node'):
        executable_path('vla_safety', 'no_such_node')


@pytest.mark.stack
def test_dead_node_is_named_and_the_rest_stopped(ros_domain):
    lines = []
    runner = StackRunner(StackSpec('t', (_gate('gate_a'), _gate('gate_b'))),
                         log=lambda name, line: lines.append((name, line)))
    runner.start()
    try:
        wait_for(lambda: sum('safety gate up' in line for _, line in lines) == 2, 60,
                 what='both gates up')
        assert all(name in ('run_stack', 'gate_a', 'gate_b') for name, _ in lines)
        victim = next(h for h in runner.handles if h.name == 'gate_b')
        victim.signal(signal.SIGKILL)
        why = runner.wait(timeout=20)
        assert why == f'node gate_b exited with code {-signal.SIGKILL}'
    finally:
        runner.stop()
    assert all(h.poll() is not None for h in runner.handles)


@pytest.mark.stack
def test_cli_ctrl_c_leaves_no_orphans(ros_domain, tmp_path):
    params = tmp_path / 'p.yaml'
    params.write_text('/**:\n  ros__parameters:\n    require_scan: false\n'
                      'base_driver:\n  ros__parameters:\n    backend: sim\n')
    exe = executable_path('vla_bringup', 'run_stack')
    cmd = [exe, 'mobile', 'sim:=false', 'voice:=false', f'params_file:={params}',
           'model:=/nonexistent']
    out = subprocess.run(cmd + ['--print'], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert 'base_driver:' in out.stdout and 'camera' not in out.stdout.split('\n')[0]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(started) < 4:
        line = proc.stdout.readline()
        if line.startswith('[run_stack] starting'):
            started.append(line.split()[2].rstrip(':'))
    assert started == ['base_driver', 'safety_gate', 'policy_node', 'instruction_node']
    time.sleep(3.0)
    children = [int(p) for p in subprocess.run(
        ['pgrep', '-P', str(proc.pid)], capture_output=True, text=True).stdout.split()]
    assert len(children) == 4
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest[-2000:]
    wait_for(lambda: not any(_alive(pid) for pid in children), 10, what='children gone')


def test_python_version_floor():
    assert sys.version_info >= (3, 10)


def test_runner_applies_the_shipped_transport_profile(monkeypatch):
    from vla_bringup.runner import transport_profile
    monkeypatch.delenv('FASTDDS_DEFAULT_PROFILES_FILE', raising=False)
    monkeypatch.setenv('ROS_DISTRO', 'humble')
    assert transport_profile().endswith('/fastdds2_shm.xml')     # Fast DDS 2 names
    monkeypatch.setenv('ROS_DISTRO', 'kilted')
    profile = transport_profile()
    assert profile.endswith('/fastdds_shm.xml') and os.path.isfile(profile)
    text = open(profile).read()
    assert '<segment_size>16777216</segment_size>' in text
    runner = StackRunner(StackSpec('t', (_gate('g'),)))
    assert runner.env['FASTDDS_DEFAULT_PROFILES_FILE'] == profile
    monkeypatch.setenv('FASTDDS_DEFAULT_PROFILES_FILE', '/mine.xml')
    assert StackRunner(StackSpec('t', (_gate('g'),))).env[
        'FASTDDS_DEFAULT_PROFILES_FILE'] == '/mine.xml'
