"""Preflight of the policy node: may this machine run this model now?

Checks, each with a level (OK / WARN / ERROR) and the figures it is based on:
  device        Jetson model, L4T / JetPack release ('not a Jetson' elsewhere)
  power_mode    nvpmodel mode (`nvpmodel -q`, or the status file it writes) vs the required one
  clocks        GPU/CPU devfreq min == max (what `jetson_clocks` sets) - WARN when not locked,
                ERROR when `require_locked_clocks`
  memory        MemAvailable vs the model's budget (policies/budgets.py)
  gpu_temp      the GPU thermal zone vs `max_gpu_temp_c`
  engine        a TensorRT engine's recorded device/TensorRT version vs this device
Any ERROR refuses the model (the node reports it and sends no commands). On a machine that
is not a Jetson only memory is checked.

Everything is read from files under `root` ('/' on a real system) and from commands through
an injected `run`, so the checks are tested with a faked /sys and /proc. No rclpy here.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

OK, WARN, ERROR = 0, 1, 2
LEVEL_NAMES = {OK: 'OK', WARN: 'WARN', ERROR: 'ERROR'}
#: L4T major.minor -> JetPack (JetPack 6 = L4T r36).
JETPACK_BY_L4T = {'36.2': '6.0 DP', '36.3': '6.0', '36.4': '6.1/6.2', '35.4': '5.1.2',
                  '35.5': '5.1.3', '35.6': '5.1.4'}

Runner = Callable[[Sequence[str]], Optional[str]]


def run_command(argv: Sequence[str], timeout: float = 3.0) -> Optional[str]:
    """stdout of `argv`, or None when it is absent, fails or hangs."""
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _read(root: str, path: str, nul: str = '') -> Optional[str]:
    try:
        with open(os.path.join(root, path.lstrip('/')), 'rb') as f:
            return f.read().decode('utf-8', 'replace').replace('\x00', nul).strip()
    except OSError:
        return None


@dataclass(frozen=True)
class DeviceInfo:
    """What the machine is. `model` is the device-tree model string on a Jetson."""

    is_jetson: bool
    model: str = ''
    soc: str = ''
    l4t: str = ''
    jetpack: str = ''

    def describe(self) -> str:
        if not self.is_jetson:
            return 'not a Jetson'
        return f'{self.model} (L4T {self.l4t or "?"}, JetPack {self.jetpack or "?"})'


def read_device_info(root: str = '/') -> DeviceInfo:
    """From /proc/device-tree/{model,compatible} and /etc/nv_tegra_release."""
    model = _read(root, '/proc/device-tree/model') or ''
    compatible = _read(root, '/proc/device-tree/compatible', nul='\n') or ''
    release = _read(root, '/etc/nv_tegra_release') or ''
    is_jetson = 'jetson' in model.lower() or 'nvidia,tegra' in compatible or bool(release)
    if not is_jetson:
        return DeviceInfo(False)
    l4t = ''
    m = re.search(r'R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)', release)
    if m:
        l4t = f'{m.group(1)}.{m.group(2)}'
    jetpack = JETPACK_BY_L4T.get('.'.join(l4t.split('.')[:2]), '')
    soc = next((c for c in compatible.split('\n') if c), '')
    return DeviceInfo(True, model, soc, l4t, jetpack)


@dataclass(frozen=True)
class Limits:
    """The node's preflight parameters."""

    memory_reserve_mb: float = 512.0
    max_gpu_temp_c: float = 85.0
    required_power_mode: str = ''
    require_locked_clocks: bool = False


@dataclass(frozen=True)
class Check:
    name: str
    level: int
    message: str
    values: Tuple[Tuple[str, str], ...] = ()


@dataclass
class PreflightReport:
    device: DeviceInfo
    checks: List[Check] = field(default_factory=list)

    @property
    def level(self) -> int:
        return max((c.level for c in self.checks), default=OK)

    @property
    def ok(self) -> bool:
        return self.level < ERROR

    def errors(self) -> List[str]:
        return [f'{c.name}: {c.message}' for c in self.checks if c.level == ERROR]

    def summary(self) -> str:
        worst = [c for c in self.checks if c.level == self.level and c.level > OK]
        if not worst:
            return f'preflight OK ({self.device.describe()})'
        return 'preflight ' + LEVEL_NAMES[self.level] + ': ' + '; '.join(
            f'{c.name}: {c.message}' for c in worst)

    def values(self) -> Dict[str, str]:
        out = {'device': self.device.describe()}
        for c in self.checks:
            out[f'{c.name}'] = f'{LEVEL_NAMES[c.level]}: {c.message}'
            out.update({f'{c.name}.{k}': v for k, v in c.values})
        return out


