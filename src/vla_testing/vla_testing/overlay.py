"""Temporary overlays of upstream ROS 2 code that has no wheels, for tests.

* The vendored upstream `launch`, `launch_xml`, `launch_yaml` and `launch_ros` (humble branch,
  unmodified, pure Python: `shared/vendor/ros2-launch-humble.tar.gz`, see its SOURCE.txt) are
  extracted into a temporary directory that goes on `PYTHONPATH` (subprocesses) or `sys.path`
  (in-process evaluation). Their PyPI dependencies (osrf-pycommon, lark) come from
  requirements/python.txt.
* Test-only interface packages (`src/*/test/fixtures/<pkg>` with a package.xml in the
  `rosidl_interface_packages` group, e.g. composition_interfaces, which launch_ros imports at
  import time) are built with colcon into one prefix, cached under the workspace's `build/`
  (`cached_interfaces`): the build (minutes on a loaded 2-core machine) runs again only when
  those packages, the interpreter or the ROS installation change. (RealMan's rm_ros_interfaces
  is not test-only: the arm stack runs on it, and scripts/setup.sh builds
  third_party/rm_ros_interfaces into the workspace.)

The pytest fixtures `launch_overlay` and `test_interfaces` (vla_testing.pytest_plugin) wrap
these and skip only where the archive is absent.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
from typing import Dict, List, Optional, Sequence

ARCHIVE_NAME = 'ros2-launch-humble.tar.gz'
LAUNCH_PACKAGES = ('launch', 'launch_ros', 'launch_xml', 'launch_yaml')


def workspace_root() -> pathlib.Path:
    """The repository root: $VLA_WS (scripts/activate.sh) or this source file's checkout."""
    explicit = os.environ.get('VLA_WS')
    if explicit:
        return pathlib.Path(explicit)
    return pathlib.Path(__file__).resolve().parents[3]


def find_launch_archive(start: Optional[pathlib.Path] = None) -> Optional[pathlib.Path]:
    """$VLA_LAUNCH_ARCHIVE, else `shared/vendor/<archive>` beside the repo or an ancestor.

    CI clones the repo next to a copy of `shared/`; a git worktree may sit deeper.
    """
    explicit = os.environ.get('VLA_LAUNCH_ARCHIVE')
    if explicit:
        path = pathlib.Path(explicit)
        return path if path.is_file() else None
    start = (start or workspace_root()).resolve()
    for parent in (start, *start.parents):
        candidate = parent / 'shared' / 'vendor' / ARCHIVE_NAME
        if candidate.is_file():
            return candidate
    return None


def extract_launch(archive: pathlib.Path, dest: pathlib.Path) -> pathlib.Path:
    """Extract the archive under `dest`; return the directory that holds the packages."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            target = (dest / member.name).resolve()
            if not (member.isfile() or member.isdir()) or dest.resolve() not in target.parents:
                raise ValueError(f'{archive}: refusing archive member {member.name!r}')
        tar.extractall(dest, members=members)  # noqa: S202 - members checked above
    roots = {pathlib.PurePosixPath(m.name).parts[0] for m in members}
    for root in sorted(roots):
        base = dest / root
        if all((base / pkg / '__init__.py').is_file() for pkg in LAUNCH_PACKAGES):
            return base
    raise ValueError(f'{archive} does not hold {", ".join(LAUNCH_PACKAGES)}')


def interface_fixtures(root: Optional[pathlib.Path] = None) -> List[pathlib.Path]:
    """Every test-only interface package of the workspace (src/*/test/fixtures/<pkg>)."""
    root = root or workspace_root()
    found = []
    for package_xml in sorted(root.glob('src/*/test/fixtures/*/package.xml')):
        if 'rosidl_interface_packages' in package_xml.read_text(encoding='utf-8'):
            found.append(package_xml.parent)
    return found


def build_interfaces(packages: Sequence[pathlib.Path], workspace: pathlib.Path) -> Dict[str, str]:
    """colcon-build `packages` in `workspace`; return the environment that sees them."""
    src = workspace / 'src'
    src.mkdir(parents=True, exist_ok=True)
    for package in packages:
        shutil.copytree(package, src / package.name)
    colcon = shutil.which('colcon') or str(pathlib.Path(sys.prefix) / 'bin' / 'colcon')
    result = subprocess.run(
        [colcon, 'build', '--cmake-args', f'-DPython3_EXECUTABLE={sys.executable}',
         '-DBUILD_TESTING=OFF'], cwd=workspace, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError('building the test interface packages failed:\n'
                           + result.stdout[-3000:] + result.stderr[-3000:])
    return interfaces_env(packages, workspace)


def interfaces_env(packages: Sequence[pathlib.Path], workspace: pathlib.Path) -> Dict[str, str]:
    """The environment that sees `packages` built in `workspace`."""
    env: Dict[str, List[str]] = {'PYTHONPATH': [], 'LD_LIBRARY_PATH': [],
                                 'AMENT_PREFIX_PATH': []}
    for package in packages:
        prefix = workspace / 'install' / package.name
        env['PYTHONPATH'] += [str(p) for p in prefix.glob('lib/python3*/site-packages')]
        env['LD_LIBRARY_PATH'].append(str(prefix / 'lib'))
        env['AMENT_PREFIX_PATH'].append(str(prefix))
    return {key: os.pathsep.join(values) for key, values in env.items()}


def _interfaces_key(packages: Sequence[pathlib.Path]) -> str:
    """What a build of `packages` depends on: their files, the interpreter, the ROS
    installation (the rosidl generators and AMENT_PREFIX_PATH)."""
    import rosidl_generator_py

    digest = hashlib.sha256()
    generators = pathlib.Path(rosidl_generator_py.__file__).parent
    for part in (sys.executable, os.environ.get('AMENT_PREFIX_PATH', ''), str(generators),
                 str(generators.stat().st_mtime_ns)):
        digest.update(part.encode('utf-8') + b'\0')
    for package in packages:
        for path in sorted(p for p in package.rglob('*') if p.is_file()):
            digest.update(str(path.relative_to(package.parent)).encode('utf-8') + b'\0')
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def cached_interfaces(packages: Sequence[pathlib.Path],
                      cache: Optional[pathlib.Path] = None) -> Dict[str, str]:
    """`build_interfaces` into `cache`/<key> (default the workspace's build/test_interfaces),
    reused while the key (`_interfaces_key`) is unchanged. Sessions running at once wait for
    one build; a build that did not finish is redone."""
    cache = cache or workspace_root() / 'build' / 'test_interfaces'
    cache.mkdir(parents=True, exist_ok=True)
    workspace = cache / _interfaces_key(packages)
    with open(cache / '.lock', 'w', encoding='utf-8') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (workspace / 'BUILT').is_file():
            shutil.rmtree(workspace, ignore_errors=True)
            build_interfaces(packages, workspace)
            (workspace / 'BUILT').write_text('\n'.join(str(p) for p in packages) + '\n',
                                             encoding='utf-8')
    return interfaces_env(packages, workspace)


def prepend_paths(env: Dict[str, str], base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """`env`'s path lists in front of the same variables of `base` (default os.environ)."""
    base = dict(os.environ if base is None else base)
    out = {}
    for key, value in env.items():
        rest = base.get(key, '')
        out[key] = value + (os.pathsep + rest if rest and value else rest)
    return out
