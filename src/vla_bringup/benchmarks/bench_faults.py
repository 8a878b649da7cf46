"""Two-host fault benchmark: >= 20 trials per fault, the time-to-stop distribution.

The mobile stack split over a robot host and a policy host (network namespaces joined by a
veth pair; `vla_testing.two_host`), the shipped model, scenario 1box_vert_left. Per trial one
fault while the robot moves: random loss 5 % / 20 % (nftables numgen) for a whole episode, a
1 mbit tbf squeeze for 5 s, the link down for 3 s, the link down for 3 s with an e-stop
engaged during the outage and reset after, the policy SIGKILLed and restarted (then given a
fresh instruction). Each trial is judged by `vla_testing.fault_trials.analyse` (stop, no
motion during the fault, a fresh command and heartbeat -- by their DDS source timestamps --
received before motion comes back, reset after an e-stop, limits; the old callback-time
judge's verdict is reported beside it) and the time to stop is compared with the gate's
command timeout plus one tick (plus the 10 ms hop to the observer), in wall time and on the
gate's own clock: the simulator stacks run the gate on `/clock` (`time_source: ros`), so
its timeout is sim seconds, which a loaded machine stretches in wall time (the simulated
robot then also moves less per wall second); on the robot (`time_source: steady`) the two
are the same. Needs root with CAP_NET_ADMIN.

    python src/vla_bringup/benchmarks/bench_faults.py [--trials 20] [--faults link_down,...]
        [--json out.json] [--keep-records]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from typing import Dict, List, Optional


def _fmt(d: Dict[str, float], unit: str = 'ms', scale: float = 1000.0) -> str:
    if not d:
        return 'n=0'
    prec = 0 if unit == 'ms' else 2
    vals = ' '.join(f'{k} {d[k] * scale:.{prec}f}' for k in ('min', 'p50', 'p90', 'p99', 'max'))
    return f"n={int(d['n'])} {vals} {unit}"


def _callback_judge(rec, res, b) -> Optional[bool]:
    """The judge before DDS timestamps, for comparison: a tx_cmd / tx_hb whose policy-side
    observer callback ran in [t_clear - timeout, t_resume] (callback time)."""
    if res.t_resume is None or not rec.expect_stop:
        return None
    return all(any(e['k'] == kind and rec.t_clear - timeout <= e['t'] <= res.t_resume
                   for e in rec.policy)
               for kind, timeout in (('tx_cmd', b.command_timeout),
                                     ('tx_hb', b.heartbeat_timeout)))


def _callback_lag(rec) -> Dict[str, float]:
    """How late the observers' callbacks ran after DDS received the samples (s)."""
    out = {}
    for side, records in (('robot', rec.robot), ('policy', rec.policy)):
        lags = [e['t'] - e['rcv'] for e in records if e.get('rcv') is not None]
        out[side] = max(lags) if lags else None
    return out


