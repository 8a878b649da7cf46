"""Scenario files: the shipped 8, seeded placement, the YAML format and user scenarios."""

import dataclasses
import math

import pytest
import yaml
from mobile_base.core.scenarios import (builtin_scenario_dir, list_scenarios, load_scenario_file,
                                        make_instance, resolve_scenario, ScenarioDistribution,
                                        ScenarioError)
from vla_common.scenarios import LAYOUTS, scenario as catalog, SCENARIOS


def test_the_eight_scenarios_ship_with_one_geometry_file_per_layout():
    assert list_scenarios()[:8] == list(SCENARIOS)
    files = sorted(p.stem for p in (builtin_scenario_dir() / 'layouts').glob('*.yaml'))
    assert files == sorted(layout.name for layout in LAYOUTS)


@pytest.mark.parametrize('name', SCENARIOS)
def test_shipped_scenario_matches_its_catalog_entry(name):
    spec, entry = resolve_scenario(name), catalog(name)
    assert spec.name == name
    assert (spec.instruction, spec.instruction_en) == (entry.instruction_ko, entry.instruction_en)
    assert (spec.side, spec.maneuver) == (entry.side, entry.maneuver)
    assert len(spec.obstacles) == entry.box_count
    for ob in spec.obstacles:
        length, width, _ = ob.size
        assert (length > width) == (entry.orientation == 'vert'), 'vert = lengthwise along route'
    inst = spec.sample(0)
    # Small episodes: cup 2-3 m ahead, obstacles between robot and cup.
    assert 2.0 <= inst.cup.x <= 3.0
    assert all(0.5 < ob.x < inst.cup.x - 0.5 for ob in inst.obstacles)
    assert inst.time_limit <= 60.0


def test_a_layout_file_may_not_restate_what_the_catalog_says(tmp_path):
    data = yaml.safe_load((builtin_scenario_dir() / 'layouts' / '1box_vert.yaml').read_text())
    path = tmp_path / '1box_vert.yaml'
    path.write_text(yaml.safe_dump(dict(data, side='right')), encoding='utf-8')
    with pytest.raises(ScenarioError, match='side'):
        load_scenario_file(path, catalog=catalog('1box_vert_left'))
    # ...and a user file may not take a built-in id (its side would contradict the catalog).
    user = dict(resolve_scenario('1box_vert_left').to_dict(), side='right')
    with pytest.raises(ScenarioError, match='built-in'):
        ScenarioDistribution.from_dict(user)


def test_sampling_is_deterministic_and_varies_with_seed():
    a, b = make_instance('1box_hori_left', 7), make_instance('1box_hori_left', 7)
    assert a == b
    c = make_instance('1box_hori_left', 8)
    assert (c.cup.x, c.obstacles[0].x) != (a.cup.x, a.obstacles[0].x)


@pytest.mark.parametrize('layout', ['1box_vert', '1box_hori', '2box_vert', '2box_hori'])
def test_left_and_right_variants_share_the_layout(layout):
    for seed in range(5):
        left = make_instance(f'{layout}_left', seed)
        right = make_instance(f'{layout}_right', seed)
        assert left.obstacles == right.obstacles and left.cup == right.cup
        assert (left.side, right.side) == ('left', 'right')


def test_samples_stay_in_their_ranges():
    spec = resolve_scenario('2box_vert_right')
    for seed in range(50):
        inst = spec.sample(seed)
        assert spec.cup.x.low <= inst.cup.x <= spec.cup.x.high
        for ob, ob_spec in zip(inst.obstacles, spec.obstacles):
            assert ob_spec.x.low <= ob.x <= ob_spec.x.high
            assert ob_spec.yaw.low <= ob.yaw <= ob_spec.yaw.high


def test_start_noise_moves_the_start_but_not_the_obstacles():
    plain = make_instance('1box_vert_left', 3)
    noisy = make_instance('1box_vert_left', 3, start_noise=(0.05, 0.05, 0.05))
    assert noisy.obstacles == plain.obstacles and noisy.cup == plain.cup
    assert noisy.start != plain.start
    assert math.hypot(noisy.start.x, noisy.start.y) < 0.3


def test_yaml_round_trip(tmp_path):
    spec = dataclasses.replace(resolve_scenario('2box_hori_left'), name='2box_hori_left_copy')
    path = tmp_path / 'copy.yaml'
    path.write_text(yaml.safe_dump(spec.to_dict(), allow_unicode=True), encoding='utf-8')
    again = load_scenario_file(path)
    assert again == dataclasses.replace(spec, source=str(path))
    assert again.sample(11) == dataclasses.replace(spec.sample(11), source=str(path))


def test_user_scenario_by_directory_and_by_path(tmp_path):
    text = '''
name: 3box_slalom_left
instruction: 세 박스를 왼쪽으로 피해서 컵까지 가세요
side: left
maneuver: avoid
cup: {x: 3.0, y: 0.0}
obstacles:
  - {size: [0.3, 0.3, 0.3], x: 1.0, y: [-0.1, 0.1]}
  - {size: [0.3, 0.3, 0.3], x: 1.6}
  - {size: [0.3, 0.3, 0.3], x: 2.2, yaw: 0.3}
'''
    path = tmp_path / '3box_slalom_left.yaml'
    path.write_text(text, encoding='utf-8')
    assert '3box_slalom_left' in list_scenarios([tmp_path])
    by_name = make_instance('3box_slalom_left', 1, extra_dirs=[tmp_path])
    by_path = make_instance(str(path), 1)
    assert by_name.obstacles == by_path.obstacles
    assert len(by_name.obstacles) == 3 and by_name.cup.x == 3.0
    assert by_name.instruction.startswith('세 박스')


@pytest.mark.parametrize('bad, message', [
    ({'instruction': 'x', 'side': 'left', 'cup': {'x': 1}, 'obstacles': [{'size': [1, 1, 1],
                                                                         'x': 1}]}, 'name'),
    ({'name': 'a', 'instruction': 'x', 'side': 'up', 'cup': {'x': 1},
      'obstacles': [{'size': [1, 1, 1], 'x': 1}]}, 'side'),
    ({'name': 'a', 'instruction': 'x', 'side': 'left', 'cup': {'x': [2, 1]},
      'obstacles': [{'size': [1, 1, 1], 'x': 1}]}, 'low <= high'),
    ({'name': 'a', 'instruction': 'x', 'side': 'left', 'cup': {'x': 1},
      'obstacles': [{'size': [1, -1, 1], 'x': 1}]}, 'size'),
    ({'name': 'a', 'instruction': 'x', 'side': 'left', 'cup': {'x': 1}, 'obstacles': []},
     'non-empty'),
])
def test_invalid_files_are_refused_with_a_reason(bad, message):
    with pytest.raises(ScenarioError, match=message):
        ScenarioDistribution.from_dict(bad)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ScenarioError, match='1box_vert_left'):
        resolve_scenario('3box_nowhere')
    with pytest.raises(ScenarioError):
        make_instance('1box_vert_left', -1)
