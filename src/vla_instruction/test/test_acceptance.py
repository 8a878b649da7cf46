"""Acceptance rules, bad input and typo tolerance of the normaliser (pure, no rclpy)."""

import pytest
from vla_instruction.core.acceptance import check_input, MAX_TEXT_CHARS
from vla_common.scenarios import scenario
from vla_instruction.core.normalizer import normalize, Status
from vla_instruction.core.typos import korean_variants, TypoCorrector, within_one_edit

TASK = '박스를 왼쪽으로 돌아서 컵까지 가세요'


@pytest.mark.parametrize('text,reason', [
    ('', 'empty'), (' \t\n', 'empty'), ('...!?', 'empty'),
    (TASK * 30, 'too long'),
    ('컵까지\x00 가', 'U+0000'), ('컵까지 가\x1b[2J', 'U+001B'), ('\x7f컵까지 가', 'U+007F'),
    ('컵까지 \u202e가 지마', 'U+202E'),                 # right-to-left override hides text
    ('컵까지 \ufffd\ufffd 가', 'invalid UTF-8'),        # bytes decoded with errors='replace'
    ('컵까지 \udceb\udcb0 가', 'invalid UTF-8'),        # ... or errors='surrogateescape'
])
def test_bad_input_is_refused_with_a_reason(text, reason):
    n = normalize(text)
    assert (n.status, n.category) == (Status.REFUSED, 'bad_input')
    assert reason in n.reason and not n.canonical


def test_bad_input_limits():
    assert check_input('a' * MAX_TEXT_CHARS) is None
    assert check_input(TASK + '\r\n') is None            # a bridge's line ending is whitespace
    assert normalize('\ufeff' + TASK + '\n').scenario == '1box_vert_left'   # BOM dropped
    # Stop words stop in any text, however bad (stopping is always safe).
    for text in ('멈춰' + 'x' * 20000, '정지\x00', 'stop \ufffd'):
        assert normalize(text).is_stop


def test_zero_width_characters_cannot_hide_a_prohibition():
    assert normalize('컵까지 가\u200b지 마').category == 'prohibition'
    assert normalize('컵까지 가지\u200c 마세요').category == 'prohibition'


@pytest.mark.parametrize('text,side', [
    ('박스를 왼쪽으로 돌아서, 아니 오른쪽으로 돌아서 컵까지 가', 'right'),
    ('아니 아니, 박스를 오른쪽으로 피해서 컵까지 가', 'right'),
    ('박스를 오른쪽 아니 왼쪽으로 돌아서 컵까지 가', 'left'),
    ('go around the box on the left, no, on the right, then go to the cup', 'right'),
    ('go around the box on the right, not the left, to the cup', 'right'),
    ('left, i mean right: go around the box to the cup', 'right'),
])
def test_a_correction_takes_the_last_side(text, side):
    n = normalize(text)
    assert n.understood and n.side == side, (n.reason, n.notes)


@pytest.mark.parametrize('text,category', [
    # "no" before a side without a comma: a correction whose comma was lost ("left, no,
    # right") or a negation ("no right")? Opposite sides: refused.
    ('go around the box on the left no right to the cup', 'prohibition'),
    # A correction marker with nothing corrected after it withdraws the instruction.
    ('컵까지 가, 아니', 'prohibition'), ('go to the cup. no!', 'prohibition'),
    ('컵까지 가줘. 아니 아니 아니야', 'prohibition'),
    # A negated side with no side left: which way?
    ('왼쪽 말고 컵까지 가', 'prohibition'), ('not left: go to the cup', 'prohibition'),
    # Two sides without a correction marker.
    ('박스를 왼쪽으로 돌아서 오른쪽으로 컵까지 가', 'conflict'),
])
def test_ambiguous_corrections_are_refused(text, category):
    n = normalize(text)
    assert n.status is Status.REFUSED and n.category == category, (text, n.reason)


@pytest.mark.parametrize('typo,correct', [
    ('박스를 왼쫏으로 돌아서 컵까지 가세요', '1box_vert_left'),
    ('박스를 왼쪽으로 도라서 컵까지 가', '1box_vert_left'),     # final ㄹ moved: 1 jamo
    ('박스를 오론쪽으로 피해서 컵까지 가', '1box_hori_right'),
    ('상즈를 오른쪽으로 돌아서 컵까지 가', '1box_vert_right'),
    ('두 박스 사이 왼쪽 겨로로 컵까지 가', '2box_vert_left'),
    ('go around the box on the lfet to the cup', '1box_vert_left'),
    ('avoid the box on the rigth and go to the cup', '1box_hori_right'),
])
def test_one_character_typos_of_known_words_are_understood(typo, correct):
    n = normalize(typo)
    assert n.scenario == correct, (n.reason, n.notes)
    assert any(note.startswith('read ') for note in n.notes)
    assert n.canonical == scenario(correct).instruction_en


@pytest.mark.parametrize('text', [
    '박스를 외쪽으로 돌아서 컵까지 가',    # 왼쪽 or 우쪽? one edit from both: not guessed
    '박스를 오른쪽으로 피해서 컴까지 가',   # one-syllable words are not corrected (컵 / 컴)
    '박스를 추측으로 돌아서 컵까지 가',     # 추측 is a word, not a typo of 우측
    'go around the box on the lift to the cup',   # lift is a word, not a typo of left
])
def test_typos_that_are_not_guessed_are_refused(text):
    n = normalize(text)
    assert n.status is not Status.UNDERSTOOD, (text, n.canonical, n.notes)


def test_typo_helpers():
    assert '도라서' in korean_variants('돌아서') and '왼쫏' in korean_variants('왼쪽')
    assert within_one_edit('lfet', 'left') and within_one_edit('arround', 'around')
    assert within_one_edit('aroud', 'around') and not within_one_edit('lfte', 'left')
    corrector = TypoCorrector(['왼쪽', '우쪽', '박스'], ['left', 'right'], protected=['박수'])
    assert corrector.korean('를외쪽으로') is None                 # ambiguous: dropped
    assert corrector.korean('박쓰를') == (0, 2, '박스')
    assert corrector.english('rigth') == 'right' and corrector.english('lift') is None


def test_known_targets_decide_what_is_an_unknown_target():
    assert normalize('바구니까지 가').category == 'unknown_target'
    n = normalize('바구니까지 가', known_targets=('cup', 'basket'))
    assert n.understood and n.target_object == 'basket'
    assert normalize('컵까지 가', known_targets=()).category == 'unknown_target'