# --------------------------------------------------------------------------- readings

def mem_available_mb(root: str = '/') -> Optional[float]:
    text = _read(root, '/proc/meminfo') or ''
    m = re.search(r'^MemAvailable:\s+(\d+)\s*kB', text, re.M)
    return int(m.group(1)) / 1024.0 if m else None


def gpu_temperature_c(root: str = '/') -> Optional[Tuple[str, float]]:
    """(zone type, degrees C) of the GPU thermal zone (`gpu-thermal` on Orin)."""
    best: Optional[Tuple[str, float]] = None
    for zone in sorted(glob.glob(os.path.join(root, 'sys/class/thermal/thermal_zone*'))):
        kind = (_read(zone, 'type') or '').lower()
        raw = _read(zone, 'temp')
        if 'gpu' not in kind or raw is None:
            continue
        try:
            value = int(raw) / 1000.0
        except ValueError:
            continue
        if best is None or value > best[1]:
            best = (kind, value)
    return best


def power_mode(root: str = '/', run: Runner = run_command) -> Optional[str]:
    """The nvpmodel mode name (e.g. 'MAXN', '25W'), from `nvpmodel -q` or its status file."""
    out = run(['nvpmodel', '-q'])
    text = out if out is not None else (_read(root, '/var/lib/nvpmodel/status') or '')
    m = re.search(r'NV Power Mode:\s*(\S+)', text)
    if m:
        return m.group(1)
    m = re.search(r'pmode:\s*(\S+)', text)  # the status file: "pmode:0000" (mode id)
    return f'id {int(m.group(1))}' if m and m.group(1).isdigit() else None


def clock_state(root: str = '/') -> Dict[str, Tuple[int, int, int]]:
    """{'gpu': (min, max, cur), 'cpu0': ...} in Hz/kHz as the kernel reports them."""
    out: Dict[str, Tuple[int, int, int]] = {}
    for dev in sorted(glob.glob(os.path.join(root, 'sys/class/devfreq/*'))):
        name = os.path.basename(dev)
        if 'gpu' not in name and 'ga10b' not in (_read(dev, 'device/of_node/name') or ''):
            continue
        vals = [_read(dev, f) for f in ('min_freq', 'max_freq', 'cur_freq')]
        if all(v and v.isdigit() for v in vals):
            out['gpu'] = tuple(int(v) for v in vals)  # type: ignore[assignment]
    for cpu in sorted(glob.glob(os.path.join(root, 'sys/devices/system/cpu/cpu[0-9]*')))[:1]:
        vals = [_read(cpu, f'cpufreq/scaling_{f}_freq') for f in ('min', 'max', 'cur')]
        if all(v and v.isdigit() for v in vals):
            out[os.path.basename(cpu)] = tuple(int(v) for v in vals)  # type: ignore[assignment]
    return out


# --------------------------------------------------------------------------- checks

def check_memory(verdict: Optional[object], available: Optional[float]) -> Check:
    """`verdict` is a budgets.MemoryVerdict (None: no budget for the model)."""
    if available is None:
        return Check('memory', WARN, 'MemAvailable unreadable: memory not checked')
    if verdict is None:
        return Check('memory', WARN, f'no budget for this model; {available:.0f} MiB available',
                     (('available_mb', f'{available:.0f}'),))
    level = OK if getattr(verdict, 'ok') else ERROR
    return Check('memory', level, str(getattr(verdict, 'message')),
                 (('available_mb', f'{available:.0f}'),
                  ('need_mb', f'{getattr(verdict, "need_mb"):.0f}')))


def check_power(mode: Optional[str], limits: Limits) -> Check:
    if mode is None:
        level = ERROR if limits.required_power_mode else WARN
        return Check('power_mode', level, 'nvpmodel mode unknown (nvpmodel absent, e.g. in a '
                     'container without /var/lib/nvpmodel)')
    if limits.required_power_mode and mode.upper() != limits.required_power_mode.upper():
        return Check('power_mode', ERROR, f'power mode {mode}, required '
                     f'{limits.required_power_mode} (sudo nvpmodel -m <id>)', (('mode', mode),))
    return Check('power_mode', OK, f'power mode {mode}', (('mode', mode),))


def check_clocks(clocks: Dict[str, Tuple[int, int, int]], limits: Limits) -> Check:
    if 'gpu' not in clocks:
        return Check('clocks', ERROR if limits.require_locked_clocks else WARN,
                     'GPU clock unreadable (/sys/class/devfreq)')
    values = tuple((f'{k}_cur', str(v[2])) for k, v in clocks.items())
    unlocked = [k for k, (lo, hi, _) in clocks.items() if lo != hi]
    if unlocked:
        level = ERROR if limits.require_locked_clocks else WARN
        return Check('clocks', level, f'{", ".join(unlocked)} clocks not locked at maximum '
                     '(sudo jetson_clocks): latency varies with DVFS', values)
    return Check('clocks', OK, 'clocks locked (jetson_clocks)', values)


