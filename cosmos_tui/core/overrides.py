"""Hydra-style ``key=value`` overrides: the one lookup of what a list of them sets.

Hydra applies overrides in order, so the last ``key=`` (or ``+key=`` / ``++key=``) wins. Every place
that asks "what does this launch set ``trainer.max_iter`` to" asks here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def override_value(overrides: Iterable[object], key: str) -> str | None:
    """The value the last ``key=`` (or ``+key=``) override gives, as Hydra would apply it; ``None``
    when none names ``key``."""
    value = None
    for item in overrides:
        head, sep, rest = str(item).partition("=")
        if sep and head.lstrip("+") == key:
            value = rest
    return value


def sets_node(overrides: Iterable[object], key: str) -> bool:
    """Whether any override sets ``key`` or a key beneath it (``key.sub=...``), with or without
    Hydra's ``+``/``++``/``~`` prefix."""
    for item in overrides:
        head, sep, _ = str(item).partition("=")
        head = head.lstrip("+~")
        if sep and (head == key or head.startswith(key + ".")):
            return True
    return False


def preset_overrides(preset: Mapping[str, Any] | None) -> list[str]:
    """The ``experiment.overrides`` of a preset snapshot (as a run record keeps it), tolerating a
    damaged snapshot: anything that is not a list of strings reads as no overrides."""
    experiment = (preset or {}).get("experiment") if isinstance(preset, Mapping) else None
    items = experiment.get("overrides") if isinstance(experiment, Mapping) else None
    return [str(i) for i in items] if isinstance(items, list) else []


def as_int(text: object) -> int | None:
    """An override's or config's value as an integer, ``None`` when it is not one."""
    if isinstance(text, bool):
        return None
    try:
        return int(str(text).strip()) if not isinstance(text, int) else text
    except (TypeError, ValueError):
        return None
