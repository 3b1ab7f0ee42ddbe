"""One parser for training progress: the upstream ``IterSpeed`` lines of Transfer2.5, Predict2.5
and Predict1 (upstream-contracts.md §3.3/§3.5) and the builtin engine's ``metrics.jsonl``.

The line patterns are the log grammar's (:mod:`cosmos_tui.core.monitor.logline`); they apply to
the message only (after the loguru prefix), with ANSI stripped. Bulk scans (a whole multi-GB log, or a chunk
that just arrived) look for the literal markers with ``bytes.find`` and parse only those lines, so
they run at memory speed instead of a Python loop over every line.
"""

from __future__ import annotations

import json
import math
import mmap
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Literal

from cosmos_tui.core.monitor.bytescan import WINDOW, find_lines, windows
from cosmos_tui.core.monitor.logline import (
    HIT_RE,
    LOSS_MARK,
    PROGRESS_MARK,
    RAW_HIT_RE,
    RAW_SPEED_RE,
    SPEED_RE,
    UNSTABLE_MARK,
    parse_line,
)

UNSTABLE_BYTES = UNSTABLE_MARK.encode()

Phase = Literal["hit", "speed", "jsonl"]


@dataclass(frozen=True, slots=True)
class Rates:
    """What a progress report may carry beside the loss; ``None`` where it does not say."""

    lr: float | None = None
    """Learning rate (only the builtin engine reports it; upstream sends it to W&B only)."""
    grad_norm: float | None = None
    """Gradient norm (builtin engine)."""
    samples_per_s: float | None = None
    """Training samples per second (builtin engine)."""
    tokens_per_s: float | None = None
    """Tokens per second (builtin engine; Cosmos 3's ``iter_speed`` suffix)."""
    mfu: float | None = None
    """Model FLOPs utilisation, 0..1 (builtin engine)."""
    peak_mem_gb: float | None = None
    """Peak accelerator memory in GB (builtin engine)."""
    val_loss: float | None = None
    """The held-out loss (builtin engine, every ``trainer.val_every`` iterations; fixed noise, so
    comparable across iterations)."""

    def updated(self, newer: Rates) -> Rates:
        """These rates with each one ``newer`` states replacing the older value."""
        given = {f: v for f in RATE_FIELDS if (v := getattr(newer, f)) is not None}
        return replace(self, **given) if given else self


RATE_FIELDS = tuple(f.name for f in fields(Rates))
"""The :class:`Rates` names, as ``metrics.jsonl`` spells its keys too."""
NO_RATES = Rates()
"""A report that carries no rate."""


@dataclass(frozen=True, slots=True)
class IterSample:
    """One progress report for one iteration."""

    iteration: int
    """The trainer's iteration counter (optimizer steps)."""
    loss: float
    """Rank 0's loss; may be negative, 0.0, NaN or inf."""
    sec_per_iter: float | None
    """Seconds per iteration: the IterSpeed average, the hit phase's wall time since the previous
    hit (``None`` for hit 1, which includes start-up), or the engine's ``sec_per_iter``."""
    phase: Phase
    """``hit`` (first iterations of a process), ``speed`` (every ``every_n``), ``jsonl`` (builtin)."""
    hit: int | None = None
    """The hit counter ``k`` of ``k/K`` in the hit phase."""
    hit_total: int | None = None
    """``K``: how many iterations the hit phase lasts."""
    rates: Rates = NO_RATES
    """The rates this report carries beside the loss (the builtin engine's; Cosmos 3's tokens/s)."""
    device: str | None = None
    """The device the run trains on, as the builtin engine names it (``cpu``, ``NVIDIA H200``)."""
    world_size: int | None = None
    """How many ranks train (builtin engine)."""

    @property
    def finite(self) -> bool:
        """Whether the loss is a finite number."""
        return math.isfinite(self.loss)


def _speed(iteration: str | bytes, sec: str | bytes, loss: str | bytes, tokens_s: str | None) -> IterSample:
    """A speed line's sample; ``tokens_s`` is Cosmos 3's ``(M tokens/s)`` with its thousands commas."""
    tokens = float(tokens_s.replace(",", "")) if tokens_s else None
    return IterSample(int(iteration), float(loss), float(sec), "speed", rates=Rates(tokens_per_s=tokens))


