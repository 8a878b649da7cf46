"""The benchmark script runs end to end (tiny counts; the figures come from manual runs)."""

import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.stack
SCRIPT = pathlib.Path(__file__).resolve().parents[1] / 'benchmarks' / 'bench_safety.py'


def test_benchmark_quick_run_prints_figures(ros_domain, tmp_path):
    out = tmp_path / 'figures.json'
    result = subprocess.run([sys.executable, str(SCRIPT), '--quick', '--json', str(out)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'estop topic -> zero cmd_vel received' in result.stdout
    assert 'p99' in result.stdout and out.exists()
