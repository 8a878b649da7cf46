"""Declare ROS parameters with descriptors (description, range, read-only) in one call each."""

from __future__ import annotations

from typing import Any, Dict, Optional

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor)


def declare(node: Any, name: str, default: Any, description: str,
            min_value: Optional[float] = None, max_value: Optional[float] = None,
            read_only: bool = False, step: Optional[float] = None) -> Any:
    """Declare `name` with a ParameterDescriptor and return its value.

    Numeric ranges are enforced by rclpy when the parameter is set (at start or at runtime).
    `read_only` is for structure and hard safety caps: they can only come from a parameter file.
    """
    desc = ParameterDescriptor(description=description, read_only=read_only)
    if isinstance(default, bool):
        pass
    elif isinstance(default, int) and (min_value is not None or max_value is not None):
        desc.integer_range = [IntegerRange(
            from_value=int(min_value if min_value is not None else -(2 ** 31)),
            to_value=int(max_value if max_value is not None else 2 ** 31 - 1),
            step=int(step or 0))]
    elif isinstance(default, float) and (min_value is not None or max_value is not None):
        desc.floating_point_range = [FloatingPointRange(
            from_value=float(min_value if min_value is not None else -1e300),
            to_value=float(max_value if max_value is not None else 1e300),
            step=float(step or 0.0))]
    return node.declare_parameter(name, default, desc).value


def flatten_parameters(value: Any, out: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    """The `ros__parameters` of a parameter file as the node sees them: nested keys joined
    with '.', added to `out` (returned)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            flatten_parameters(sub, out, f'{prefix}.{key}' if prefix else str(key))
    else:
        out[prefix] = value
    return out
