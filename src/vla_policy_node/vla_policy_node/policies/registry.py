"""Name -> class registries for configurations (LeRobot-style `@register('name')`)."""

from __future__ import annotations

from typing import Callable, Dict, Generic, List, Type, TypeVar

from .errors import ConfigError

T = TypeVar('T')


class Registry(Generic[T]):
    """A registry of classes of one kind (backbone, head, policy), keyed by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: Dict[str, Type[T]] = {}

    def register(self, name: str) -> Callable[[Type[T]], Type[T]]:
        """Class decorator: register `cls` under `name` and set `cls.type_name`."""
        def decorator(cls: Type[T]) -> Type[T]:
            if name in self._classes and self._classes[name] is not cls:
                raise ConfigError(f'{self.kind} {name!r} is already registered '
                                  f'({self._classes[name].__name__})')
            self._classes[name] = cls
            setattr(cls, 'type_name', name)
            return cls
        return decorator

    def get(self, name: str) -> Type[T]:
        """The class registered as `name`; ConfigError listing the known names otherwise."""
        try:
            return self._classes[name]
        except KeyError:
            raise ConfigError(f'unknown {self.kind} {name!r}; registered: '
                              f'{", ".join(self.names()) or "(none)"}') from None

    def names(self) -> List[str]:
        return sorted(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes
