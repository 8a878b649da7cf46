"""Run and evaluate launch files with the real upstream `launch` / `launch_ros` (tests only).

Needs the vendored humble packages importable (the `launch_overlay` fixture puts them on
sys.path and into `.env` for children).

* `python -m vla_testing.launch_tools <package> <file.launch.py> [name:=value ...]` does what
  `ros2 launch` does (ros2launch is not vendored): one `LaunchService` running an
  `IncludeLaunchDescription(AnyLaunchDescriptionSource(file), launch_arguments)`; SIGINT shuts
  it down the way it shuts `ros2 launch` down.
* `expand(file, arguments)` walks a launch description in this process the way the
  LaunchService visits it (DeclareLaunchArgument, conditions, OpaqueFunction, includes,
  SetEnvironmentVariable: their real `visit`), but does not start processes: each launch_ros
  `Node` goes through its real substitution and parameter evaluation (`_perform_substitutions`,
  the first half of `Node.execute`) and comes back as the command-line tail it would run with,
  plus the parameters that tail gives the node (parameter files layered like rcl does).
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml


@dataclass
class ResolvedNode:
    """A launch_ros Node after substitution: what it would be started with."""

    package: str
    executable: str
    name: str
    namespace: str
    ros_args: List[str]
    parameters: Dict[str, Any]
    remappings: List[Tuple[str, str]]


@dataclass
class Expansion:
    """Everything a launch file would do, without starting processes."""

    nodes: List[ResolvedNode] = field(default_factory=list)
    #: packages whose launch files are included but are not installed here (target only)
    external_includes: List[str] = field(default_factory=list)
    environment: Dict[str, str] = field(default_factory=dict)
    configurations: Dict[str, str] = field(default_factory=dict)
    #: messages of the LogInfo actions that ran
    log: List[str] = field(default_factory=list)

    def node(self, name: str) -> ResolvedNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f'no node {name!r}; launched: {[n.name for n in self.nodes]}')


def find_launch_file(package: str, file_name: str) -> str:
    """`share/<package>/**/<file_name>` of an installed package (what ros2launch searches)."""
    from ament_index_python.packages import get_package_share_directory

    share = get_package_share_directory(package)
    matches = sorted(glob.glob(os.path.join(share, '**', file_name), recursive=True))
    if not matches:
        raise FileNotFoundError(f'no {file_name} in {share}')
    return matches[0]


def _node_keys(name: str, namespace: str) -> set:
    full = (namespace.rstrip('/') + '/' + name) if namespace not in ('', '/') else '/' + name
    return {'/**', '**', name, '/' + name, full, full.lstrip('/')}


def parameters_from_args(ros_args: Sequence[str], name: str, namespace: str) -> Dict[str, Any]:
    """The parameters `--ros-args` give node `name`: files in order, then `-p` overrides."""
    from vla_common.params import flatten_parameters

    params: Dict[str, Any] = {}
    keys = _node_keys(name, namespace)
    args = list(ros_args)
    for i, arg in enumerate(args[:-1]):
        if arg == '--params-file':
            with open(args[i + 1], encoding='utf-8') as f:
                data = yaml.safe_load(f) or {}
            for key, section in data.items():
                if key in keys and isinstance(section, dict):
                    flatten_parameters(section.get('ros__parameters', {}), params)
        elif arg == '-p':
            pname, _, value = args[i + 1].partition(':=')
            params[pname] = yaml.safe_load(value)
    return params


def _resolve_node(node: Any, context: Any) -> ResolvedNode:
    from launch.utilities import perform_substitutions

    node._perform_substitutions(context)  # the part of Node.execute before the process starts
    ros_specific: Dict[str, Any] = {}
    if node.node_name and '<node_name_unspecified>' not in node.node_name:
        ros_specific['name'] = f'__node:={node.node_name.rsplit("/", 1)[-1]}'
    namespace = node.expanded_node_namespace or ''
    if namespace == node.UNSPECIFIED_NODE_NAMESPACE:
        namespace = ''
    if namespace not in ('', '/'):
        ros_specific['ns'] = f'__ns:={namespace}'
    context.extend_locals({'ros_specific_arguments': ros_specific})
    tail = [perform_substitutions(context, part) for part in node.cmd[1:]]
    name = node.node_name.rsplit('/', 1)[-1]
    return ResolvedNode(package=node.node_package, executable=node.node_executable, name=name,
                        namespace=namespace, ros_args=tail,
                        parameters=parameters_from_args(tail, name, namespace),
                        remappings=list(node.expanded_remapping_rules or []))


def expand(path: str, arguments: Optional[Dict[str, str]] = None,
           target_only_packages: Sequence[str] = ()) -> Expansion:
    """Visit the launch file at `path` with `arguments`; see the module docstring.

    An included launch file of a package in `target_only_packages` that is not installed here
    is recorded in `external_includes` instead of being followed; any other failure raises.
    """
    from ament_index_python.packages import PackageNotFoundError
    from launch import LaunchContext
    from launch.actions import IncludeLaunchDescription, LogInfo
    from launch.launch_description_sources import AnyLaunchDescriptionSource
    from launch.utilities import perform_substitutions
    from launch_ros.actions import Node

    arguments = dict(arguments or {})
    context = LaunchContext(argv=[f'{k}:={v}' for k, v in arguments.items()])
    result = Expansion()

    def walk(entity: Any) -> None:
        if isinstance(entity, Node):
            if entity.condition is None or entity.condition.evaluate(context):
                result.nodes.append(_resolve_node(entity, context))
            return
        if isinstance(entity, LogInfo):
            if entity.condition is None or entity.condition.evaluate(context):
                result.log.append(perform_substitutions(context, entity.msg))
            return
        try:
            subs = entity.visit(context)
        except PackageNotFoundError as exc:
            missing = [p for p in target_only_packages if f"'{p}'" in str(exc)]
            if isinstance(entity, IncludeLaunchDescription) and missing:
                result.external_includes.append(missing[0])
                return
            raise
        for sub in subs or []:
            walk(sub)

    saved = os.environ.copy()  # humble's launch sets variables in os.environ itself
    try:
        walk(IncludeLaunchDescription(AnyLaunchDescriptionSource(path),
                                      launch_arguments=list(arguments.items())))
        result.environment = {k: v for k, v in os.environ.items() if saved.get(k) != v}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    result.configurations = dict(context.launch_configurations)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`ros2 launch <package> <file> [name:=value ...]` (or `<path> [name:=value ...]`)."""
    from launch import LaunchDescription, LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import AnyLaunchDescriptionSource

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print('usage: launch_tools <package> <file.launch.py> [name:=value ...]',
              file=sys.stderr)
        return 2
    if os.path.isfile(args[0]):
        path, rest = args[0], args[1:]
    else:
        path, rest = find_launch_file(args[0], args[1]), args[2:]
    launch_arguments = [tuple(a.split(':=', 1)) for a in rest]
    bad = [a for a in rest if ':=' not in a]
    if bad:
        print(f'expected name:=value, got {bad}', file=sys.stderr)
        return 2
    service = LaunchService(argv=rest)
    service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
        AnyLaunchDescriptionSource(path), launch_arguments=launch_arguments)]))
    return service.run()


