"""Which engine kinds exist and the module whose adapter drives each.

The kinds are the keys of :data:`ADAPTER_MODULES`: presets and the catalog validate
``engine.kind`` / ``engine`` against them without importing any adapter. An adapter module is
imported (by name, with :mod:`importlib`) the first time its kind is asked for, and registers
its class with :func:`register`; so neither this module nor :mod:`.base` imports the adapters,
and the adapters import :mod:`.base` without a circle. A new engine is its adapter module and
one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

from cosmos_tui.core.choices import one_of
from cosmos_tui.core.errors import UserError

if TYPE_CHECKING:
    from cosmos_tui.core.engines.base import EngineAdapter

ADAPTER_MODULES: dict[str, str] = {
    "builtin": "cosmos_tui.core.engines.builtin",
    "cosmos-transfer2.5": "cosmos_tui.core.engines.transfer25",
    "cosmos-predict2.5": "cosmos_tui.core.engines.predict25",
    "cosmos-predict1": "cosmos_tui.core.engines.predict1",
    "cosmos-framework": "cosmos_tui.core.engines.framework",
}
"""Engine kind -> the module holding its adapter, in the order kinds are listed."""

ENGINE_KINDS: tuple[str, ...] = tuple(ADAPTER_MODULES)
"""Every engine kind, in :data:`ADAPTER_MODULES` order."""

DEFAULT_KIND: str = ENGINE_KINDS[0]
"""The kind a preset gets when it names none (the engine shipped with cosmos-tui)."""

_ADAPTERS: dict[str, type[EngineAdapter]] = {}

A = TypeVar("A", bound="type[EngineAdapter]")


def register(cls: A) -> A:
    """Class decorator: make ``cls`` the adapter for its ``kind`` (a kind listed in
    :data:`ADAPTER_MODULES`)."""
    if cls.kind not in ADAPTER_MODULES:
        raise ValueError(f"adapter kind {cls.kind!r} is not listed in ADAPTER_MODULES")
    _ADAPTERS[cls.kind] = cls
    return cls


EngineKind = one_of(ENGINE_KINDS)
"""A pydantic field type: one of :data:`ENGINE_KINDS` (failing as a ``Literal`` of them would)."""


def adapter_class(kind: str) -> type[EngineAdapter]:
    """The adapter class for ``kind``, importing its module on first use."""
    if kind not in _ADAPTERS and kind in ADAPTER_MODULES:
        importlib.import_module(ADAPTER_MODULES[kind])
    try:
        return _ADAPTERS[kind]
    except KeyError:
        raise UserError(
            f"no engine of kind '{kind}'; known kinds: {', '.join(sorted(ADAPTER_MODULES))}"
        ) from None


def get_adapter(kind: str) -> EngineAdapter:
    """The adapter for an engine kind (imports its module on first use)."""
    return adapter_class(kind)()


def adapters() -> Iterator[EngineAdapter]:
    """One adapter of every kind, in :data:`ADAPTER_MODULES` order."""
    for kind in ENGINE_KINDS:
        yield get_adapter(kind)


def adapter_for_layout(layout: str) -> EngineAdapter:
    """The first adapter (in :data:`ADAPTER_MODULES` order) whose checkpoints have ``layout``:
    the one that converts a checkpoint found in a folder, whose engine is not recorded."""
    for adapter in adapters():
        if adapter.checkpoint_layout == layout:
            return adapter
    raise UserError(f"no engine writes {layout!r} checkpoints; check the folder")
