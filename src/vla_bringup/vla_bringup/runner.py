"""Launch-less runner: start a described stack as separate node processes over real DDS.

On the target `ros2 launch vla_bringup mobile.launch.py` does this; here `launch` does not
exist, so `run_stack mobile sim:=mujoco model:=...` starts the same executables with the same
`--ros-args` (parameter files, parameters, remappings), prefixes their output with the node
name, and shuts every process down on Ctrl-C or as soon as one node dies (naming it).
Children get PR_SET_PDEATHSIG so they never outlive a runner that was killed.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, IO, List, Optional, Sequence

from vla_bringup.stacks import build_stack, NodeSpec, ros_args, StackSpec

_PR_SET_PDEATHSIG = 1


def executable_path(package: str, executable: str) -> str:
    """`<prefix>/lib/<package>/<executable>` of an installed ament package."""
    from ament_index_python.packages import get_package_prefix

    path = os.path.join(get_package_prefix(package), 'lib', package, executable)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f'executable {executable!r} of package {package!r} not found '
                                f'at {path} (is the workspace built?)')
    return path


#: ROS 2 distributions whose Fast DDS is 2.x: its XML names differ from Fast DDS 3's.
FASTDDS2_DISTROS = ('humble', 'iron', 'jazzy')


def transport_profile() -> str:
    """The shipped Fast DDS profile (large shared-memory segment, fast reliable repair) in the
    XML names of the Fast DDS that ROS_DISTRO ships, '' if not installed."""
    name = 'fastdds2_shm.xml' if os.environ.get('ROS_DISTRO', '') in FASTDDS2_DISTROS \
        else 'fastdds_shm.xml'
    try:
        from ament_index_python.packages import get_package_share_directory

        path = os.path.join(get_package_share_directory('vla_bringup'), 'config', name)
    except Exception:  # noqa: BLE001 - not installed
        return ''
    return path if os.path.isfile(path) else ''


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setsid()


class NodeProcessHandle:
    """A running node: its process, the thread forwarding its output, its exit code."""

    def __init__(self, spec: NodeSpec, cmd: List[str], env: Dict[str, str],
                 sink: Callable[[str, str], None]) -> None:
        self.spec = spec
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, preexec_fn=_die_with_parent)
        self._thread = threading.Thread(target=self._pump, args=(self.proc.stdout, sink),
                                        daemon=True, name=f'log-{spec.name}')
        self._thread.start()

    def _pump(self, stream: IO[bytes], sink: Callable[[str, str], None]) -> None:
        for raw in iter(stream.readline, b''):
            sink(self.spec.name, raw.decode('utf-8', errors='replace').rstrip('\n'))
        stream.close()

    @property
    def name(self) -> str:
        return self.spec.name

    def poll(self) -> Optional[int]:
        return self.proc.poll()

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def join_output(self, timeout: float = 2.0) -> None:
        self._thread.join(timeout)


class StackRunner:
    """Start, watch and stop the nodes of a StackSpec."""

    def __init__(self, stack: StackSpec, env: Optional[Dict[str, str]] = None,
                 log: Optional[Callable[[str, str], None]] = None,
                 extra_ros_args: Sequence[str] = (), prefix: Sequence[str] = ()) -> None:
        """`prefix` goes before every command line (e.g. `ip netns exec NS`: the nodes run
        in another network namespace; it must exec the command, keeping its process id)."""
        self.stack = stack
        self.prefix = list(prefix)
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault('PYTHONUNBUFFERED', '1')
        profile = transport_profile()
        if profile and 'FASTDDS_DEFAULT_PROFILES_FILE' not in self.env:
            self.env['FASTDDS_DEFAULT_PROFILES_FILE'] = profile
        self.env.setdefault('RCUTILS_COLORIZED_OUTPUT', '0')
        self.extra_ros_args = list(extra_ros_args)
        self._log = log or self._print
        self._lock = threading.Lock()
        self.handles: List[NodeProcessHandle] = []
        self.failed: Optional[str] = None

    def _print(self, name: str, line: str) -> None:
        with self._lock:
            sys.stdout.write(f'[{name}] {line}\n')
            sys.stdout.flush()

    def commands(self) -> Dict[str, List[str]]:
        """The command line of every node runnable here."""
        return {spec.name: [executable_path(spec.package, spec.executable)]
                + ros_args(spec) + self.extra_ros_args
                for spec in self.stack.runnable_here()}

    def start(self) -> None:
        skipped = [n.name for n in self.stack.nodes if n.target_only]
        if skipped:
            self._log('run_stack', f'skipping target-only nodes: {", ".join(skipped)}')
        for name, cmd in self.commands().items():
            spec = self.stack.node(name)
            self._log('run_stack', f'starting {name}: {" ".join(cmd)}')
            self.handles.append(NodeProcessHandle(spec, self.prefix + cmd, self.env,
                                                  self._log))

    def check(self) -> Optional[str]:
        """Name of the first node that has exited (with its code), or None while all run."""
        for h in self.handles:
            code = h.poll()
            if code is not None:
                return f'node {h.name} exited with code {code}'
        return None

    def wait(self, timeout: Optional[float] = None, poll: float = 0.1) -> Optional[str]:
        """Block until a node dies (returns why) or `timeout` passes (returns None)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            why = self.check()
            if why:
                self.failed = why
                return why
            time.sleep(poll)
        return None

    def stop(self, grace: float = 5.0) -> None:
        """SIGINT every node, then SIGTERM and SIGKILL the ones that linger."""
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            alive = [h for h in self.handles if h.poll() is None]
            if not alive:
                break
            for h in alive:
                h.signal(sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(h.poll() is None for h in alive):
                time.sleep(0.05)
        for h in self.handles:
            h.join_output()


def parse_launch_arguments(items: Sequence[str]) -> Dict[str, str]:
    """`['sim:=mujoco', 'model:=/path']` -> {'sim': 'mujoco', 'model': '/path'}."""
    out: Dict[str, str] = {}
    for item in items:
        if ':=' not in item:
            raise ValueError(f'expected name:=value, got {item!r}')
        key, value = item.split(':=', 1)
        out[key.strip()] = value
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='run_stack', description='Start a described stack (like ros2 launch, no launch).')
    parser.add_argument('stack', help='stack name: mobile or arm')
    parser.add_argument('arguments', nargs='*', help='launch arguments name:=value')
    parser.add_argument('--print', action='store_true', help='print the commands and exit')
    args = parser.parse_args(argv)
    try:
        launch_args = parse_launch_arguments(args.arguments)
        stack = build_stack(args.stack, **launch_args)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    runner = StackRunner(stack)
    if args.print:
        for name, cmd in runner.commands().items():
            print(f'{name}: {" ".join(cmd)}')
        return 0

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    runner.start()
    why = None
    try:
        while not stop.is_set():
            why = runner.wait(timeout=0.2)
            if why:
                break
    finally:
        if why:
            runner._log('run_stack', f'{why}: shutting the stack down')
        runner.stop()
    return 1 if why else 0


if __name__ == '__main__':
    sys.exit(main())
