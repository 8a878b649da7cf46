"""The node's parameters reach the executive by name: every trigger and executive field gets
the value of its own parameter (a field inserted into a config dataclass once shifted the
positional ones: min_interval took error_backoff's 1 s and event mode inferred at 1 Hz)."""

import dataclasses

from vla_policy_node.execution.executive import ExecutiveConfig
from vla_policy_node.execution.scan_change import ScanChangeConfig
from vla_policy_node.execution.triggers import TriggerConfig
from vla_policy_node.parameters import NodeParams

#: executive/trigger field -> node parameter, where the names differ
RENAMED = {'mode': 'trigger_mode', 'min_interval': 'min_inference_interval',
           'min_points': 'scan_change_points', 'tolerance': 'scan_change_tolerance',
           'max_range': 'scan_change_range', 'mount': 'scan_laser_pose'}
NESTED = ('trigger', 'scan_change', 'max_gap')   # configs, and a constant (not a parameter)


def test_every_trigger_and_executive_field_comes_from_its_own_parameter():
    numeric = {}
    for i, f in enumerate(dataclasses.fields(NodeParams)):
        if f.type in ('float', float):
            numeric[f.name] = 0.5 + i * 0.01          # distinct, valid everywhere
        elif f.type in ('int', int) and f.name not in ('num_threads', 'inference_nice'):
            numeric[f.name] = 3 + i
    params = NodeParams(**numeric, trigger_mode='periodic', chunk_blend='temporal',
                        scan_laser_pose=(0.1, -0.2, 3.0))
    cfg = params.executive_config()
    checked = 0
    for config, fields in ((cfg.trigger, TriggerConfig), (cfg, ExecutiveConfig),
                           (cfg.scan_change, ScanChangeConfig)):
        for f in dataclasses.fields(fields):
            source = RENAMED.get(f.name, f.name)
            if f.name in NESTED:
                continue
            expected = getattr(params, source)
            got = getattr(config, f.name)
            assert got == (tuple(expected) if isinstance(got, tuple) else expected), f.name
            checked += 1
    assert checked == len(dataclasses.fields(TriggerConfig)) + \
        len(dataclasses.fields(ExecutiveConfig)) + len(dataclasses.fields(ScanChangeConfig)) - 3
