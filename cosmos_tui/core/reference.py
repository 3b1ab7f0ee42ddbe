"""Measured expectations of a preset: a reference loss curve and seconds per iteration, per device.

A preset ``NAME.toml`` may have ``reference/NAME.json`` beside it, written by
``tests/benchmarks/measure_reference.py`` (never by hand): measurements, each naming the device
(as the builtin engine's ``metrics.jsonl`` does: ``cpu``, ``NVIDIA H200``), the ranks, torch
version, date and the command that measured it; and pending slots for devices not measured yet,
with the command that would. The dashboard overlays the curve; the watchdog compares the speed,
only on the same device and rank count. A file that is missing, unreadable or malformed gives no
reference (never an error: a reference is a hint).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE_DIR = "reference"
"""The folder beside the presets that holds their reference files."""
FORMAT = 1
"""The reference file format this module reads and writes."""

Curve = tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class Measurement:
    """One measured run of a preset on one device."""

    device: str
    """The device as the engine names it (``cpu``, ``NVIDIA H200``)."""
    world_size: int
    """Ranks it trained with."""
    sec_per_iter: float
    """Median seconds per iteration, start-up excluded."""
    loss: Curve
    """``(iteration, training loss)`` at a handful of iterations."""
    val_loss: Curve = ()
    """``(iteration, held-out loss)``, when the preset computes it."""
    device_detail: str = ""
    """The processor's model name (a CPU's speed depends on it)."""
    torch: str = ""
    """torch version."""
    date: str = ""
    """When it was measured (UTC, ISO 8601)."""
    command: str = ""
    """The command that measured it."""


@dataclass(frozen=True)
class Pending:
    """A device the preset is meant for that has no measurement yet."""

    device: str
    """The device (``NVIDIA H200``)."""
    note: str
    """Why there is no number (``not measured yet on H200``)."""
    command: str
    """The command that would measure it."""


@dataclass(frozen=True)
class References:
    """Everything a preset's reference file holds."""

    preset: str
    measurements: tuple[Measurement, ...] = ()
    pending: tuple[Pending, ...] = ()

    def matching(self, device: str | None, world_size: int | None) -> Measurement | None:
        """The measurement on ``device`` with ``world_size`` ranks, if any."""
        if device is None:
            return None
        for m in self.measurements:
            if m.device == device and (world_size is None or m.world_size == world_size):
                return m
        return None

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        return {
            "format": FORMAT,
            "preset": self.preset,
            "measurements": [
                {
                    "device": m.device,
                    "device_detail": m.device_detail,
                    "world_size": m.world_size,
                    "sec_per_iter": m.sec_per_iter,
                    "loss": [list(p) for p in m.loss],
                    "val_loss": [list(p) for p in m.val_loss],
                    "torch": m.torch,
                    "date": m.date,
                    "command": m.command,
                }
                for m in self.measurements
            ],
            "pending": [{"device": p.device, "note": p.note, "command": p.command} for p in self.pending],
        }


def reference_path(preset_path: Path | str) -> Path:
    """Where the reference of the preset at ``preset_path`` lives."""
    path = Path(preset_path)
    return path.parent / REFERENCE_DIR / f"{path.stem}.json"


def _curve(raw: Any) -> Curve:
    if not isinstance(raw, list):
        raise ValueError("a curve is a list")
    out = []
    for point in raw:
        if not (isinstance(point, list) and len(point) == 2):
            raise ValueError("a curve point is [iteration, loss]")
        it, loss = int(point[0]), float(point[1])
        if math.isfinite(loss):
            out.append((it, loss))
    return tuple(out)


def parse(data: Any) -> References:
    """A reference file's content; :class:`ValueError` when it is not one."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a format-{FORMAT} reference file")
    measurements = []
    for m in data.get("measurements") or []:
        spi = float(m["sec_per_iter"])
        if not (math.isfinite(spi) and spi > 0):
            raise ValueError("sec_per_iter must be a positive number")
        measurements.append(
            Measurement(
                device=str(m["device"]),
                world_size=int(m["world_size"]),
                sec_per_iter=spi,
                loss=_curve(m.get("loss") or []),
                val_loss=_curve(m.get("val_loss") or []),
                device_detail=str(m.get("device_detail", "")),
                torch=str(m.get("torch", "")),
                date=str(m.get("date", "")),
                command=str(m.get("command", "")),
            )
        )
    pending = [
        Pending(str(p["device"]), str(p.get("note", "")), str(p.get("command", "")))
        for p in data.get("pending") or []
    ]
    return References(str(data.get("preset", "")), tuple(measurements), tuple(pending))


def load(preset_path: Path | str | None) -> References | None:
    """The references of the preset at ``preset_path``; ``None`` when there are none to trust."""
    if not preset_path:
        return None
    path = reference_path(preset_path)
    try:
        if not path.is_file() or path.stat().st_size > 1 << 20:
            return None
        return parse(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
