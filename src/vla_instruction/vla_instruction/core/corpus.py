"""The labelled instruction corpus (package data) and its evaluation (pure).

`data/instruction_corpus.tsv` holds Korean, English and mixed sentences, each labelled by what
it means: `accept` with the canonical English instruction, `refuse` with the refusal category,
or `stop`. `evaluate()` runs the normaliser over it; `benchmarks/corpus_report.py` prints the
figures and `test/test_corpus.py` holds the normaliser to them.
"""

from __future__ import annotations

import importlib.resources
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from vla_instruction.core.acceptance import CATEGORIES, PROHIBITION
from vla_instruction.core.normalizer import KNOWN_TARGETS, normalize, NormalizedInstruction, \
    Status

ACCEPT, REFUSE, STOP = 'accept', 'refuse', 'stop'
CORPUS_FILE = 'instruction_corpus.tsv'


@dataclass(frozen=True)
class CorpusEntry:
    """One labelled sentence."""

    label: str        # accept / refuse / stop
    expected: str     # accept: canonical English; refuse: category; stop: 'stop'
    text: str
    note: str
    line: int


def load_corpus(text: Optional[str] = None) -> List[CorpusEntry]:
    """The shipped corpus (or the TSV `text` given); raises ValueError on a malformed line."""
    if text is None:
        text = importlib.resources.files('vla_instruction').joinpath(
            'data', CORPUS_FILE).read_text(encoding='utf-8')
    entries: List[CorpusEntry] = []
    header_seen = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith('#'):
            continue
        fields = line.split('\t')
        if not header_seen:
            header_seen = True
            if fields[:3] == ['label', 'expected', 'text']:
                continue
        if len(fields) != 4:
            raise ValueError(f'{CORPUS_FILE}:{number}: expected 4 tab-separated fields, '
                             f'got {len(fields)}')
        label, expected, sentence, note = fields
        if label not in (ACCEPT, REFUSE, STOP):
            raise ValueError(f'{CORPUS_FILE}:{number}: unknown label {label!r}')
        if label == REFUSE and expected not in CATEGORIES:
            raise ValueError(f'{CORPUS_FILE}:{number}: unknown category {expected!r}')
        entries.append(CorpusEntry(label, expected, sentence, note, number))
    return entries


@dataclass(frozen=True)
class Outcome:
    """The normaliser's reading of one entry, judged against its label."""

    entry: CorpusEntry
    reading: NormalizedInstruction

    @property
    def accepted(self) -> bool:
        return self.reading.status is Status.UNDERSTOOD

    @property
    def correct(self) -> bool:
        """accept: understood with the expected canonical; refuse: not acted on (refused, not
        understood or stopped); stop: stopped."""
        if self.entry.label == ACCEPT:
            return self.accepted and self.reading.canonical == self.entry.expected
        if self.entry.label == STOP:
            return self.reading.status is Status.STOP
        return not self.accepted

    @property
    def category_agrees(self) -> bool:
        return self.entry.label == REFUSE and self.reading.category == self.entry.expected


@dataclass
class Report:
    """Figures over a corpus."""

    outcomes: List[Outcome]
    by_label: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # label -> (ok, n)

    def accuracy(self, label: str) -> float:
        ok, n = self.by_label.get(label, (0, 0))
        return ok / n if n else float('nan')

    def failures(self, label: Optional[str] = None) -> List[Outcome]:
        return [o for o in self.outcomes if not o.correct
                and (label is None or o.entry.label == label)]

    def accepted_prohibitions(self) -> List[Outcome]:
        return [o for o in self.outcomes
                if o.entry.label == REFUSE and o.entry.expected == PROHIBITION and o.accepted]

    def categories(self) -> Dict[str, Counter]:
        """Labelled refusal category -> Counter of what the normaliser said."""
        table: Dict[str, Counter] = {}
        for o in self.outcomes:
            if o.entry.label == REFUSE:
                said = o.reading.category or o.reading.status.value
                table.setdefault(o.entry.expected, Counter())[said] += 1
        return table


def evaluate(entries: Iterable[CorpusEntry],
             known_targets: Iterable[str] = KNOWN_TARGETS) -> Report:
    """Normalise every entry and judge it against its label."""
    known = tuple(known_targets)
    outcomes = [Outcome(e, normalize(e.text, known)) for e in entries]
    report = Report(outcomes)
    for label in (ACCEPT, REFUSE, STOP):
        mine = [o for o in outcomes if o.entry.label == label]
        report.by_label[label] = (sum(o.correct for o in mine), len(mine))
    return report
