"""The scenario catalog: the 8 ids, their layout and side, and the seed design's sentences."""

import pytest
from vla_common.scenarios import (find_scenario, LAYOUTS, mirror_scenario, scenario, SCENARIOS,
                                  SIDES)


def test_eight_scenarios_in_canonical_order():
    assert SCENARIOS == ('1box_vert_left', '1box_vert_right', '1box_hori_left',
                         '1box_hori_right', '2box_vert_left', '2box_vert_right',
                         '2box_hori_left', '2box_hori_right')
    for sc in SCENARIOS:
        entry = scenario(sc)
        assert entry.id == sc
        assert sc == f'{entry.box_count}box_{entry.orientation}_{entry.side}'


def test_the_seed_sentences_are_the_canonical_korean_instructions():
    assert scenario('1box_vert_left').instruction_ko == '박스를 왼쪽으로 돌아서 컵까지 가세요'
    assert scenario('1box_vert_right').instruction_ko == '박스를 오른쪽으로 돌아서 컵까지 가세요'
    assert scenario('1box_hori_left').instruction_ko == '박스를 왼쪽으로 피해서 컵까지 가세요'
    assert scenario('2box_vert_left').instruction_ko == '두 박스 사이 왼쪽 경로로 컵까지 가세요'
    assert scenario('2box_hori_right').instruction_ko == '두 박스를 오른쪽으로 피해서 컵까지 가세요'
    assert scenario('1box_hori_right').instruction_en == (
        'move right to avoid the box, then go to the cup')


def test_count_manoeuvre_and_side_name_exactly_one_scenario():
    for layout in LAYOUTS:
        for side in SIDES:
            entry = find_scenario(layout.box_count, layout.maneuver, side)
            assert entry is not None and (entry.layout, entry.side) == (layout.name, side)
    assert find_scenario(2, 'around', 'left') is None      # understood, but not one of the 8
    assert find_scenario(1, 'avoid', '') is None


def test_mirror_flips_only_the_side():
    for sc in SCENARIOS:
        other = scenario(mirror_scenario(sc))
        assert other.layout == scenario(sc).layout and other.side != scenario(sc).side
        assert mirror_scenario(other.id) == sc


@pytest.mark.parametrize('bad', ['3box_vert_left', '1box_vert', '', None])
def test_unknown_ids_are_refused(bad):
    with pytest.raises(ValueError, match='unknown scenario'):
        scenario(bad)
