"""The parameter table (data/gate_parameters.yaml): a malformed entry, or a config class that
does not match its section, fails at import with a clear error naming the entry."""

from dataclasses import dataclass
from typing import Optional, Tuple

import pytest
from vla_safety.core import spec
from vla_safety.core.spec import declared_in_table, load_table, switched, TableError

GOOD = """
Probe:
  cap:
    param: hard_caps.probe
    type: double
    default_value: 2.0
    description: cap
    read_only: true
  speed:
    param: probe.speed
    type: double
    default_value: 0.5
    description: speed
    read_only: false
    validation: {bounds: [0.0, null], hard_cap: hard_caps.probe}
"""


@pytest.mark.parametrize('old, new, match', [
    ('default_value: 0.5', 'default_value: 1', 'not a double .*write doubles as 0.0'),
    ('type: double\n    default_value: 0.5', 'type: float\n    default_value: 0.5',
     "type 'float' is not one of"),
    ('    read_only: false\n', '', r"missing keys \['read_only'\]"),
    ('read_only: false', 'read_only: false\n    runtime: true', r"unknown keys \['runtime'\]"),
    ('bounds: [0.0, null]', 'bounds: [1.0, null]', 'outside the bounds'),
    ('bounds: [0.0, null]', 'bounds: [0.0, -1.0]', 'min above max'),
    ('bounds: [0.0, null]', 'bounds: [0, null]', 'bounds are doubles or null'),
    ('hard_cap: hard_caps.probe', 'hard_cap: hard_caps.prob', 'is not a read-only double'),
    ('description: speed', 'description: speed ({models})', 'unknown placeholder'),
    ('param: probe.speed', 'param: hard_caps.probe', 'declared twice'),
])
def test_a_malformed_entry_is_refused_naming_it(old, new, match):
    assert load_table(GOOD)['Probe']['speed'].spec.max_from == 'hard_caps.probe'
    with pytest.raises(TableError, match=match) as info:
        load_table(GOOD.replace(old, new))
    assert 'gate_parameters.yaml' in str(info.value)


def test_a_class_must_match_its_section(monkeypatch):
    monkeypatch.setattr(spec, 'TABLE', load_table(GOOD))

    @dataclass(frozen=True)
    @declared_in_table
    class Probe:
        cap: float
        speed: float
        period: float = 0.1        # has a value: not a parameter

    assert Probe() == Probe(2.0, 0.5, 0.1)
    assert Probe.__dataclass_fields__['speed'].metadata['param'].read_only is False

    def define(**annotations):
        return declared_in_table(type('Probe', (), {'__annotations__': annotations}))

    with pytest.raises(TableError, match=r"declares \['cap'\], the table \['cap', 'speed'\]"):
        define(cap=float)
    with pytest.raises(TableError, match="Probe.speed: the field is <class 'int'>"):
        define(cap=float, speed=int)
    with pytest.raises(TableError, match='no section'):
        declared_in_table(type('Other', (), {'__annotations__': {'cap': float}}))
    switch = type('Probe', (), {'__annotations__': {'cap': Optional[Tuple[float, ...]],
                                                    'speed': float},
                                'cap': switched(tuple)})
    with pytest.raises(TableError, match='Probe.cap: a switch is a bool parameter'):
        declared_in_table(switch)
