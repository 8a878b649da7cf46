"""Turn a StackSpec into launch_ros actions (imported by the launch files on the target only)."""

from __future__ import annotations

import os
from typing import List

from vla_bringup.stacks import StackSpec


def transport_environment(set_env_action) -> List[object]:
    """Apply the shipped Fast DDS profile unless the user already chose one."""
    from vla_bringup.runner import transport_profile

    profile = transport_profile()
    if not profile or 'FASTDDS_DEFAULT_PROFILES_FILE' in os.environ:
        return []
    return [set_env_action('FASTDDS_DEFAULT_PROFILES_FILE', profile)]


def node_actions(stack: StackSpec) -> List[object]:
    """One launch_ros Node action per node of the stack, parameters layered in order."""
    from launch_ros.actions import Node

    actions = []
    for spec in stack.nodes:
        params: List[object] = [pf.resolve() for pf in spec.param_files]
        if spec.parameters:
            params.append(dict(spec.parameters))
        actions.append(Node(package=spec.package, executable=spec.executable, name=spec.name,
                            namespace=spec.namespace or None, parameters=params,
                            remappings=list(spec.remappings), output='screen',
                            emulate_tty=True))
    return actions
