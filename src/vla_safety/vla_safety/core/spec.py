"""A gate parameter is declared once, in the table `vla_safety/data/gate_parameters.yaml`
(generate_parameter_library style: name, type, default, description, read-only, bounds, hard
cap), under the config dataclass and field it sets. `declared_in_table` gives a config
class's fields their defaults and parameters from its section of the table; the class itself
only names its fields and their types.

The table is read and checked when this module is imported, and each class against its
section when it is defined: a malformed entry, a missing or extra field, or a field whose type
is not the parameter's raises `TableError` at import, naming the entry.

`core.config` collects the table the node declares (`PARAMS`) and builds the configs from
parameter values by walking these fields.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Callable, Dict, get_type_hints, Iterator, Optional, Sequence, Set, Tuple

import yaml
from vla_common.arm_models import ARM_MODELS

MODES = ('base', 'arm')
TABLE_FILE = 'gate_parameters.yaml'


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


class TableError(ValueError):
    """A malformed parameter table, or a config class that does not match its section."""


#: Parameter type -> (the Python type of its value and of the field, value -> field value).
_TYPES: Dict[str, Tuple[type, Any, Callable[[Any], Any]]] = {
    'bool': (bool, bool, bool),
    'double': (float, float, float),
    'string': (str, str, str),
    'double_array': (list, Tuple[float, ...], floats),
}
_KEYS = {'param', 'type', 'default_value', 'description', 'read_only', 'validation'}
_VALIDATION_KEYS = {'bounds', 'hard_cap', 'fixed_size'}
#: What a description may name in braces.
_PLACEHOLDERS = {'arm_models': ', '.join(sorted(ARM_MODELS))}


@dataclass(frozen=True)
class _Entry:
    """One parameter of the table: its spec, the field's type and default, the conversion."""

    spec: ParamSpec
    annotation: Any
    default: Any
    convert: Callable[[Any], Any]


def _optional_float(where: str, value: Any) -> Optional[float]:
    if value is not None and type(value) is not float:
        raise TableError(f'{where}: bounds are doubles or null, got {value!r}')
    return value


def _entry(where: str, raw: Any) -> _Entry:
    """One entry of the table, checked."""
    if not isinstance(raw, dict):
        raise TableError(f'{where}: expected a mapping of {sorted(_KEYS)}')
    if set(raw) - _KEYS or _KEYS - {'validation'} - set(raw):
        raise TableError(f'{where}: unknown keys {sorted(set(raw) - _KEYS)}, missing keys '
                         f'{sorted(_KEYS - {"validation"} - set(raw))}')
    kind, default = raw['type'], raw['default_value']
    if kind not in _TYPES:
        raise TableError(f'{where}: type {kind!r} is not one of {sorted(_TYPES)}')
    value_type, annotation, convert = _TYPES[kind]
    if type(default) is not value_type or (
            kind == 'double_array' and not all(type(v) is float for v in default)):
        raise TableError(f'{where}: default_value {default!r} is not a {kind} (write doubles '
                         'as 0.0, not 0)')
    if not (isinstance(raw['param'], str) and raw['param']):
        raise TableError(f'{where}: param must name the parameter')
    if not (isinstance(raw['description'], str) and raw['description']):
        raise TableError(f'{where}: description must be a non-empty string')
    try:
        description = raw['description'].format(**_PLACEHOLDERS)
    except (KeyError, IndexError, ValueError) as exc:
        raise TableError(f'{where}: description: unknown placeholder {exc} (known: '
                         f'{sorted(_PLACEHOLDERS)})') from None
    if type(raw['read_only']) is not bool:
        raise TableError(f'{where}: read_only must be true or false')
    checks = raw.get('validation') or {}
    if not isinstance(checks, dict) or set(checks) - _VALIDATION_KEYS:
        raise TableError(f'{where}: validation takes {sorted(_VALIDATION_KEYS)}')
    bounds = checks.get('bounds', [None, None])
    if 'bounds' in checks and (kind != 'double' or not isinstance(bounds, list)
                               or len(bounds) != 2):
        raise TableError(f'{where}: bounds are [min, max] of a double')
    lo, hi = (_optional_float(where, b) for b in bounds)
    if lo is not None and hi is not None and lo > hi:
        raise TableError(f'{where}: bounds {bounds}: min above max')
    if (lo is not None and default < lo) or (hi is not None and default > hi):
        raise TableError(f'{where}: default_value {default} is outside the bounds {bounds}')
    cap = checks.get('hard_cap')
    if cap is not None and (kind != 'double' or not isinstance(cap, str)):
        raise TableError(f'{where}: hard_cap names the read-only double that caps a double')
    if 'fixed_size' in checks:
        if kind != 'double_array' or checks['fixed_size'] != 3 or len(default) != 3:
            raise TableError(f'{where}: fixed_size is 3 ([x, y, z]) on a double_array of 3')
        annotation, convert = Tuple[float, float, float], vec3
    spec = ParamSpec(raw['param'], default, description, lo, hi, read_only=raw['read_only'],
                     max_from=cap)
    return _Entry(spec, annotation, tuple(default) if kind == 'double_array' else default,
                  convert)


