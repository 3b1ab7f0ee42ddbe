"""How a run reads on the terminal: its status, where it runs, its iterations and lineage, its
notes; following its output; the CLI exit code it ends with. Shared by `run`, `runs` and `jobs`."""

from __future__ import annotations

import shlex
import sys
import time
from typing import TYPE_CHECKING

from rich.markup import escape

from cosmos_tui.cli.common import info, shown
from cosmos_tui.core.monitor.logline import shown_line
from cosmos_tui.core.monitor.watchdog import flag_badges
from cosmos_tui.core.runs import follow, get_run
from cosmos_tui.core.runs.jobs import resume_lineage
from cosmos_tui.core.runs.ownership import iteration_range

if TYPE_CHECKING:
    from cosmos_tui.core.runs import RunRecord

STATUS_STYLE = {
    "created": "dim",
    "starting": "cyan",
    "running": "cyan",
    "stopping": "yellow",
    "finished": "green",
    "failed": "red",
    "stopped": "yellow",
    "lost": "magenta",
}


def when_text(ts: float | None) -> str:
    """A local wall-clock time, ``-`` for none."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def duration_text(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``42s``; ``-`` for none."""
    if seconds is None:
        return "-"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def where_text(record: RunRecord) -> str:
    """``local``, ``node 1/2 <job>`` for one node of a multi-node job, ``slurm 1234 RUNNING``."""
    if record.target == "slurm":
        job = record.slurm_job_id or "(not queued)"
        nodes = f", {record.nnodes} nodes" if record.nnodes > 1 else ""
        return f"slurm {job}" + (f" {record.slurm_state}" if record.slurm_state else "") + nodes
    if record.nnodes > 1:
        rank = "?" if record.node_rank is None else str(record.node_rank)
        return f"node {rank}/{record.nnodes} {record.job_id or ''}".rstrip()
    return "local"


def status_text(record: RunRecord, *, badges: bool = False) -> str:
    """``[green]finished[/green] (exit 0)`` and the like, with the health flags as sentences, or
    with ``badges`` as their short badges (``SLOW``: a table cell, never a paragraph)."""
    style = STATUS_STYLE.get(record.status, "")
    text = f"[{style}]{record.status}[/{style}]" if style else record.status
    if record.exit_code is not None:
        text += f" (exit {record.exit_code})"
    health = record.health or {}
    if record.active and health.get("state") == "stalled":
        text += " [bold red]STALLED[/bold red]"
    flags = health.get("flags") or []
    if flags and badges:
        text += " [yellow]" + escape(" ".join(flag_badges(flags))) + "[/yellow]"
    elif flags:
        text += " [yellow]" + escape("; ".join(flags)) + "[/yellow]"
    return text


def iteration_text(record: RunRecord) -> str:
    """This run's own iteration range: ``0→10``, ``1599→1694`` (resumed), ``-`` when it never
    trained or was recorded before runs owned their range."""

    start, last = iteration_range(record)
    if last is None:
        return "-"
    return f"{start if start is not None else '?'}→{last}"


def resumed_text(record: RunRecord) -> str:
    """Which run and checkpoint this one resumed (:func:`~cosmos_tui.core.runs.jobs.resume_lineage`),
    ``-`` for a fresh start, ``?`` when unknown."""
    lineage = resume_lineage(record)
    if lineage is None:
        return "-" if record.start_iteration is not None else "?"
    return lineage


def shell_lines(text: str) -> list[str]:
    """A recorded shell command in the lines bash reads it as: a newline inside quotes (an old or
    edited record) stays in its line, where :func:`printable` shows it as ``\\n``."""

    lines: list[str] = []
    pending = ""
    for part in text.split("\n"):
        pending = f"{pending}\n{part}" if pending else part
        try:
            shlex.split(pending)
        except ValueError:  # an open quote: the newline is part of a value
            continue
        lines.append(pending)
        pending = ""
    return [*lines, pending] if pending else lines


def print_notes(record: RunRecord) -> None:
    """The launch notes (preflight warnings, resume details) on stderr."""
    for note in record.notes:
        info(f"  {shown(note)}")


def follow_run(record: RunRecord, *, to_stderr: bool = False, from_offset: int = 0) -> RunRecord:
    """Print the run's console output until it ends; returns the final record."""

    stream = sys.stderr if to_stderr else sys.stdout
    for line in follow(record, from_offset=from_offset):
        stream.write(shown_line(line) + "\n")
        stream.flush()
    return get_run(record.id)


def exit_code_for(record: RunRecord) -> int:
    """The CLI exit code for a finished run: 0 for finished or stopped, else torchrun's code (1
    when it has none, e.g. ``lost``)."""
    if record.status in ("finished", "stopped"):
        return 0
    code = record.exit_code
    return code if code is not None and 0 < code < 256 else 1
