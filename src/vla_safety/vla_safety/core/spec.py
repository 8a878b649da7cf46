"""A gate parameter is declared on the config field it sets (`param`), so its name, default,
description, range and runtime rule are written once, next to the value the core uses.

`core.config` collects the table the node declares (`PARAMS`) and builds the configs from
parameter values by walking these fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple

MODES = ('base', 'arm')


class ConfigError(ValueError):
    """Parameter values that do not make a safe, consistent gate."""


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter of the gate."""

    name: str
    default: Any
    description: str
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    read_only: bool = True
    modes: Tuple[str, ...] = MODES
    #: name of a (read-only) hard-cap parameter whose value is this parameter's maximum
    max_from: Optional[str] = None


def floats(values: Sequence[Any]) -> Tuple[float, ...]:
    return tuple(float(v) for v in values)


def vec3(values: Sequence[Any]) -> Tuple[float, float, float]:
    vals = floats(values)
    if len(vals) != 3:
        raise ConfigError(f'expected 3 values [x, y, z], got {len(vals)}')
    return (vals[0], vals[1], vals[2])


_CONVERT: Dict[type, Callable[[Any], Any]] = {bool: bool, float: float, str: str, list: floats}


def param(name: str, default: Any, description: str, min_value: Optional[float] = None,
          max_value: Optional[float] = None, *, runtime: bool = False,
          cap: Optional[str] = None, convert: Optional[Callable[[Any], Any]] = None) -> Any:
    """A dataclass field set by the parameter `name` (its default is the parameter's; a list
    parameter is a tuple field). `runtime`: settable while the gate runs (otherwise read-only);
    `cap`: the hard-cap parameter that is this one's maximum; `convert`: parameter value ->
    field value (by default from the default's type)."""
    spec = ParamSpec(name, default, description, min_value, max_value, read_only=not runtime,
                     max_from=cap)
    value = tuple(default) if isinstance(default, list) else default
    return field(default=value, metadata={'param': spec,
                                          'convert': convert or _CONVERT[type(default)]})


def switch(name: str, default: bool, description: str, section: type) -> Any:
    """An optional config section (a dataclass field that is None when off), switched by the
    boolean parameter `name`."""
    spec = ParamSpec(name, default, description)
    return field(default_factory=section, metadata={'param': spec, 'convert': bool})


def walk(cls: type) -> Iterator[Tuple[ParamSpec, Any]]:
    """(spec, field) of every parameter of a config class and its sections, in field order."""
    for f in fields(cls):
        if 'param' in f.metadata:
            yield f.metadata['param'], f
        if is_dataclass(f.default_factory):
            yield from walk(f.default_factory)


def collect(trees: Dict[str, Sequence[type]]) -> Tuple[ParamSpec, ...]:
    """The parameter table of the config classes of each mode: one spec per name, in first-seen
    order, with the modes that have it."""
    modes: Dict[str, list] = {}
    specs: Dict[str, ParamSpec] = {}
    for mode, classes in trees.items():
        for cls in classes:
            for spec, _ in walk(cls):
                specs.setdefault(spec.name, spec)
                if mode not in modes.setdefault(spec.name, []):
                    modes[spec.name].append(mode)
    return tuple(replace(s, modes=tuple(modes[n])) for n, s in specs.items())


def from_values(cls: type, values: Dict[str, Any], **given: Any) -> Any:
    """An instance of a config class with every parameter field set from `values` (name ->
    value), its sections built the same way (a switched-off section is None) and `given`
    fields as given."""
    kwargs = dict(given)
    for f in fields(cls):
        if f.name in kwargs:
            continue
        meta = f.metadata
        section = f.default_factory if is_dataclass(f.default_factory) else None
        if section is not None:
            on = meta['convert'](values[meta['param'].name]) if 'param' in meta else True
            kwargs[f.name] = from_values(section, values) if on else None
        elif 'param' in meta:
            kwargs[f.name] = meta['convert'](values[meta['param'].name])
    return cls(**kwargs)


def field_values(config: Any) -> Iterator[Tuple[ParamSpec, Any]]:
    """(spec, value) of every parameter field of a built config and of its present sections."""
    for f in fields(config):
        value = getattr(config, f.name)
        if 'param' in f.metadata and not is_dataclass(value) and value is not None:
            yield f.metadata['param'], value
        if is_dataclass(value):
            yield from field_values(value)
