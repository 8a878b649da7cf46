"""Table-driven and property tests of the pure Korean / English instruction normaliser."""

import re
import unicodedata

import pytest
from hypothesis import given, settings, strategies as st
from vla_common.scenarios import mirror_scenario, scenario as catalog, SCENARIOS
from vla_instruction.core.normalizer import normalize as normalize_known
from vla_instruction.core.normalizer import (CATEGORIES, detect_language, find_stop_word,
                                             normalize, PARAPHRASES, split_paraphrases, Status,
                                             STOP_WORDS_EN, STOP_WORDS_KO, swap_sides)

ALL_PARAPHRASES = [(sc, text) for sc in SCENARIOS for text in PARAPHRASES[sc]]

# Paraphrases that are deliberately NOT in the shipped table (so the table is not the only
# thing the rules were checked against): new wordings, word orders and registers.
EXTRA = {
    '1box_vert_left': ['컵으로 가. 박스는 왼쪽으로 돌아서', '왼쪽으로 상자 돌아서 컵 앞까지 가세요',
                       'circle the box on the left and head to the mug',
                       '박스 좌측으로 둘러서 컵까지 주행해'],
    '1box_vert_right': ['오른편으로 박스를 돌아가서 컵까지 가 줄래요', 'please detour right around the '
                        'box to reach the cup'],
    '1box_hori_left': ['왼쪽으로 박스 비켜서 컵까지', 'sidestep the box to the left, then go to '
                       'the cup'],
    '1box_hori_right': ['상자를 우측으로 피하고 컵까지 이동', '박스 피해서 오른쪽으로 컵까지 가라'],
    '2box_vert_left': ['박스 두 개 사이로 왼쪽 길 따라서 컵까지', 'go through the gap between both '
                       'boxes on the left to the cup'],
    '2box_vert_right': ['두 상자 사이 오른쪽으로 해서 컵까지 가요', '2 box 사이 right 경로로 cup까지'],
    '2box_hori_left': ['박스 둘 다 왼쪽으로 피해서 컵까지 가', 'avoid the 2 boxes to the left and '
                       'go to the cup'],
    '2box_hori_right': ['두 개의 박스를 오른쪽으로 피해 컵까지 가 주세요', '상자들 우측으로 비켜 컵으로'],
}

ENDINGS = ['가', '가요', '가줘', '가 줘', '가세요', '가 주세요', '가주세요', '가라', '갈래', '갈래요',
           '가자', '가십시오', '이동해', '이동하세요', '가 줄래?', '가주실래요']


def test_every_scenario_has_at_least_ten_paraphrases():
    assert set(PARAPHRASES) == set(SCENARIOS)
    for sc in SCENARIOS:
        assert len(PARAPHRASES[sc]) >= 10, sc
        assert PARAPHRASES[sc][0] == catalog(sc).instruction_ko
        assert len(set(PARAPHRASES[sc])) == len(PARAPHRASES[sc]), f'duplicates in {sc}'
        # Korean, English and mixed paraphrases are all represented.
        langs = {detect_language(t) for t in PARAPHRASES[sc]}
        assert langs == {'ko', 'en'}, sc


@pytest.mark.parametrize('scenario,text', ALL_PARAPHRASES)
def test_paraphrase_table(scenario, text):
    n = normalize(text)
    spec = catalog(scenario)
    assert n.status is Status.UNDERSTOOD, n.reason
    assert n.scenario == scenario, (text, n)
    assert (n.side, n.maneuver, n.obstacle_count) == (spec.side, spec.maneuver,
                                                      spec.box_count)
    assert n.target_object == 'cup' and n.obstacle == 'box' and n.action == 'go_to'
    assert n.canonical == catalog(scenario).instruction_en
    assert n.canonical_ko == catalog(scenario).instruction_ko
    assert 0.85 <= n.confidence <= 1.0, (text, n.confidence, n.notes)


@pytest.mark.parametrize('scenario,text', [(sc, t) for sc, ts in EXTRA.items() for t in ts])
def test_paraphrases_outside_the_table(scenario, text):
    n = normalize(text)
    assert n.scenario == scenario, (text, n)
    assert n.confidence >= 0.6


