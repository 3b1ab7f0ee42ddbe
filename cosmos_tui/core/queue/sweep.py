"""Sweeps: a grid of ``--set`` values expanded into queued runs, and their results side by side.

``--grid KEY=V1,V2`` takes any ``--set`` key (a preset field such as ``launch.nproc_per_node``
or an engine override such as ``optimizer.lr``); the cartesian product of every grid is one
queue entry each, with the preset's job name plus a short ``key+value`` slug as its job name, so
no two points share a job folder. Every point is validated against the preset schema before
anything is queued. Values are plain words, numbers and paths: anything else (a newline, ``;``,
``$(...)``, quotes, spaces) is refused, since a sweep value ends up in a job folder's name.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.idmatch import match_id
from cosmos_tui.core.monitor.metrics import IterSample, parse_jsonl_record
from cosmos_tui.core.overrides import override_value
from cosmos_tui.core.presets import Preset, apply_sets, job_name_problem
from cosmos_tui.core.queue import store
from cosmos_tui.core.queue.store import QueueEntry
from cosmos_tui.core.runs import ownership, registry
from cosmos_tui.core.runs.lifecycle import reconcile
from cosmos_tui.core.runs.record import RunRecord

_KEY = re.compile(r"^[+~]{0,2}[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$")
_VALUE = re.compile(r"^[A-Za-z0-9_.+\-:/@%\[\]]+$")
_SLUG_BAD = re.compile(r"[^A-Za-z0-9_.+-]+")
MAX_POINTS = 256
SLUG_MAX = 60
METRICS_READ_CAP = 64 * 1024 * 1024


@dataclass(frozen=True)
class Grid:
    """One ``--grid KEY=V1,V2``."""

    key: str
    values: tuple[str, ...]


def parse_grid(text: str) -> Grid:
    """``KEY=V1,V2,...``; :class:`UsageError` naming what is wrong."""
    if "=" not in text:
        raise UsageError(f"--grid {text!r}: expected KEY=V1,V2 (for example optimizer.lr=1e-4,3e-4)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not _KEY.match(key):
        raise UsageError(f"--grid {text!r}: {key!r} is not a setting key (dotted names such as optimizer.lr)")
    if key.lstrip("+").startswith("job.") or key.lstrip("+") == "job":
        raise UsageError(f"--grid {key}: the sweep names each point's job itself; grid other keys")
    values = tuple(v.strip() for v in raw.split(","))
    for v in values:
        if not v:
            raise UsageError(f"--grid {text!r}: an empty value; list values as V1,V2")
        if not _VALUE.match(v):
            raise UsageError(
                f"--grid {key}: value {v!r} holds characters a sweep value may not have (only letters, "
                "digits and _ . + - : / @ % [ ]); put anything else in a preset"
            )
    if len(set(values)) != len(values):
        raise UsageError(f"--grid {key}: a value is listed twice")
    return Grid(key, values)


def base_job_name(preset: Preset) -> str:
    """The job name the preset's runs get (``job.name`` override, the adapter's reckoning, or the
    experiment name)."""
    given = override_value(preset.experiment.overrides, "job.name")
    if given:
        return str(given).strip("'\"")
    try:
        path = get_adapter(preset.engine.kind).job_dir(preset, dict(os.environ))
    except (UserError, OSError, ValueError):
        path = None
    return path.name if path is not None else preset.experiment.name


def _slug(point: Sequence[tuple[str, str]]) -> str:
    parts = [f"{key.rsplit('.', 1)[-1].lstrip('+~')}{value}" for key, value in point]
    return _SLUG_BAD.sub("-", "_".join(parts)).strip("-.")[:SLUG_MAX] or "point"


@dataclass(frozen=True)
class Point:
    """One point of the grid: its label, the ``--set`` items it adds, its job name."""

    label: str
    sets: tuple[str, ...]
    job_name: str
    preset: Preset


def expand(base: Preset, base_sets: Sequence[str], grids: Sequence[Grid]) -> list[Point]:
    """Every point of the grid over ``base`` (``base_sets`` already applied), validated."""
    if not grids:
        raise UsageError("give at least one --grid KEY=V1,V2")
    keys = [g.key for g in grids]
    if len(set(keys)) != len(keys):
        raise UsageError("a --grid key is given twice; list all its values in one --grid")
    combos = list(itertools.product(*[[(g.key, v) for v in g.values] for g in grids]))
    if len(combos) > MAX_POINTS:
        raise UsageError(f"the grid has {len(combos)} points; at most {MAX_POINTS} per sweep")
    stem = base_job_name(base)
    points: list[Point] = []
    names: set[str] = set()
    for n, combo in enumerate(combos, start=1):
        name = f"{stem}-{_slug(combo)}"
        if name in names:
            name = f"{name}-{n}"
        problem = job_name_problem("name", name)
        if problem:
            raise UsageError(f"the sweep's job name {name!r}: {problem}")
        names.add(name)
        sets = (*(f"{k}={v}" for k, v in combo), f"job.name={name}")
        preset = apply_sets(base, sets, source="--grid")
        points.append(Point(" ".join(f"{k}={v}" for k, v in combo), tuple(sets), name, preset))
    return points


def new_sweep_id(now: float) -> str:
    """``sw-20261204-041502-3f2a``."""
    return f"sw-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{os.urandom(2).hex()}"


@dataclass(frozen=True)
class SweepRow:
    """One point's outcome."""

    label: str
    entry: QueueEntry
    run: RunRecord | None
    final_loss: float | None
    best_loss: float | None
    val_loss: float | None
    sec_per_iter: float | None
    losses: tuple[tuple[int, float], ...]
    """``(iteration, loss)`` of the run, for the curve overlay."""


