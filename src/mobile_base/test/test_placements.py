"""Placement namespaces: evaluation placements are disjoint from every collection run by
construction, over the whole seed space; left and right evaluation variants differ."""

import numpy as np
import pytest
from mobile_base.core.scenarios import (make_instance, MAX_SEED, placement_key, PLACEMENTS,
                                        resolve_scenario, ScenarioError)

#: Every 1048573rd seed of the 32-bit space (a prime stride), plus the edges: 4100 seeds.
SWEEP = list(range(0, MAX_SEED + 1, 1048573)) + [1, 2, 2 ** 31 - 1, MAX_SEED - 1, MAX_SEED]


def padded(key):
    """What numpy's SeedSequence mixes: the entropy words padded with zeros to 4."""
    words = np.random.SeedSequence(key).entropy
    words = [int(w) for w in (words if isinstance(words, (list, tuple)) else [words])]
    return tuple(words + [0] * (4 - len(words)))


def test_namespace_keys_are_disjoint_over_the_whole_seed_space():
    plain = {padded(placement_key(s)) for s in SWEEP}
    collect = {padded(placement_key(s, 'collect', side)) for s in SWEEP
               for side in ('left', 'right')}
    evaluate = {padded(placement_key(s, 'evaluate', side)) for s in SWEEP
                for side in ('left', 'right')}
    assert len(plain) == len(SWEEP) and len(evaluate) == 2 * len(SWEEP)
    assert len(collect) == len(SWEEP)         # the sides share collection placements
    assert not plain & collect and not plain & evaluate and not collect & evaluate
    # Why this holds for every seed, not only the swept ones: the second word is the
    # namespace (0 for every plain seed < 2**32, 1 collect, 2 evaluate), the last is the seed.
    assert {k[1] for k in plain} == {0} and {k[1] for k in collect} == {1}
    assert {k[1] for k in evaluate} == {2} and {k[3] for k in evaluate} == set(SWEEP)
    assert {k[2] for k in evaluate} == {1, 2}


@pytest.mark.parametrize('seed', [-1, MAX_SEED + 1, 2 ** 40])
def test_seeds_outside_32_bits_are_refused(seed):
    # A larger seed would spill into a second entropy word and could alias a namespaced key.
    for placement in PLACEMENTS:
        with pytest.raises(ScenarioError, match='seed must be'):
            placement_key(seed, placement, 'left')
    with pytest.raises(ScenarioError, match='placement must be'):
        placement_key(0, 'train')


def test_placements_of_collection_and_evaluation_never_coincide():
    for sc in ('1box_vert_left', '2box_hori_right'):
        spec = resolve_scenario(sc)
        collected = {spec.sample(s, placement='collect').obstacles for s in range(500)}
        evaluated = {spec.sample(s, placement='evaluate').obstacles for s in range(500)}
        assert len(collected) == len(evaluated) == 500 and not collected & evaluated


def test_collection_pairs_the_sides_and_evaluation_does_not():
    for seed in range(20):
        for layout in ('1box_vert', '2box_hori'):
            c = [make_instance(f'{layout}_{side}', seed, placement='collect')
                 for side in ('left', 'right')]
            e = [make_instance(f'{layout}_{side}', seed, placement='evaluate')
                 for side in ('left', 'right')]
            assert c[0].obstacles == c[1].obstacles and c[0].cup == c[1].cup
            assert e[0].obstacles != e[1].obstacles and e[0].cup != e[1].cup


def test_plain_seeds_are_the_old_placements_and_spread_widens_about_the_centre():
    inst = make_instance('1box_hori_left', 3)
    rng = np.random.default_rng(3)
    draws = [rng.uniform() for _ in range(8)]      # start x, y, yaw, cup x, y, box x, y, yaw
    assert inst.cup.x == pytest.approx(2.3 + draws[3] * 0.3)
    wide = make_instance('1box_hori_left', 3, spread=2.0)
    assert wide.cup.x - 2.45 == pytest.approx(2.0 * (inst.cup.x - 2.45))
    assert wide.obstacles[0].yaw == pytest.approx(2.0 * inst.obstacles[0].yaw)
    assert wide.layout_spread == 2.0 and inst.placement == 'plain'
    with pytest.raises(ScenarioError, match='spread'):
        make_instance('1box_hori_left', 3, spread=0.0)
