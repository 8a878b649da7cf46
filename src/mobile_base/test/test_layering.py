"""Only nodes/ touch ROS: core, sim, backends and tools stay importable without rclpy."""

import pathlib

from vla_testing.lint import forbidden_imports

PKG = pathlib.Path(__file__).resolve().parents[1] / 'mobile_base'


def test_only_nodes_import_ros():
    files = [f for d in ('core', 'sim', 'backends', 'tools') for f in (PKG / d).rglob('*.py')]
    assert len(files) > 10
    assert forbidden_imports(files) == []


def test_core_does_not_import_mujoco_or_serial():
    problems = forbidden_imports(list((PKG / 'core').rglob('*.py')),
                                 forbidden=('rclpy', 'mujoco', 'serial'))
    assert problems == []
