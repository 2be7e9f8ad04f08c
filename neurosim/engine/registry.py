"""Name -> class registries of the engine's schemes (IF dispatch, MAC organisations, MAC salient
classes): a scheme registers itself with one decorator line beside its class, and a name
registered twice is an error (two modules silently claiming one config value would make the
config mean whichever imported last)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T", bound=type)


class Registry(dict):
    """A ``{name: class}`` dict filled by :meth:`register`; ``kind`` names it in errors."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: register the class under ``name`` and set its ``name`` attribute."""
        def add(cls: T) -> T:
            if name in self:
                raise ValueError(f"{self.kind} {name!r} is registered twice: {self[name].__qualname__} and "
                                 f"{cls.__qualname__}")
            cls.name = name
            self[name] = cls
            return cls
        return add

    def lookup(self, name: str) -> T:
        """The class registered as ``name``; a ValueError naming the known ones otherwise."""
        if name not in self:
            raise ValueError(f"no {self.kind} {name!r} (registered: {', '.join(sorted(self))})")
        return self[name]
