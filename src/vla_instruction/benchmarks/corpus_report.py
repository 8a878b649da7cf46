#!/usr/bin/env python3
"""Accuracy of the instruction normaliser on the labelled corpus (docs/instruction.md).

    source scripts/activate.sh
    python src/vla_instruction/benchmarks/corpus_report.py           # figures + every miss
    python src/vla_instruction/benchmarks/corpus_report.py --json out.json

Prints, over `vla_instruction/data/instruction_corpus.tsv`:
- accept: the share understood with exactly the labelled canonical instruction (target >= 98 %);
- refuse: the share not acted on (refused, not understood or stopped; target 100 %), the
  prohibitions accepted (must be none), and how the refusal categories compare with the labels;
- stop: the share that stopped;
and lists every sentence the normaliser got wrong. Exit status 1 when a prohibition was
accepted or a refuse-labelled sentence was acted on.
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    from vla_instruction.core.corpus import ACCEPT, evaluate, load_corpus, REFUSE, STOP

    report = evaluate(load_corpus())
    print(f'corpus: {len(report.outcomes)} sentences')
    for label, target in ((ACCEPT, '>= 98 %'), (REFUSE, '100 %'), (STOP, '100 %')):
        ok, n = report.by_label[label]
        print(f'  {label:6s} {ok:3d}/{n:3d} = {100.0 * ok / n:5.1f} % correct (target {target})')
    held = [o for o in report.outcomes if o.entry.note.startswith('held-out')]
    for label in (ACCEPT, REFUSE):
        mine = [o for o in held if o.entry.label == label]
        if mine:
            ok = sum(o.correct for o in mine)
            print(f'  held-out batch, {label}: {ok}/{len(mine)}')
    prohibitions = [o for o in report.outcomes if o.entry.expected == 'prohibition']
    accepted = report.accepted_prohibitions()
    print(f'  prohibitions refused: {len(prohibitions) - len(accepted)}/{len(prohibitions)}')
    print('refusal categories (label: what the normaliser said):')
    agree = sum(o.category_agrees for o in report.outcomes)
    for label, said in sorted(report.categories().items()):
        print(f'  {label:15s} ' + ', '.join(f'{k} {v}' for k, v in said.most_common()))
    print(f'  category agrees with the label: {agree}/{report.by_label[REFUSE][1]}')
    misses = report.failures()
    print(f'misses: {len(misses)}')
    for o in misses:
        r = o.reading
        said = r.canonical if r.understood else f'{r.status.value}/{r.category}: {r.reason}'
        print(f'  [{o.entry.label} -> {o.entry.expected}] {o.entry.text!r}: {said}')
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump({'by_label': report.by_label, 'prohibitions': len(prohibitions),
                       'prohibitions_accepted': [o.entry.text for o in accepted],
                       'misses': [o.entry.text for o in misses]}, f, ensure_ascii=False,
                      indent=2)
    return 1 if accepted or report.failures(REFUSE) else 0


if __name__ == '__main__':
    sys.exit(main())