@pytest.mark.parametrize('scenario', SCENARIOS)
@pytest.mark.parametrize('ending', ENDINGS)
def test_politeness_endings(scenario, ending):
    text = catalog(scenario).instruction_ko.replace('가세요', ending)
    n = normalize(text)
    assert n.scenario == scenario, text
    assert n.confidence >= 0.95, (text, n.notes)


@pytest.mark.parametrize('scenario', SCENARIOS)
def test_spacing_punctuation_and_unicode_variants(scenario):
    canonical = catalog(scenario).instruction_ko
    variants = [
        canonical.replace(' ', ''),                      # no spaces at all
        '  ' + canonical.replace(' ', '   ') + '  ',     # extra spaces
        canonical + '!!',
        canonical + '.',
        '"' + canonical + '."',
        unicodedata.normalize('NFD', canonical),         # decomposed Hangul (macOS input)
        '로봇아, ' + canonical + ' 부탁해',
        canonical.replace('두 ', '２ 개의 ').replace('박스', 'ＢＯＸ'),  # full-width
        canonical.replace('두 ', '2개의 ').replace('두 ', '둘 '),
    ]
    for text in variants:
        assert normalize(text).scenario == scenario, repr(text)


@pytest.mark.parametrize('text,count', [
    ('한 박스를 왼쪽으로 피해서 컵까지 가', 1), ('박스 하나를 왼쪽으로 피해서 컵까지 가', 1),
    ('박스 1개를 왼쪽으로 피해서 컵까지 가', 1), ('one box: avoid it on the left, go to the cup', 1),
    ('두 박스를 왼쪽으로 피해서 컵까지 가', 2), ('박스 둘을 왼쪽으로 피해서 컵까지 가', 2),
    ('박스 2개를 왼쪽으로 피해서 컵까지 가', 2), ('2 boxes: avoid them on the left, go to the cup', 2),
    ('two boxes, avoid them to the left and go to the cup', 2),
    ('박스 두 개를 왼쪽으로 피해서 컵까지 가', 2), ('두개의 박스를 왼쪽으로 피해서 컵까지 가', 2),
    ('박스 세 개를 왼쪽으로 피해서 컵까지 가', 3),
])
def test_numbers_in_hangul_digits_and_words(text, count):
    n = normalize(text)
    assert n.understood, n.reason
    assert n.obstacle_count == count
    assert n.scenario == ({1: '1box_hori_left', 2: '2box_hori_left'}.get(count, ''))


@pytest.mark.parametrize('text,category,reason', [
    ('', 'bad_input', 'empty'),
    ('   ', 'bad_input', 'empty'),
    ('?!...', 'bad_input', 'empty'),
    ('춤춰', 'not_understood', "not understood: '춤춰'"),
    ('오늘 날씨 어때', 'question', '어때'),
    ('hello robot', 'not_understood', "not understood: 'hello'"),
    ('박스', 'not_understood', 'only 박스'),
    ('박스를 왼쪽으로 돌아서 오른쪽으로 컵까지 가', 'conflict', 'contradictory sides'),
    ('왼쪽 오른쪽으로 컵까지 가', 'conflict', 'contradictory sides'),
    ('박스를 좌측 우측으로 피해서 컵까지 가', 'conflict', 'contradictory sides'),
    ('go left and right to the cup', 'conflict', 'contradictory sides'),
    ('박스를 왼쪽으로 돌아서 피해서 컵까지 가', 'conflict', 'contradictory manoeuvres'),
    ('컵이랑 바구니까지 가', 'conflict', 'several targets'),
    ('한 박스 사이로 컵까지 가', 'conflict', 'needs two obstacles'),
    ('박스 하나를 두 박스 사이로 컵까지 가', 'conflict', 'contradictory obstacle counts'),
    ('집어', 'not_understood', 'without an object'),
    ('의자까지 가', 'unknown_target', 'chair'),
    ('냉장고까지 가', 'unknown_target', '냉장고'),
    ('go to the fridge', 'unknown_target', 'fridge'),
    ('박스를 왼쪽으로 돌아서 블라블라 컵까지 가세요', 'not_understood', '블라블라'),
])
def test_refused_or_not_understood(text, category, reason):
    n = normalize(text)
    assert category in CATEGORIES
    assert n.category == category, (text, n.category, n.reason)
    assert n.status is (Status.NOT_UNDERSTOOD if category == 'not_understood'
                        else Status.REFUSED)
    assert reason in n.reason
    # No motion: no task fields, no canonical, zero confidence.
    assert (n.canonical, n.canonical_ko, n.scenario, n.side, n.target_object, n.confidence) == \
        ('', '', '', '', '', 0.0)


