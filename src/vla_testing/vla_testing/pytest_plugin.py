"""pytest plugin (entry point `pytest11`) with fixtures for rclpy tests.

Fixtures:
  ros_domain     session: an isolated ROS_DOMAIN_ID for this pytest session (set before any
                 rclpy.init, inherited by child processes).
  ros            function: a RosTestContext (own rclpy context + spinning executor), torn down
                 after the test.
  node_processes function: a factory that starts NodeProcess objects and stops them (no orphans)
                 after the test; their logs are printed when the test fails.
"""

from __future__ import annotations

import os
import pathlib
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List

import pytest

from vla_testing.overlay import (cached_interfaces, extract_launch, find_launch_archive,
                                 interface_fixtures, prepend_paths, workspace_root)
from vla_testing.ros import isolate_ros_environment, NodeProcess, pick_domain_id, RosTestContext


@pytest.fixture(scope='session')
def ros_domain() -> int:
    """Isolated ROS_DOMAIN_ID for the whole session (honours an explicit VLA_TEST_DOMAIN_ID)."""
    explicit = os.environ.get('VLA_TEST_DOMAIN_ID')
    domain = int(explicit) if explicit else pick_domain_id()
    isolate_ros_environment(domain)
    return domain


@pytest.fixture
def ros(ros_domain: int) -> Iterator[RosTestContext]:
    """A fresh rclpy context with a background executor; nodes are destroyed afterwards."""
    ctx = RosTestContext()
    try:
        yield ctx
    finally:
        ctx.destroy()
    if ctx.spin_error is not None:
        # A node callback crashed: the nodes stopped spinning, so say why instead of letting
        # the test report only a missing message.
        pytest.fail(f'a callback raised in the test executor and stopped it: '
                    f'{type(ctx.spin_error).__name__}: {ctx.spin_error}', pytrace=False)


@pytest.fixture
def node_processes(ros_domain: int, tmp_path: Any,
                   request: pytest.FixtureRequest) -> Iterator[Callable[..., NodeProcess]]:
    """Factory: `start(args, name)` or `start.python(code, name)` -> NodeProcess."""
    started: List[NodeProcess] = []

    def start(args: List[str], name: str, **kwargs: Any) -> NodeProcess:
        proc = NodeProcess(args, name, str(tmp_path), **kwargs)
        started.append(proc)
        return proc

    def start_python(code: str, name: str, **kwargs: Any) -> NodeProcess:
        proc = NodeProcess.python(code, name, str(tmp_path), **kwargs)
        started.append(proc)
        return proc

    start.python = start_python  # type: ignore[attr-defined]
    yield start
    failed = getattr(request.node, 'rep_call', None) is not None and request.node.rep_call.failed
    for proc in started:
        proc.stop()
        if failed:
            print(f'\n----- output of {proc.name} ({proc.args}) -----\n{proc.output()[-5000:]}')


@pytest.fixture(scope='session')
def test_interfaces() -> Dict[str, str]:
    """Every test-only interface package, built (or taken from the workspace's cache of the
    same build); its environment."""
    packages = interface_fixtures()
    assert packages, f'no test interface packages under {workspace_root()}/src/*/test/fixtures'
    return cached_interfaces(packages)


@dataclass(frozen=True)
class LaunchOverlay:
    """Where the upstream launch packages were extracted, and the environment for children."""

    path: pathlib.Path
    env: Dict[str, str]


@pytest.fixture(scope='session')
def launch_overlay(tmp_path_factory: Any, test_interfaces: Dict[str, str]) -> LaunchOverlay:
    """The vendored humble launch/launch_ros, importable here and in child processes."""
    archive = find_launch_archive()
    if archive is None:
        pytest.skip('the vendored upstream launch archive (shared/vendor/ros2-launch-humble'
                    f'.tar.gz beside {workspace_root()} or an ancestor, or $VLA_LAUNCH_ARCHIVE) '
                    'is absent: the launch files cannot run with the real launch_ros here')
    path = extract_launch(archive, tmp_path_factory.mktemp('launch_overlay'))
    python_paths = [str(path)] + test_interfaces['PYTHONPATH'].split(os.pathsep)
    for entry in reversed(python_paths):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    env = prepend_paths(dict(test_interfaces, PYTHONPATH=os.pathsep.join(python_paths)))
    return LaunchOverlay(path, env)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    """Record each phase's report on the item so fixtures can see whether the test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, 'rep_' + rep.when, rep)