def load_table(text: Optional[str] = None) -> Dict[str, Dict[str, _Entry]]:
    """The shipped table (or the YAML `text` given): config class name -> field name -> entry,
    in file order. Raises TableError naming a malformed entry."""
    if text is None:
        text = importlib.resources.files('vla_safety').joinpath(
            'data', TABLE_FILE).read_text(encoding='utf-8')
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TableError(f'{TABLE_FILE}: not YAML: {exc}') from None
    if not isinstance(raw, dict) or not raw:
        raise TableError(f'{TABLE_FILE}: expected config class -> field -> parameter')
    table: Dict[str, Dict[str, _Entry]] = {}
    names: Set[str] = set()
    for section, entries in raw.items():
        if not isinstance(entries, dict) or not entries:
            raise TableError(f'{TABLE_FILE}: {section}: expected field -> parameter')
        table[section] = {}
        for name, entry in entries.items():
            where = f'{TABLE_FILE}: {section}.{name}'
            table[section][name] = parsed = _entry(where, entry)
            if parsed.spec.name in names:
                raise TableError(f'{where}: parameter {parsed.spec.name!r} is declared twice')
            names.add(parsed.spec.name)
    specs = {e.spec.name: e.spec for entries in table.values() for e in entries.values()}
    for section, entries in table.items():
        for name, entry in entries.items():
            cap = specs.get(entry.spec.max_from or '')
            if entry.spec.max_from and not (cap and cap.read_only and type(cap.default) is float):
                raise TableError(f'{TABLE_FILE}: {section}.{name}: hard_cap '
                                 f'{entry.spec.max_from!r} is not a read-only double')
    return table


TABLE = load_table()
_claimed: Set[str] = set()


@dataclass(frozen=True)
class _Switch:
    section: type


def switched(section: type) -> Any:
    """An optional config section (a field that is None when off): its boolean parameter is
    the field's entry in the table."""
    return _Switch(section)


def declared_in_table(cls: type) -> type:
    """Give a config class (decorated before `@dataclass`) the defaults and parameters of its
    section of the table. Its parameter fields are the annotations without a value (or with
    `switched(...)`), in the table's order and with the table's types; fields with a value
    (sections, derived values) are not parameters."""
    where = f'{TABLE_FILE}: {cls.__name__}'
    section = TABLE.get(cls.__name__)
    if section is None:
        raise TableError(f'{where}: no section for this config class')
    own = cls.__dict__.get('__annotations__', {})
    names = [n for n in own if n not in cls.__dict__ or isinstance(cls.__dict__[n], _Switch)]
    if names != list(section):
        raise TableError(f'{where}: the class declares {names}, the table {list(section)}')
    hints = get_type_hints(cls)
    for name in names:
        entry, switch = section[name], cls.__dict__.get(name)
        if isinstance(switch, _Switch):
            expected = Optional[switch.section]
            if type(entry.spec.default) is not bool:
                raise TableError(f'{where}.{name}: a switch is a bool parameter')
            made = field(default_factory=switch.section,
                         metadata={'param': entry.spec, 'convert': bool})
        else:
            expected = entry.annotation
            made = field(default=entry.default,
                         metadata={'param': entry.spec, 'convert': entry.convert})
        if hints[name] != expected:
            raise TableError(f'{where}.{name}: the field is {hints[name]}, the parameter '
                             f'{expected}')
        setattr(cls, name, made)
    _claimed.add(cls.__name__)
    return cls


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
    unclaimed = set(TABLE) - _claimed
    if unclaimed:
        raise TableError(f'{TABLE_FILE}: sections without a config class: {sorted(unclaimed)}')
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
