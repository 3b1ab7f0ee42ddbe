"""The last ``cosmos-tui fit`` probe of a config, kept for the preflight ``fit`` row (the probe
takes seconds to minutes; preflight only reads what it found), and its one-line summary."""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.paths import state_root
from cosmos_tui.core.presets import Preset

CACHE_DIR = "fit-cache"
"""Under the state root: one ``<config hash>.json`` per probed config."""


def probe_overrides(preset: Preset) -> list[str]:
    """The engine overrides training gets (the dataset folder aside: the probe reads no data)."""
    adapter = get_adapter(preset.engine.kind)
    args = adapter.module_args(preset)
    cut = args.index("--") + 1 if "--" in args else 0
    return [a for a in args[cut:] if not a.startswith(adapter.dataset_dir_key + "=")]


def config_hash(preset: Preset, extra: list[str] | None = None) -> str:
    """What the probe's result depends on: the overrides and the ranks."""
    key = json.dumps([probe_overrides(preset), extra or [], preset.launch.nproc_per_node, preset.model.id])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def cache_path(preset: Preset) -> Path:
    """Where the probe of ``preset``'s config is kept."""
    return state_root() / CACHE_DIR / f"{config_hash(preset)}.json"


def save_cached(preset: Preset, report: Any) -> None:
    """Keep the report for the preflight row (same config hash)."""
    path = cache_path(preset)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"time": time.time(), **report.to_json()}))
    tmp.replace(path)


def load_cached(preset: Preset) -> dict[str, Any] | None:
    """The last probe report for this config, if any."""
    try:
        data = json.loads(cache_path(preset).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def hours(seconds: float) -> str:
    """``3 h 20 min`` / ``12 min`` / ``40 s``."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    if seconds >= 60:
        return f"{math.ceil(seconds / 60)} min"
    return f"{seconds:.0f} s"


def one_line(report: Any) -> str:
    """The verdict, ETA and cost in one line (the Launch step, the preflight row)."""
    r = report.to_json() if hasattr(report, "to_json") else report
    parts = [r["summary"]]
    if r.get("eta_s") is not None:
        parts.append(f"ETA {hours(r['eta_s'])} for {r['iterations_left']:,} iterations")
    if r.get("gpu_hours") is not None:
        parts.append(f"{r['gpu_hours']:.1f} GPU-hours")
    if r.get("cost") is not None:
        parts.append(f"~{r['cost']:.2f} {r.get('currency', 'USD')}")
    return "; ".join(parts)