def parse_message(message: str) -> IterSample | None:
    """Parse an IterSpeed message (the text after ``] ``); ``None`` if it is not one."""
    m = SPEED_RE.match(message)
    if m:
        return _speed(m.group(1), m.group(2), m.group(3), m.group(5))
    m = HIT_RE.match(message)
    if m:
        hit = int(m.group(2))
        return IterSample(
            int(m.group(1)),
            float(m.group(4)),
            None if hit == 1 else float(m.group(5)),
            "hit",
            hit=hit,
            hit_total=int(m.group(3)),
        )
    return None


def _fast_sample(raw: bytes) -> IterSample | None:
    m = RAW_SPEED_RE.match(raw)
    if m:
        tokens = m.group(5)
        return _speed(m.group(1), m.group(2), m.group(3), tokens.decode() if tokens else None)
    m = RAW_HIT_RE.match(raw)
    if m:
        hit = int(m.group(2))
        t = None if hit == 1 else float(m.group(5))
        return IterSample(int(m.group(1)), float(m.group(4)), t, "hit", hit=hit, hit_total=int(m.group(3)))
    return None


def parse_iter_line(line: str) -> IterSample | None:
    """Parse a whole console line (ANSI codes, torchrun and loguru prefixes allowed)."""
    return parse_message(parse_line(line.rstrip("\r\n")).message.rstrip())


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a bulk scan found, in file order."""

    samples: tuple[IterSample, ...]
    """Progress reports."""
    unstable: tuple[str, ...]
    """``Unstable loss ...`` lines (the W&B callback's NaN/Inf report), ANSI stripped."""
    bytes_scanned: int
    """How many bytes were looked at."""


def scan_bytes(buf: bytes | mmap.mmap, start: int = 0, end: int | None = None) -> ScanResult:
    """Find every progress line and ``Unstable loss`` line in ``buf[start:end]`` (whole lines),
    in one pass over the bytes."""
    end = len(buf) if end is None else end
    samples: list[IterSample] = []
    unstable: list[str] = []
    for ls, le in find_lines(buf, PROGRESS_MARK, start, end):
        raw = buf[ls:le]
        if UNSTABLE_BYTES in raw:
            unstable.append(parse_line(raw.decode("utf-8", "replace").rstrip("\r")).text)
        elif LOSS_MARK in raw:
            sample = _fast_sample(raw) or parse_iter_line(raw.decode("utf-8", "replace"))
            if sample is not None:
                samples.append(sample)
    return ScanResult(tuple(samples), tuple(unstable), end - start)


def scan_file(path: Path, *, start: int = 0, end: int | None = None, window: int = WINDOW) -> ScanResult:
    """Re-parse a whole log (or ``[start, end)`` of it), one mapped window at a time: memory stays
    at one window whatever the file size."""
    samples: list[IterSample] = []
    unstable: list[str] = []
    scanned = 0
    for w in windows(path, start=start, end=end, window=window):
        part = scan_bytes(w.buf, w.lo, w.hi)
        samples.extend(part.samples)
        unstable.extend(part.unstable)
        scanned += part.bytes_scanned
    return ScanResult(tuple(samples), tuple(unstable), scanned)


def _opt_float(record: dict, key: str) -> float | None:
    value = record.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_jsonl_record(line: str) -> IterSample | None:
    """Parse one line of the builtin engine's ``metrics.jsonl``; ``None`` for a blank, torn or
    foreign line (the engine may be mid-write)."""
    line = line.strip()
    if not line:
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or "iteration" not in record or "loss" not in record:
        return None
    try:
        iteration = int(record["iteration"])
        loss = float(record["loss"])
    except (TypeError, ValueError):
        return None
    device, world = record.get("device"), record.get("world_size")
    return IterSample(
        iteration,
        loss,
        _opt_float(record, "sec_per_iter"),
        "jsonl",
        rates=Rates(**{key: _opt_float(record, key) for key in RATE_FIELDS}),
        device=device if isinstance(device, str) else None,
        world_size=world if isinstance(world, int) and not isinstance(world, bool) else None,
    )
