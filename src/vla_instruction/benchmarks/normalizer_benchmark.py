#!/usr/bin/env python3
"""Time the instruction normaliser per sentence and print p50 / p99 (target: <= 1 ms).

    source scripts/activate.sh
    python src/vla_instruction/benchmarks/normalizer_benchmark.py            # ~10 s
    python src/vla_instruction/benchmarks/normalizer_benchmark.py --quick    # smoke run
    python src/vla_instruction/benchmarks/normalizer_benchmark.py --json out.json

Every sentence of the labelled corpus (accepted, refused, typos that are corrected and read
twice) plus the bad-input cases (10 kB of text, control characters, invalid UTF-8 as a bridge
decodes it) is normalised `--repeats` times after one warm-up call (the typo table is built on
first use, once per process: reported separately). Each call is timed on its own, twice over:
CPU time of this thread (time.thread_time: what the normaliser costs, unaffected by other
processes) and wall clock (time.perf_counter: what a caller waits on this machine, including
preemption by other processes). p50 / p99 / max are over all calls of a group. The target is
judged on CPU time; the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Dict, List


def _percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=50, help='timed calls per sentence')
    parser.add_argument('--quick', action='store_true', help='3 repeats')
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats

    start = time.perf_counter()
    from vla_instruction.core import normalizer
    from vla_instruction.core.corpus import load_corpus
    import_s = time.perf_counter() - start
    start = time.perf_counter()
    normalizer._typo_corrector()          # built lazily on the first typo search
    table_s = time.perf_counter() - start

    groups: Dict[str, List[str]] = {}
    for entry in load_corpus():
        groups.setdefault(entry.label, []).append(entry.text)
    groups['bad input'] = ['박스를 왼쪽으로 돌아서 컵까지 가세요 ' * 400,      # ~10 kB
                           '컵까지 가\x00지 마', '컵까지 가\x1b[2J', '컵까지 \ufffd\ufffd 가',
                           '컵까지 \udcea\udcb5 가']
    figures: Dict[str, Dict[str, float]] = {}
    everything: Dict[str, List[float]] = {'cpu': [], 'wall': []}

    def summary(calls: Dict[str, List[float]], sentences: int) -> Dict[str, float]:
        out: Dict[str, float] = {'sentences': sentences, 'calls': len(calls['cpu'])}
        for clock, values in calls.items():
            out[f'{clock}_p50_ms'] = 1e3 * statistics.median(values)
            out[f'{clock}_p99_ms'] = 1e3 * _percentile(values, 0.99)
            out[f'{clock}_max_ms'] = 1e3 * max(values)
        return out

    for name, texts in groups.items():
        calls: Dict[str, List[float]] = {'cpu': [], 'wall': []}
        for text in texts:
            normalizer.normalize(text)                            # warm-up
            for _ in range(repeats):
                c0, w0 = time.thread_time(), time.perf_counter()
                normalizer.normalize(text)
                calls['wall'].append(time.perf_counter() - w0)
                calls['cpu'].append(time.thread_time() - c0)
        for clock in everything:
            everything[clock] += calls[clock]
        figures[name] = summary(calls, len(texts))
    figures['all'] = summary(everything, sum(len(t) for t in groups.values()))

    print(f'normaliser, {repeats} timed calls per sentence, load average '
          f'{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs '
          f'(import {import_s * 1e3:.0f} ms, typo table {table_s * 1e3:.0f} ms once)')
    for name, f in figures.items():
        print(f'  {name:10s} {f["sentences"]:4d} sentences: CPU p50 {f["cpu_p50_ms"]:.3f} ms, '
              f'p99 {f["cpu_p99_ms"]:.3f} ms, max {f["cpu_max_ms"]:.3f} ms | wall p50 '
              f'{f["wall_p50_ms"]:.3f} ms, p99 {f["wall_p99_ms"]:.3f} ms')
    verdict = 'met' if figures['all']['cpu_p99_ms'] <= 1.0 else 'NOT met'
    print(f'target p99 <= 1 ms per sentence (CPU time): {verdict}')
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump({'repeats': repeats, 'load_avg': os.getloadavg()[0],
                       'import_ms': import_s * 1e3, 'typo_table_ms': table_s * 1e3,
                       'groups': figures}, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
