"""The shared test helpers behave as documented (they guard every other package's tests)."""

import os
import time

import pytest
from std_msgs.msg import String
from vla_testing.lint import dynamic_log_severity, forbidden_imports
from vla_testing.ros import (MessageCollector, pick_domain_id, RosTestContext, wait_for,
                             wait_for_subscribers)


def test_wait_for_raises_with_description():
    with pytest.raises(AssertionError, match='the impossible'):
        wait_for(lambda: False, timeout=0.05, what='the impossible')


def test_wait_for_returns_when_true():
    start = time.monotonic()
    flag = {'t': start + 0.05}
    wait_for(lambda: time.monotonic() > flag['t'], timeout=2.0)
    assert time.monotonic() - start < 1.9


def test_domain_is_isolated(ros_domain):
    assert 1 <= ros_domain <= 100
    assert os.environ['ROS_DOMAIN_ID'] == str(ros_domain)
    assert 1 <= pick_domain_id(123456) <= 100


def test_collector_receives_in_process(ros):
    node = ros.create_node('helper_test')
    pub = node.create_publisher(String, 'helper_topic', 10)
    col = MessageCollector(node, String, 'helper_topic')
    wait_for_subscribers(pub)
    for i in range(3):
        pub.publish(String(data=f'm{i}'))
    assert col.wait(3, timeout=5).data == 'm2'
    with pytest.raises(AssertionError):
        col.wait(1, timeout=0.1, predicate=lambda m: m.data == 'never')


def test_forbidden_imports_detects_rclpy(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('import os\nfrom rclpy.node import Node\nimport geometry_msgs.msg\n')
    good = tmp_path / 'good.py'
    good.write_text('import math\nfrom . import sibling\n')
    problems = forbidden_imports([bad, good])
    assert len(problems) == 2 and all('bad.py' in p for p in problems)


def test_node_process_captures_output_and_stops(node_processes):
    proc = node_processes.python('import time\nprint("hello", flush=True)\ntime.sleep(60)',
                                 'sleeper')
    proc.wait_for_output('hello', timeout=10)
    assert proc.alive()
    proc.stop(timeout=2)
    assert not proc.alive()


def test_dynamic_log_severity_flags_sites_that_pick_a_logger_method(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('def f(log, ok, level, m):\n'
                   '    (log.info if ok else log.warn)("x")\n'
                   '    {"error": log.error}.get(level, log.info)("x")\n'
                   '    getattr(log, level)("x")\n')
    good = tmp_path / 'good.py'
    good.write_text('def f(log, ok):\n'
                    '    if ok:\n'
                    '        log.info("x")\n'
                    '    else:\n'
                    '        log.warning("x")\n'
                    '    getattr(log, "info")("y")\n')
    problems = dynamic_log_severity([bad, good])
    assert sorted(p.split(':')[1] for p in problems) == ['2', '3', '4']


@pytest.mark.filterwarnings('ignore::pytest.PytestUnhandledThreadExceptionWarning')
def test_a_raising_callback_is_recorded_as_the_spin_error(ros_domain):
    ctx = RosTestContext()
    try:
        node = ctx.create_node('raises_in_timer')

        def boom():
            raise ValueError('Logger severity cannot be changed between calls.')
        node.create_timer(0.01, boom)
        wait_for(lambda: ctx.spin_error is not None, timeout=5.0, what='the spin error')
        assert isinstance(ctx.spin_error, ValueError)
    finally:
        ctx.destroy()


def test_collector_wait_since_ignores_older_messages(ros):
    node = ros.create_node('since_probe')
    got = MessageCollector(node, String, 'since_topic')
    pub = node.create_publisher(String, 'since_topic', 10)
    wait_for_subscribers(pub, 1)
    pub.publish(String(data='old'))
    got.wait(1, timeout=5.0)
    t = time.monotonic()
    with pytest.raises(AssertionError):
        got.wait(1, timeout=0.3, since=t)
    pub.publish(String(data='new'))
    assert got.wait(1, timeout=5.0, since=t).data == 'new'


def test_interface_builds_are_cached_by_content(tmp_path, monkeypatch):
    """The test interface overlay is built once per content; a change or an unfinished build
    builds again (the real build runs in every launch_overlay test)."""
    from vla_testing import overlay

    built = []

    def build(packages, workspace):
        built.append(workspace.name)
        (workspace / 'install').mkdir(parents=True)
        return {}
    monkeypatch.setattr(overlay, 'build_interfaces', build)
    pkg = tmp_path / 'src' / 'my_interfaces'
    (pkg / 'msg').mkdir(parents=True)
    (pkg / 'msg' / 'A.msg').write_text('int32 a\n')
    cache = tmp_path / 'cache'
    env = overlay.cached_interfaces([pkg], cache)
    assert str(cache / built[0] / 'install' / 'my_interfaces') in env['AMENT_PREFIX_PATH']
    overlay.cached_interfaces([pkg], cache)
    assert len(built) == 1                              # reused
    (pkg / 'msg' / 'A.msg').write_text('int64 a\n')
    overlay.cached_interfaces([pkg], cache)
    assert len(built) == 2 and built[1] != built[0]     # another content, another build
    (cache / built[1] / 'BUILT').unlink()               # as if that build was interrupted
    overlay.cached_interfaces([pkg], cache)
    assert built == [built[0], built[1], built[1]]
