"""How sizes read for a person: one formatter for the CLI, the TUI and core's sentences."""

from __future__ import annotations


def human_bytes(num_bytes: int | float | None, *, missing: str = "?") -> str:
    """Bytes in binary units: ``512 B``, ``1.5 MiB``, ``73.2 GiB``; ``missing`` for ``None``."""
    if num_bytes is None:
        return missing
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