if __name__ == '__main__':
    sys.exit(main())


def descendants(pid: int) -> List[int]:
    """Every live process below `pid` (children, grandchildren, ...), from /proc."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat', encoding='utf-8') as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class LaunchProcess:
    """`ros2 launch <package> <file> args` in a child process (this module's `main`).

    Has the interface EpisodeSession uses of a runner: `start()`, `check()` (why the stack
    is broken: launch exited or a node process died, else None) and `stop()` (SIGINT to the
    launch process group, as Ctrl-C in its terminal, then waits; SIGKILL to the group only
    as a last resort after `grace`).
    """

    def __init__(self, package: str, file_name: str, arguments: Dict[str, str],
                 env: Dict[str, str], log_path: str) -> None:
        self.cmd = [sys.executable, '-u', '-m', 'vla_testing.launch_tools', package, file_name]
        self.cmd += [f'{k}:={v}' for k, v in arguments.items()]
        self.env = dict(os.environ)
        self.env.update(env)
        self.env.setdefault('PYTHONUNBUFFERED', '1')
        self.log_path = log_path
        self.proc: Optional[Any] = None
        self.returncode: Optional[int] = None

    def start(self) -> None:
        import subprocess

        self._log = open(self.log_path, 'wb')  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True)

    def output(self) -> str:
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', errors='replace')

    def check(self) -> Optional[str]:
        if self.proc is None:
            return 'launch not started'
        code = self.proc.poll()
        if code is not None:
            return f'launch exited with code {code}'
        died = [ln for ln in self.output().splitlines() if 'process has died' in ln]
        return died[0] if died else None

    def stop(self, grace: float = 90.0) -> Optional[int]:
        import signal
        import subprocess

        if self.proc is None:
            return None
        if self.proc.poll() is None:
            # Ctrl-C in a terminal signals the whole foreground process group: launch and the
            # nodes it started (which stay in its group). Launch relies on that: on a SIGINT
            # shutdown it does not forward SIGINT, it only escalates to SIGTERM after
            # `sigterm_timeout` for the nodes still running.
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        self.returncode = self.proc.returncode
        return self.returncode