def _samples(record: RunRecord) -> list[IterSample]:
    """The run's own ``metrics.jsonl`` lines (its last :data:`METRICS_READ_CAP` bytes), parsed."""
    lines = ownership.metrics_bytes(record, cap=METRICS_READ_CAP).decode("utf-8", "replace").splitlines()
    return [s for s in map(parse_jsonl_record, lines) if s is not None]


def row_of(entry: QueueEntry) -> SweepRow:
    """One point's row: its run's final and best loss, last held-out loss, mean s/iter."""
    record = None
    if entry.run_id:
        try:
            record = reconcile(registry.read(registry.run_dir_for(entry.run_id)))
        except UserError:
            record = None
    losses: list[tuple[int, float]] = []
    vals: list[float] = []
    secs: list[float] = []
    for sample in _samples(record) if record is not None else []:
        losses.append((sample.iteration, sample.loss))
        if sample.rates.val_loss is not None:
            vals.append(sample.rates.val_loss)
        if sample.sec_per_iter is not None:
            secs.append(sample.sec_per_iter)
    finite = [v for _, v in losses if v == v and abs(v) != float("inf")]
    return SweepRow(
        label=entry.label or "",
        entry=entry,
        run=record,
        final_loss=losses[-1][1] if losses else None,
        best_loss=min(finite) if finite else None,
        val_loss=vals[-1] if vals else None,
        sec_per_iter=sum(secs) / len(secs) if secs else None,
        losses=tuple(losses),
    )


def sweep_ids() -> list[str]:
    """Every sweep with entries in the queue, oldest first."""
    return sorted({e.sweep for e in store.list_entries() if e.sweep})


def resolve_sweep(ref: str) -> str:
    """The sweep id for an id, a unique prefix or substring, or ``latest``."""
    return match_id(
        ref,
        sweep_ids(),
        what="sweep",
        listing="cosmos-tui sweep list",
        none_yet="start one with `cosmos-tui sweep`",
    )


def show(sweep_id: str) -> list[SweepRow]:
    """The sweep's points in the order they were queued."""
    entries = sorted(
        (e for e in store.list_entries() if e.sweep == sweep_id), key=lambda e: (e.created_at, e.id)
    )
    return [row_of(e) for e in entries]
