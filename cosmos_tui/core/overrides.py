"""Hydra-style ``key=value`` overrides: the one lookup of what a list of them sets.

Hydra applies overrides in order, so the last ``key=`` (or ``+key=`` / ``++key=``) wins. Every place
that asks "what does this launch set ``trainer.max_iter`` to" asks here."""

from __future__ import annotations

from collections.abc import Iterable


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


def as_int(text: object) -> int | None:
    """An override's or config's value as an integer, ``None`` when it is not one."""
    if isinstance(text, bool):
        return None
    try:
        return int(str(text).strip()) if not isinstance(text, int) else text
    except (TypeError, ValueError):
        return None