def check_temperature(reading: Optional[Tuple[str, float]], limits: Limits) -> Check:
    if reading is None:
        return Check('gpu_temp', WARN, 'no GPU thermal zone found')
    zone, temp = reading
    values = (('zone', zone), ('temp_c', f'{temp:.1f}'))
    if temp > limits.max_gpu_temp_c:
        return Check('gpu_temp', ERROR, f'GPU at {temp:.1f} °C > {limits.max_gpu_temp_c:g} °C: '
                     'let it cool / check the fan before running the model', values)
    return Check('gpu_temp', OK, f'GPU at {temp:.1f} °C', values)


def check_engine(problem: Optional[str], engine_used: bool) -> Optional[Check]:
    """`problem` from tensorrt_backend.engine_mismatch (None: matches)."""
    if not engine_used:
        return None
    if problem:
        return Check('engine', ERROR, problem)
    return Check('engine', OK, 'engine built on this device model and TensorRT version')


def run_preflight(limits: Limits, memory_verdict: Optional[object] = None,
                  available_mb: Optional[float] = None, engine_problem: Optional[str] = None,
                  engine_used: bool = False, root: str = '/', run: Runner = run_command,
                  device: Optional[DeviceInfo] = None) -> PreflightReport:
    """Every check for this machine. Memory figures come from the caller (budgets)."""
    device = device or read_device_info(root)
    report = PreflightReport(device)
    if available_mb is None:
        available_mb = mem_available_mb(root)
    report.checks.append(check_memory(memory_verdict, available_mb))
    engine = check_engine(engine_problem, engine_used)
    if engine is not None:
        report.checks.append(engine)
    if not device.is_jetson:
        report.checks.insert(0, Check('device', OK, 'not a Jetson: only memory is checked'))
        return report
    report.checks.insert(0, Check('device', OK, device.describe(),
                                  (('l4t', device.l4t), ('jetpack', device.jetpack))))
    report.checks.append(check_power(power_mode(root, run), limits))
    report.checks.append(check_clocks(clock_state(root), limits))
    report.checks.append(check_temperature(gpu_temperature_c(root), limits))
    return report


def process_rss_mb() -> float:
    """Resident memory of this process (MB)."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 1e6
    except (OSError, ValueError, IndexError):  # not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def checkpoint_preflight(model_path: str, backend: str, limits: Limits,
                         process_rss_mib: float) -> Tuple[PreflightReport, Optional[object]]:
    """The preflight for loading `model_path` with `backend`: (report, the model's budget).

    Device, power, clocks, temperature, a TensorRT engine's match with this device, and
    memory against the checkpoint's budget (policies/budgets.py).
    """
    from .policies import budgets
    from .policies.base import read_config
    from .policies.errors import PolicyError

    device = read_device_info()
    available = mem_available_mb()
    verdict, budget, engine_problem = None, None, None
    try:
        cfg = read_config(model_path)
        precision = ''
        if backend == 'tensorrt':
            from .policies import tensorrt_backend as trt

            try:
                meta = trt.read_engine_meta(os.path.join(model_path, trt.TRT_DIR))
                precision = meta.precision
                engine_problem = trt.engine_mismatch(meta, device.model, device.soc,
                                                     trt.installed_tensorrt_version())
            except PolicyError as exc:
                engine_problem = str(exc)
        budget = budgets.checkpoint_budget(model_path, cfg, backend, precision)
        if available is not None:
            verdict = budgets.check_memory(budget, 'orin' if device.is_jetson else 'cpu',
                                           available, process_rss_mib, limits.memory_reserve_mb)
    except PolicyError:
        pass  # an unreadable checkpoint is reported by load_policy with its reason
    report = run_preflight(limits, verdict, available, engine_problem, backend == 'tensorrt',
                           device=device)
    return report, budget


def budget_values(report: PreflightReport, budget: Optional[object]) -> Dict[str, str]:
    """The report's figures plus the model budget that applies to this device."""
    values = report.values()
    if budget is not None:
        jetson = report.device.is_jetson
        latency = budget.orin_latency_ms if jetson else budget.cpu_latency_ms  # type: ignore
        memory = budget.memory_mb('orin' if jetson else 'cpu')  # type: ignore
        values.update({'budget': budget.key,  # type: ignore[attr-defined]
                       'budget_memory_mb': f'{memory:.0f}',
                       'budget_latency_ms': '-' if latency is None else f'{latency:g}'})
    return values
