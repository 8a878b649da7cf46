"""Declare the gate's parameters (table in `core.config.PARAMS`) on a node."""

from __future__ import annotations

from typing import Any, Dict

from vla_common.params import declare

from vla_safety.core.config import ConfigError, MODES, SPECS, specs_for


def declare_parameters(node: Any) -> Dict[str, Any]:
    """Declare `mode`, then every parameter of that mode; return name -> value.

    Hard caps are declared before the limits they bound, and their values become those
    limits' descriptor maxima, so rclpy itself refuses a limit above its cap.
    """
    spec = SPECS['mode']
    mode = declare(node, spec.name, spec.default, spec.description, read_only=True)
    if mode not in MODES:
        raise ConfigError(f"parameter mode must be one of {MODES}, got {mode!r}")
    values: Dict[str, Any] = {'mode': mode}
    for spec in specs_for(mode):
        if spec.name == 'mode':
            continue
        max_value = values[spec.max_from] if spec.max_from else spec.max_value
        values[spec.name] = declare(node, spec.name, spec.default, spec.description,
                                    spec.min_value, max_value, read_only=spec.read_only)
    return values
