"""Shared fixtures of the vla_safety tests: core harnesses and the installed gate executable."""

import math
import os
import pathlib
from typing import Any, Callable, Dict, Optional

import pytest
import yaml
from vla_common.planar import Twist2D
from vla_safety.core.config import build
from vla_safety.core.gate import ArmGate, ArmInput, BaseGate
from vla_testing.gate_driver import GateDriver, HOME_Q, twist

CLEAR_SCAN = dict(angle_min=-math.pi, angle_increment=math.pi / 180, range_min=0.05,
                  range_max=6.0, ranges=[5.0] * 360)


class BaseHarness:
    """A BaseGate plus helpers that feed the required inputs at a time `t`."""

    def __init__(self, overrides: Dict[str, Any]) -> None:
        self.settings, self.config = build(overrides)
        self.gate = BaseGate(self.config)
        self.pose = (0.0, 0.0, 0.0)
        self.scan = dict(CLEAR_SCAN)

    def sensors(self, t: float) -> None:
        self.gate.on_heartbeat(t)
        self.gate.on_odom(*self.pose, t)
        s = self.scan
        self.gate.on_scan(s['angle_min'], s['angle_increment'], s['range_min'],
                          s['range_max'], s['ranges'], t)

    def command(self, t: float, vx: float = 0.0, vy: float = 0.0, wz: float = 0.0):
        """Feed sensors + a command at t and return the decision at t."""
        self.sensors(t)
        self.gate.on_command(Twist2D(vx, vy, wz), t)
        return self.gate.step(t)

    def run(self, t0: float, t1: float, vx=0.0, vy=0.0, wz=0.0, dt: float = 0.02):
        """Command at every tick from t0 to t1; return the last decision."""
        n = max(1, int(round((t1 - t0) / dt)))
        d = None
        for i in range(n + 1):
            d = self.command(t0 + i * dt, vx, vy, wz)
        return d


class ArmHarness:
    """An ArmGate plus helpers."""

    def __init__(self, overrides: Dict[str, Any]) -> None:
        values = {'mode': 'arm'}
        values.update(overrides)
        self.settings, self.config = build(values)
        self.gate = ArmGate(self.config)
        self.q = HOME_Q
        self.names = list(self.config.limits.arm.joint_names)

    def sensors(self, t: float) -> None:
        self.gate.on_heartbeat(t)
        self.gate.on_joint_states(self.names, list(self.q), t)

    def send(self, t: float, cmd: ArmInput, step: bool = True):
        self.sensors(t)
        self.gate.on_command(cmd, t)
        return self.gate.step(t) if step else None


@pytest.fixture
def make_base() -> Callable[..., BaseHarness]:
    return lambda **overrides: BaseHarness(overrides)


@pytest.fixture
def make_arm() -> Callable[..., ArmHarness]:
    return lambda **overrides: ArmHarness(overrides)


@pytest.fixture
def home_q():
    return HOME_Q


# --- node tests -------------------------------------------------------------------------------
def _package_prefix() -> pathlib.Path:
    try:
        from ament_index_python.packages import get_package_prefix
        return pathlib.Path(get_package_prefix('vla_safety'))
    except Exception:  # noqa: BLE001 - fall back to AMENT_PREFIX_PATH
        for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
            if (pathlib.Path(prefix) / 'lib' / 'vla_safety' / 'safety_gate').exists():
                return pathlib.Path(prefix)
    raise RuntimeError('vla_safety is not installed: run scripts/setup.sh')


@pytest.fixture(scope='session')
def gate_executable() -> str:
    path = _package_prefix() / 'lib' / 'vla_safety' / 'safety_gate'
    if not path.exists():
        pytest.fail(f'{path} missing: run scripts/setup.sh')
    return str(path)


@pytest.fixture(scope='session')
def shipped_config() -> Callable[[str], pathlib.Path]:
    share = _package_prefix() / 'share' / 'vla_safety' / 'config'
    return lambda name: share / name


@pytest.fixture
def param_file(tmp_path, shipped_config) -> Callable[..., str]:
    """Write the shipped defaults of a mode with `overrides` (dotted names) to a temp file."""
    def write(mode: str = 'base', overrides: Optional[Dict[str, Any]] = None) -> str:
        name = 'safety_gate.param.yaml' if mode == 'base' else 'safety_gate_arm.param.yaml'
        data = yaml.safe_load(shipped_config(name).read_text())
        params = data['/**']['ros__parameters']
        for key, value in (overrides or {}).items():
            node = params
            parts = key.split('.')
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        path = tmp_path / f'gate_{mode}_{len(list(tmp_path.iterdir()))}.yaml'
        path.write_text(yaml.safe_dump(data))
        return str(path)
    return write


@pytest.fixture
def start_gate(node_processes, param_file, gate_executable) -> Callable[..., Any]:
    """Start the installed `safety_gate` in its own process with shipped defaults + overrides."""
    def start(mode: str = 'base', overrides: Optional[Dict[str, Any]] = None,
              name: str = 'gate') -> Any:
        proc = node_processes([gate_executable, '--ros-args', '--params-file',
                               param_file(mode, overrides)], name)
        proc.wait_for_output('safety gate up', timeout=60.0)
        return proc
    return start


@pytest.fixture
def driver(ros) -> Callable[..., GateDriver]:
    return lambda mode='base', **kw: GateDriver(ros, mode, **kw)


@pytest.fixture
def make_twist() -> Callable[..., Any]:
    return twist
