"""Fuzz the gates against the independent oracles at scale and print the figures.

Runs `test/test_fuzz_oracles.py` with `--cases` hypothesis cases per gate (base and arm;
default 5000 each, >= 10 000 in all) and reports what the oracles saw: cases, decisions,
moving outputs, obstacle checks that bound, the distribution of each case's closest approach
to the geofence margin and to the arm workspace box, and the violations (the run fails on
the first one, so a finished run has none).

    python src/vla_safety/benchmarks/fuzz_oracles.py [--cases 5000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

TEST = pathlib.Path(__file__).resolve().parents[1] / 'test' / 'test_fuzz_oracles.py'


def _dist(values):
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return 'n=0'
    p = np.percentile(a, [0, 1, 10, 50, 90])
    return (f'n={a.size}  min {p[0]:+.4f}  p1 {p[1]:+.4f}  p10 {p[2]:+.4f}  '
            f'p50 {p[3]:+.4f}  p90 {p[4]:+.4f} m')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cases', type=int, default=5000, help='cases per gate')
    parser.add_argument('--json', help='write the figures here')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = os.path.join(tmp, 'stats.json')
        env = dict(os.environ, VLA_FUZZ_EXAMPLES=str(args.cases), VLA_FUZZ_STATS=stats_path)
        t0 = time.monotonic()
        res = subprocess.run([sys.executable, '-m', 'pytest', str(TEST), '-q', '-x',
                              '-p', 'no:warnings', '-p', 'no:cacheprovider'], env=env,
                             capture_output=True, text=True)
        elapsed = time.monotonic() - t0
        if res.returncode != 0:
            print(res.stdout[-6000:])
            print(f'FAILED: an oracle was violated (see above) after {elapsed:.0f} s')
            return 1
        with open(stats_path) as f:
            stats = json.load(f)
    load = os.getloadavg()
    print(f'fuzz against independent oracles: {args.cases} cases per gate, {elapsed:.0f} s '
          f'(load average {load[0]:.1f} on {os.cpu_count()} cores)')
    print(f"base: {stats['base_cases']} cases, {stats['base_steps']} decisions, "
          f"{stats['base_moving']} moving, {stats['obstacle_checks']} obstacle-zone checks")
    print(f"  closest approach to the geofence margin per case: "
          f"{_dist(stats['fence_clearance'])}")
    print(f"arm: {stats['arm_cases']} cases, {stats['arm_steps']} decisions, "
          f"{stats['arm_moves']} motion outputs")
    print(f"  closest approach to the workspace box per case: {_dist(stats['box_clearance'])}")
    print('violations: 0 (limits from the parameter files, geofence, obstacle zone, joint '
          'limits, steps, workspace box)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(stats, cases_per_gate=args.cases, seconds=elapsed,
                           load=load[0]), f)
    return 0


if __name__ == '__main__':
    sys.exit(main())