@pytest.mark.parametrize('text', [
    '멈춰', '멈춰!', '멈춰요', '멈추세요', '정지', '정지!!', '그만', '그만해', '스톱', '스탑', '중지',
    '비상 정지', '거기 서', '서!', '잠깐만', 'stop', 'STOP!', 'Stop the robot', 'halt', 'freeze',
    'emergency', 'e-stop', 'wait', "don't move", '박스를 왼쪽으로 돌아서 컵까지 가다가 멈춰',
    'go to the cup, no, stop', '멈추지 마',   # fail-safe: any stop word stops
])
def test_stop_words(text):
    n = normalize(text)
    assert n.status is Status.STOP, text
    assert n.is_stop and n.action == 'stop' and n.canonical == 'stop'
    assert n.stop_word and n.confidence == 1.0
    assert find_stop_word(text) == n.stop_word


def test_stop_word_lists_all_stop():
    for word in STOP_WORDS_KO + STOP_WORDS_EN:
        assert normalize(word).is_stop, word


@pytest.mark.parametrize('text', [
    '박스를 왼쪽으로 돌아 서 컵까지 가',   # "서" inside a spacing variant is not a stop
    '박스를 오른쪽으로 피해서 컵까지 가세요', '컵 쪽으로 서서히 가', 'go right now to the cup',
])
def test_not_stop(text):
    assert not normalize(text).is_stop, text


def test_negated_and_descriptive_sides():
    n = normalize('왼쪽 말고 오른쪽으로 박스를 돌아서 컵까지 가')
    assert n.scenario == '1box_vert_right'
    n = normalize('왼쪽이 아니라 오른쪽으로 박스를 피해서 컵까지 가')
    assert n.scenario == '1box_hori_right'
    n = normalize('not left, go around the box on the right to the cup')
    assert n.side == 'right'
    # A side describing where an object is does not contradict the side to pass on.
    n = normalize('왼쪽에 있는 박스를 오른쪽으로 피해서 컵까지 가')
    assert n.scenario == '1box_hori_right'
    n = normalize('오른쪽 박스를 왼쪽으로 돌아서 컵까지 가')
    assert n.scenario == '1box_vert_left'


def test_other_tasks_targets_and_manipulation():
    def normalize(text):
        return normalize_known(text, known_targets=('cup', 'basket', 'box'))

    n = normalize('바구니까지 가 주세요')
    expected = ('go_to', 'basket', '', 'go to the basket')
    assert (n.action, n.target_object, n.scenario, n.canonical) == expected
    n = normalize('박스를 왼쪽으로 돌아서 바구니까지 가')   # not the cup: no scenario id
    assert n.understood and n.scenario == '' and n.side == 'left' and n.target_object == 'basket'
    n = normalize('컵을 집어')
    assert (n.action, n.target_object, n.canonical) == ('pick', 'cup', 'pick up the cup')
    n = normalize('컵을 집어서 바구니에 넣어')
    assert (n.action, n.held_object, n.target_object) == ('place', 'cup', 'basket')
    assert n.canonical == 'put the cup in the basket'
    assert n.canonical_ko == '컵을 바구니에 넣으세요'
    n = normalize('put the cup in the basket')
    assert (n.action, n.held_object, n.target_object) == ('place', 'cup', 'basket')
    n = normalize('박스까지 가')   # a box as the destination is a target, not an obstacle
    assert (n.target_object, n.obstacle_count) == ('box', 0)
    n = normalize('두 박스를 돌아서 컵까지 가')   # two boxes + around: understood, no scenario
    assert n.understood and n.scenario == '' and n.obstacle_count == 2
    n = normalize('왼쪽으로 가')
    assert n.understood and n.side == 'left' and n.canonical == 'go left'
    assert n.confidence < 0.85 and 'no target object' in n.notes


