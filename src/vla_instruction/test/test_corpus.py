"""The labelled corpus: no prohibited sentence is ever accepted, and the acceptance figures.

The corpus (package data) labels each sentence by its meaning; the figures are printed by
benchmarks/corpus_report.py. These tests hold the normaliser to the targets of issue 14.
"""

import pathlib
import subprocess
import sys

import pytest
from vla_instruction.core.acceptance import CATEGORIES
from vla_instruction.core.corpus import ACCEPT, evaluate, load_corpus, REFUSE, STOP
from vla_instruction.core.normalizer import normalize, Status

CORPUS = load_corpus()
REPORT = evaluate(CORPUS)
ISSUE_14 = ('컵까지 가지 마', '박스를 왼쪽으로 돌아서 컵까지 가면 안 돼요', '오른쪽으로 돌아서 컵에 가지 마세요',
            "don't go to the cup", '컵 쪽으로 절대 가지 말아 주세요', '박스 돌아서 컵까지 가는 거 금지')
SCRIPTS = pathlib.Path(__file__).resolve().parents[1] / 'benchmarks'


def test_the_corpus_is_large_labelled_and_bilingual():
    assert len(CORPUS) >= 200
    assert len({e.text for e in CORPUS}) == len(CORPUS), 'duplicate sentences'
    labels = {e.label for e in CORPUS}
    assert labels == {ACCEPT, REFUSE, STOP}
    assert {e.expected for e in CORPUS if e.label == REFUSE} == set(CATEGORIES) - {
        'bad_input', 'low_confidence'}   # those two are tested on the node (bytes, audio)
    languages = {normalize(e.text).language for e in CORPUS}
    assert {'ko', 'en'} <= languages
    for text in ISSUE_14:   # the six measured failures are in it, labelled prohibitions
        assert [e.expected for e in CORPUS if e.text == text] == ['prohibition'], text


def test_no_refused_sentence_is_acted_on():
    refused = [o for o in REPORT.outcomes if o.entry.label == REFUSE]
    acted_on = [(o.entry.line, o.entry.text, o.reading.canonical) for o in refused
                if o.reading.status is Status.UNDERSTOOD]
    assert acted_on == []
    for o in refused:   # no task fields, a reason for the operator
        r = o.reading
        assert r.reason and r.category and not (r.canonical or r.scenario or r.side), o.entry


def test_every_prohibition_is_refused():
    prohibitions = [o for o in REPORT.outcomes if o.entry.expected == 'prohibition']
    assert len(prohibitions) >= 100
    assert REPORT.accepted_prohibitions() == []


def test_stop_sentences_stop():
    assert [o.entry.text for o in REPORT.outcomes
            if o.entry.label == STOP and not o.reading.is_stop] == []


def test_accept_accuracy_meets_the_target():
    ok, n = REPORT.by_label[ACCEPT]
    misses = [(o.entry.text, o.reading.reason or o.reading.canonical)
              for o in REPORT.failures(ACCEPT)]
    assert ok / n >= 0.98, misses
    # A miss on the accept side is a refusal, never another task.
    for o in REPORT.failures(ACCEPT):
        assert not o.accepted, (o.entry.text, o.reading.canonical)


_HIDE = (
    lambda t: t + ' 하지만 가지 마', lambda t: '절대 ' + t, lambda t: "don't " + t,
    lambda t: t + ', 아니 가지 마세요', lambda t: t + '면 안 돼', lambda t: t + ' 금지',
    lambda t: 'never ' + t, lambda t: t + '. No!', lambda t: t.rstrip('?!.') + '지 마',
)


@pytest.mark.parametrize('hide', range(len(_HIDE)))
def test_a_prohibition_added_to_any_accepted_sentence_refuses_it(hide):
    """Adversarial: every accepted sentence of the corpus with a prohibition added before,
    inside or after it is refused (or stops), never acted on."""
    for entry in CORPUS:
        if entry.label != ACCEPT:
            continue
        text = _HIDE[hide](entry.text)
        reading = normalize(text)
        assert reading.status is not Status.UNDERSTOOD, (text, reading.canonical)


def test_report_script_prints_the_figures():
    result = subprocess.run([sys.executable, str(SCRIPTS / 'corpus_report.py')],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'prohibitions refused' in result.stdout and '% correct' in result.stdout


def test_benchmark_script_prints_p50_and_p99():
    result = subprocess.run([sys.executable, str(SCRIPTS / 'normalizer_benchmark.py'),
                             '--quick'], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'p50' in result.stdout and 'p99' in result.stdout


def test_malformed_corpus_lines_are_errors():
    with pytest.raises(ValueError, match='4 tab-separated'):
        load_corpus('label\texpected\ttext\tnote\naccept\tgo to the cup\n')
    with pytest.raises(ValueError, match='unknown category'):
        load_corpus('refuse\tmaybe\t컵까지 가\tx\n')