def main(argv=None) -> int:
    from vla_bringup.stacks import mobile_stack
    from vla_testing import netns
    from vla_testing.fault_trials import analyse, excerpt, gate_bounds, percentiles
    from vla_testing.two_host import FAULTS, TwoHostStack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trials', type=int, default=20, help='trials per fault')
    parser.add_argument('--faults', default=','.join(FAULTS))
    parser.add_argument('--json', help='write every trial and the summary here')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--keep-records', action='store_true',
                        help='keep the raw records of every trial in --json (failing trials '
                        'always keep theirs)')
    args = parser.parse_args(argv)
    reason = netns.unavailable_reason()
    if reason:
        print(f'skipped: {reason}')
        return 0
    faults = [f for f in args.faults.split(',') if f]
    bounds = gate_bounds()
    rng = random.Random(args.seed)
    rows: Dict[str, List[dict]] = {f: [] for f in faults}
    os.environ.setdefault('ROS_DOMAIN_ID', str(60 + os.getpid() % 40))
    log_dir = tempfile.mkdtemp(prefix='bench_faults_')
    params = os.path.join(log_dir, 'params.yaml')
    with open(params, 'w') as f:
        f.write('instruction_node:\n  ros__parameters:\n    voice_enabled: false\n')
    stack = mobile_stack(sim='mujoco', params_file=params, scenario='1box_vert_left', seed=1)
    t_bench = time.monotonic()
    loads = []
    with netns.TwoHosts() as hosts:
        two = TwoHostStack(hosts, stack, log_dir)
        try:
            two.start()
            for i in range(args.trials):
                for kind in faults:
                    rec = two.run_trial(kind, seed=100 + i, rng=rng)
                    res = analyse(rec, bounds)
                    end = two.result_since(rec.t_fault) if not rec.expect_stop else None
                    row = dict(kind=kind, trial=i, ok=res.ok, problems=res.problems,
                               time_to_stop=res.time_to_stop,
                               within_bound=res.within(bounds.stop_bound)
                               if rec.expect_stop else None,
                               time_to_stop_gate=res.time_to_stop_gate,
                               within_bound_gate=res.within_gate_clock(bounds.stop_bound)
                               if rec.expect_stop else None,
                               resume_after=(res.t_resume - rec.t_clear)
                               if res.t_resume is not None else None,
                               gate_stop_ages=res.gate_stop_ages,
                               outcome=end['outcome'] if end else None,
                               limit_violations=res.limit_violations,
                               late_stale=len(res.late_stale), notes=res.notes,
                               late_stale_samples=res.late_stale[:20],
                               not_started=rec.not_started,
                               callback_judge=_callback_judge(rec, res, bounds),
                               callback_lag=_callback_lag(rec))
                    if not res.ok or args.keep_records:
                        # the raw records and the trial's times: enough to judge it again
                        row['records'] = excerpt(rec, res)
                        row['times'] = dict(t_fault=rec.t_fault, t_clear=rec.t_clear,
                                            t_lift=rec.t_lift, t_estop=rec.t_estop,
                                            t_reset=rec.t_reset)
                    rows[kind].append(row)
                    loads.append(os.getloadavg()[0])
                    if args.json:     # as it goes: an interrupted run keeps its trials
                        with open(args.json, 'w') as f:
                            json.dump(dict(rows=rows, partial=True), f)
                    print(f"{kind:16s} #{i:2d} stop {row['time_to_stop']} (gate clock "
                          f"{row['time_to_stop_gate']}) ok {res.ok} "
                          f"late stale samples {len(res.late_stale)} callback judge "
                          f"{row['callback_judge']} lag {row['callback_lag']} "
                          f"{' '.join(res.problems + res.notes)}"
                          + (f' NOT STARTED: {rec.not_started}' if rec.not_started else ''),
                          flush=True)
        finally:
            two.stop()
    minutes = (time.monotonic() - t_bench) / 60.0
    print(f'\n{sum(len(r) for r in rows.values())} trials in {minutes:.0f} min, load average '
          f'{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores; stop bound '
          f'{bounds.stop_bound * 1000:.0f} ms (command timeout + one tick + 10 ms hop)')
    summary = {}
    for kind, rs in rows.items():
        stops = [r['time_to_stop'] for r in rs if r['time_to_stop'] is not None]
        stops_gate = [r['time_to_stop_gate'] for r in rs if r['time_to_stop_gate'] is not None]
        ages = [a for r in rs for a in r['gate_stop_ages']]
        resumes = [r['resume_after'] for r in rs if r['resume_after'] is not None]
        s = dict(trials=len(rs), ok=sum(r['ok'] for r in rs),
                 within_bound=sum(bool(r['within_bound']) for r in rs),
                 within_bound_gate=sum(bool(r['within_bound_gate']) for r in rs),
                 stop=percentiles(stops), stop_gate=percentiles(stops_gate),
                 gate_age=percentiles(ages),
                 resume=percentiles(resumes),
                 reached=sum(r['outcome'] == 1 for r in rs),
                 not_started=sum(bool(r['not_started']) for r in rs),
                 with_late_stale=sum(r['late_stale'] > 0 for r in rs),
                 policy_view_disagrees=sum(bool(r['notes']) for r in rs),
                 callback_judge_fails=sum(r['callback_judge'] is False for r in rs))
        summary[kind] = s
        line = f"{kind:16s} properties ok {s['ok']}/{s['trials']}"
        if kind == 'squeeze':
            line += (f", the policy paused on starved images in {len(stops)}/{s['trials']} "
                     f"(time to stop {_fmt(s['stop'])}; not required: commands and heartbeats "
                     f"still pass), reached {s['reached']}/{s['trials']}")
        elif kind.startswith('loss'):
            line += (f", episodes reached {s['reached']}/{s['trials']} (never started: "
                     f"{s['not_started']}: the instruction arrived too late), gate stops from "
                     f"gaps: {_fmt(s['gate_age'])} (command age)")
        else:
            line += (f", stop within bound {s['within_bound']}/{s['trials']} wall, "
                     f"{s['within_bound_gate']}/{s['trials']} on the gate's clock; time to stop "
                     f"{_fmt(s['stop'])} wall, {_fmt(s['stop_gate'])} gate clock; motion "
                     f"back {_fmt(s['resume'], 's', 1.0)} after the fault ended; stale "
                     f"samples delivered late in "
                     f"{s['with_late_stale']}/{s['trials']}; policy view disagrees in "
                     f"{s['policy_view_disagrees']}/{s['trials']}; the callback-time judge "
                     f"would have failed {s['callback_judge_fails']}/{s['trials']}")
        print(line)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(rows=rows, summary=summary, minutes=minutes,
                           load=[min(loads), max(loads)]), f, indent=1)
    return 0 if all(r['ok'] for rs in rows.values() for r in rs) else 1


if __name__ == '__main__':
    sys.exit(main())