def test_confidence_drops_with_a_missing_verb_or_target():
    full = normalize('박스를 왼쪽으로 돌아서 컵까지 가세요').confidence
    no_verb = normalize('박스를 왼쪽으로 돌아서 컵까지').confidence
    no_target = normalize('박스를 왼쪽으로 돌아서 가세요').confidence
    assert full == 1.0
    assert 0.8 <= no_verb < full
    assert 0.6 <= no_target < no_verb


def test_language_detection():
    assert detect_language('박스를 왼쪽으로') == 'ko'
    assert detect_language('go to the cup') == 'en'
    assert detect_language('box를 left로') == 'ko'
    assert detect_language('123 !!') == 'und'
    assert normalize('go to the cup').language == 'en'


# ------------------------------------------------------------------------- side-swap property
OPPOSITE = {'left': 'right', 'right': 'left', '': ''}


def _assert_swapped(text):
    swapped = swap_sides(text)
    a, b = normalize(text), normalize(swapped)
    if any(note.startswith('read ') for note in a.notes + b.notes):
        return   # a typo was corrected: swap_sides mirrors exact words only
    if re.sub(r'[\w\s]', '', text) != re.sub(r'[\w\s]', '', swapped):
        return   # punctuation inside a side word ("왼?쪽") was dropped with it: not a mirror
    assert a.status == b.status, (text, a.reason, b.reason)
    assert b.side == OPPOSITE[a.side], (text, a.side, b.side)
    assert (a.maneuver, a.obstacle_count, a.target_object) == (b.maneuver, b.obstacle_count,
                                                               b.target_object)
    if a.scenario:
        assert b.scenario == mirror_scenario(a.scenario)


@pytest.mark.parametrize('scenario,text', ALL_PARAPHRASES)
def test_swapping_sides_swaps_the_side_exhaustive(scenario, text):
    _assert_swapped(text)
    assert swap_sides(swap_sides(text)) == text


_DECORATIONS = st.sampled_from(['', '로봇아 ', '좀 ', '빨리 ', 'please ', '지금 '])
_SUFFIXES = st.sampled_from(['', '!', '.', '?', ' 부탁해', ' 부탁합니다', ' please'])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_PARAPHRASES + [(sc, t) for sc, ts in EXTRA.items() for t in ts]),
       _DECORATIONS, _SUFFIXES, st.booleans(), st.sampled_from(ENDINGS))
def test_swapping_sides_swaps_the_side_property(item, prefix, suffix, squash, ending):
    _, text = item
    if '가세요' in text:
        text = text.replace('가세요', ending)
    text = prefix + text + suffix
    if squash:
        text = text.replace(' ', '')
    _assert_swapped(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('박스컵왼쪽오른좌우측사이돌아서피해 두한2가세요lefrightbox'
                                             '멈춰 !?.')), max_size=30))
def test_normalize_never_raises_and_swap_property_holds_on_noise(text):
    n = normalize(text)
    assert 0.0 <= n.confidence <= 1.0
    assert n.status in tuple(Status)
    if n.status in (Status.NOT_UNDERSTOOD, Status.REFUSED):
        assert n.reason and n.category in CATEGORIES and not n.canonical
    _assert_swapped(text)


# ------------------------------------------------------------------------- split helper
def test_split_is_deterministic_disjoint_and_keeps_canonical_in_train():
    train, held = split_paraphrases(0.25, seed=3)
    train2, held2 = split_paraphrases(0.25, seed=3)
    assert (train, held) == (train2, held2)
    for sc in SCENARIOS:
        assert sorted(train[sc] + held[sc]) == sorted(PARAPHRASES[sc])
        assert not set(train[sc]) & set(held[sc])
        assert catalog(sc).instruction_ko in train[sc]
        assert 1 <= len(held[sc]) <= len(PARAPHRASES[sc]) // 2
    # Left and right versions of one phrasing are on the same side of the split.
    for sc in SCENARIOS:
        mirrored = {swap_sides(t) for t in held[sc]}
        assert mirrored == set(held[mirror_scenario(sc)])
    other = split_paraphrases(0.25, seed=4)[1]
    assert other != held   # another seed, another split
    assert split_paraphrases(0.0)[1] == {sc: [] for sc in SCENARIOS}
    with pytest.raises(ValueError):
        split_paraphrases(1.0)
