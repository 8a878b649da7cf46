"""Workspace-wide checks: package metadata, the ament_python skeleton, flake8, pure cores."""

import pathlib
import re

import pytest
from catkin_pkg.package import parse_package
from vla_testing.lint import dynamic_log_severity, flake8, forbidden_imports

SRC = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.parent for p in SRC.glob('*/package.xml'))
PYTHON_PACKAGES = [p for p in PACKAGES if (p / 'setup.py').exists()]
EXPECTED = {'vla_msgs', 'vla_common', 'vla_safety', 'vla_policy_node', 'vla_instruction',
            'mobile_base', 'arm_sim', 'vla_bringup', 'vla_learning', 'vla_testing'}


def test_all_packages_present():
    assert {p.name for p in PACKAGES} == EXPECTED


@pytest.mark.parametrize('pkg', PACKAGES, ids=lambda p: p.name)
def test_package_xml_is_valid_format_3(pkg):
    package = parse_package(str(pkg / 'package.xml'))
    package.validate()
    assert package.package_format == 3
    assert package.name == pkg.name
    assert all(re.match(r'^[^@\s]+@[^@\s]+\.[a-z]+$', m.email) for m in package.maintainers)
    assert package.licenses


@pytest.mark.parametrize('pkg', PYTHON_PACKAGES, ids=lambda p: p.name)
def test_ament_python_skeleton(pkg):
    name = pkg.name
    assert (pkg / 'resource' / name).is_file()
    assert (pkg / name / '__init__.py').is_file()
    cfg = (pkg / 'setup.cfg').read_text()
    assert f'install_scripts=$base/lib/{name}' in cfg
    assert "extras_require={'test': ['pytest']}" in (pkg / 'setup.py').read_text(), \
        'colcon test only runs pytest when setup.py declares it'
    assert parse_package(str(pkg / 'package.xml')).get_build_type() == 'ament_python'


def test_flake8_clean():
    paths = [p for pkg in PYTHON_PACKAGES for p in (pkg,)]
    paths += [SRC.parent / 'scripts']
    problems = flake8(paths)
    assert not problems, '\n'.join(problems[:50])


def test_core_modules_do_not_import_rclpy():
    """Modules under a package's `core/`, `policies/`, `execution/` never import rclpy or msgs."""
    core_dirs = ('core', 'policies', 'execution')
    files = [f for pkg in PYTHON_PACKAGES for d in core_dirs
             for f in (pkg / pkg.name / d).rglob('*.py')]
    problems = forbidden_imports(files)
    assert not problems, '\n'.join(problems)


def test_no_logging_call_site_changes_severity():
    """rclpy raises ValueError when one call site logs at two severities (crashing a timer)."""
    files = [f for pkg in PYTHON_PACKAGES for f in (pkg / pkg.name).rglob('*.py')]
    problems = dynamic_log_severity(files)
    assert not problems, '\n'.join(problems)
