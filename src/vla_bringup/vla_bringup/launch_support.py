"""Turn a StackSpec into launch_ros actions (imported by the launch files on the target only)."""

from __future__ import annotations

import os
import shlex
from typing import Callable, Dict, List, Sequence, Tuple

from vla_bringup.stacks import StackSpec, XacroFile


#: A launch argument: (name, default, description) or (name, default, description, choices).
Argument = Tuple[str, ...]


def stack_launch_description(arguments: Sequence[Argument],
                             actions: Callable[[Dict[str, str]], List[object]]) -> object:
    """The LaunchDescription of a stack launch file: its arguments declared (with their
    choices), the shipped transport profile, then `actions(values)` with the arguments' values
    (strings) when the launch runs."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
    from launch.substitutions import LaunchConfiguration

    def setup(context, *args, **kwargs):
        return actions({a[0]: LaunchConfiguration(a[0]).perform(context) for a in arguments})

    declared = [DeclareLaunchArgument(name, default_value=default, description=description,
                                      **({'choices': list(choices[0])} if choices else {}))
                for name, default, description, *choices in arguments]
    return LaunchDescription(declared + transport_environment(SetEnvironmentVariable)
                             + [OpaqueFunction(function=setup)])


def transport_environment(set_env_action) -> List[object]:
    """Apply the shipped Fast DDS profile unless the user already chose one."""
    from vla_bringup.runner import transport_profile

    profile = transport_profile()
    if not profile or 'FASTDDS_DEFAULT_PROFILES_FILE' in os.environ:
        return []
    return [set_env_action('FASTDDS_DEFAULT_PROFILES_FILE', profile)]


def launch_value(value: object) -> object:
    """A stack parameter value as launch_ros takes it.

    A robot description becomes the output of xacro at start-up, typed as a string: without
    `value_type=str` launch_ros parses the URDF text as YAML (its comments contain ': ').
    """
    if isinstance(value, XacroFile):
        from launch.substitutions import Command
        from launch_ros.parameter_descriptions import ParameterValue

        return ParameterValue(Command(' '.join(shlex.quote(c) for c in value.command())),
                              value_type=str)
    return value


def package_installed(package: str) -> bool:
    from ament_index_python.packages import get_package_prefix, PackageNotFoundError

    try:
        get_package_prefix(package)
    except PackageNotFoundError:
        return False
    return True


def node_actions(stack: StackSpec) -> List[object]:
    """One launch_ros Node action per node of the stack, parameters layered in order.

    An optional node is started only if its package is installed when the launch runs; if it
    is not, the launch log says so instead (the same rule as TF broadcasting without tf2_ros).
    """
    from launch import Condition
    from launch.actions import LogInfo
    from launch_ros.actions import Node

    actions: List[object] = []
    for spec in stack.nodes:
        condition = None
        if spec.optional:
            condition = Condition(predicate=lambda _, p=spec.package: package_installed(p))
            actions.append(LogInfo(
                msg=f'{spec.package} is not installed: {spec.name} is not started',
                condition=Condition(predicate=lambda _, p=spec.package: not package_installed(p))))
        params: List[object] = [pf.resolve() for pf in spec.param_files]
        if spec.parameters:
            params.append({k: launch_value(v) for k, v in spec.parameters})
        actions.append(Node(package=spec.package, executable=spec.executable, name=spec.name,
                            namespace=spec.namespace or None, parameters=params,
                            remappings=list(spec.remappings), output='screen',
                            emulate_tty=True, condition=condition))
    return actions
