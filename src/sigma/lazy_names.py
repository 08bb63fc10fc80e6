"""Module attributes imported on first use: `sigma.schemas` and `sigma.db.models` name every
schema and table, but a command builds only its own area's (bench/README.md, CLI startup)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(namespace: dict[str, Any], areas: dict[str, tuple[str, ...]],
               extra: dict[str, Callable[[], Any]] | None = None):
    """(__getattr__, __dir__) for the module whose globals are `namespace`: a name listed in
    `areas` ({module: names}) is imported from its module when first asked for, a name in
    `extra` is computed by its function; either is then kept in the module's globals."""
    where = {name: module for module, names in areas.items() for name in names}
    extra = extra or {}

    def __getattr__(name: str) -> Any:
        if name in extra:
            value = extra[name]()
        elif name in where:
            value = getattr(importlib.import_module(where[name]), name)
        else:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where, *extra})

    return __getattr__, __dir__
