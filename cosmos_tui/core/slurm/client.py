"""Talking to Slurm through its own commands: ``sbatch``, ``scontrol``, ``sacct``, ``scancel``.

A job's state comes from ``scontrol show job`` while the controller remembers it (pending,
running, and recently ended jobs), then from ``sacct`` (accounting, or ``--completion`` where only
job completion logging is configured). Each command runs with a timeout; a missing command or a
controller that does not answer raises :class:`SlurmError` with one sentence saying so.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from shutil import which
from typing import Literal

from cosmos_tui.core.errors import UserError

COMMAND_TIMEOUT_S = 30.0
"""How long one Slurm command may take before it counts as not answering."""

PENDING_STATES = frozenset(
    {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT"}
)
"""The job waits for resources (or to be started again)."""
RUNNING_STATES = frozenset(
    {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "STOPPED", "RESIZING"}
)
"""The job holds nodes."""
ENDED_STATES = frozenset(
    {
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "OUT_OF_MEMORY",
        "REVOKED",
    }
)
"""The job is over."""


class SlurmError(UserError):
    """A Slurm command is missing, failed, or did not answer."""


@dataclass(frozen=True)
class JobState:
    """What Slurm says about one job."""

    job_id: str
    """The Slurm job id."""
    state: str
    """Slurm's state word (``PENDING``, ``RUNNING``, ``COMPLETED``, ``CANCELLED``, ...)."""
    exit_code: int | None = None
    """The batch script's exit status (``None`` when unknown)."""
    signal: int | None = None
    """The signal that ended the batch script (0 when none)."""
    reason: str | None = None
    """Slurm's reason for a pending or failed job (``Resources``, ``NonZeroExitCode``, ...)."""
    start: float | None = None
    """Start time (seconds since the epoch)."""
    end: float | None = None
    """End time."""
    nodes: str | None = None
    """The node list."""
    restarts: int = 0
    """How often the job was requeued."""
    source: Literal["squeue", "scontrol", "sacct", "sacct-completion"] = "scontrol"
    """Which command said so."""

    @property
    def pending(self) -> bool:
        """Waiting for resources."""
        return self.state in PENDING_STATES

    @property
    def ended(self) -> bool:
        """Over, for good."""
        return self.state in ENDED_STATES


def _exe(name: str) -> str:
    """The command itself; Slurm's tools live in ``/usr/bin`` on most clusters."""
    return name


def run_slurm(
    argv: list[str], *, cwd: Path | None = None, timeout: float = COMMAND_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run a Slurm command with this environment (``SLURM_CONF`` and all); SlurmError if it is
    missing or hangs. A non-zero exit is returned, not raised."""
    try:
        return subprocess.run(
            [_exe(argv[0]), *argv[1:]],
            cwd=cwd,
            env=os.environ.copy(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise SlurmError(
            f"`{argv[0]}` is not on PATH, so Slurm cannot be reached from here; run this on a Slurm "
            'login node, or use launch.target = "local"'
        ) from None
    except subprocess.TimeoutExpired:
        what = " ".join(argv[:3])
        raise SlurmError(f"`{what}` did not answer in {timeout:.0f} s; is slurmctld up?") from None


def available() -> str | None:
    """``None`` when ``sbatch`` can be run here, else why not."""

    missing = [c for c in ("sbatch", "scontrol", "scancel") if which(c) is None]
    if missing:
        return f"{', '.join(missing)} not found on PATH; submit from a Slurm login node"
    return None


def submit(script: Path, *, cwd: Path) -> str:
    """``sbatch --parsable SCRIPT``; returns the job id (SlurmError with sbatch's message)."""
    proc = run_slurm(["sbatch", "--parsable", str(script)], cwd=cwd)
    text = proc.stdout.strip()
    job_id = text.split(";", 1)[0].strip()
    if proc.returncode != 0 or not job_id.isdigit():
        why = (proc.stderr.strip() or text or f"exit {proc.returncode}").splitlines()[-1]
        raise SlurmError(f"sbatch refused the job: {why}")
    return job_id


def cancel(job_id: str, signal: str | None = None) -> subprocess.CompletedProcess[str]:
    """``scancel [--signal=SIG] JOB``: with a signal, it goes to every task of every job step
    (each node's torchrun), not to the batch shell; without one the job is ended."""
    argv = ["scancel", *([f"--signal={signal}"] if signal else []), job_id]
    return run_slurm(argv)


def _epoch(text: str | None) -> float | None:
    if not text or text in ("Unknown", "None", "N/A"):
        return None
    try:
        return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None


def _field(text: str, key: str) -> str | None:
    match = re.search(rf"(?:^|\s){key}=(\S*)", text)
    return match.group(1) if match else None


def _exit(text: str | None) -> tuple[int | None, int | None]:
    if not text or ":" not in text:
        return None, None
    code, _, sig = text.partition(":")
    return (int(code) if code.isdigit() else None), (int(sig) if sig.isdigit() else None)


def parse_scontrol(job_id: str, text: str) -> JobState | None:
    """A :class:`JobState` from ``scontrol show job -o`` output (``None`` if it names no state)."""
    state = _field(text, "JobState")
    if not state:
        return None
    code, sig = _exit(_field(text, "ExitCode"))
    restarts = _field(text, "Restarts")
    reason = _field(text, "Reason")
    return JobState(
        job_id=job_id,
        state=state.split("+")[0],
        exit_code=code,
        signal=sig,
        reason=None if reason in (None, "None", "(null)") else reason,
        start=_epoch(_field(text, "StartTime")),
        end=_epoch(_field(text, "EndTime")),
        nodes=_field(text, "NodeList") or None,
        restarts=int(restarts) if restarts and restarts.isdigit() else 0,
        source="scontrol",
    )


def parse_sacct(job_id: str, text: str, source: Literal["sacct", "sacct-completion"]) -> JobState | None:
    """A :class:`JobState` from ``sacct -n -P -o JobID,State,ExitCode,Start,End,NodeList``."""
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 3 or parts[0].split(".")[0] != job_id or "." in parts[0]:
            continue
        state = parts[1].split()[0] if parts[1].strip() else ""
        if not state:
            continue
        code, sig = _exit(parts[2])
        return JobState(
            job_id=job_id,
            state=state.rstrip("+"),
            exit_code=code,
            signal=sig,
            start=_epoch(parts[3]) if len(parts) > 3 else None,
            end=_epoch(parts[4]) if len(parts) > 4 else None,
            nodes=(parts[5] or None) if len(parts) > 5 else None,
            source=source,
        )
    return None


SACCT_FIELDS = "JobID,State,ExitCode,Start,End,NodeList"


CACHE_S = 2.0
"""How long a state read by :func:`prefetch` stands in for asking again."""
_cache: dict[str, tuple[float, JobState]] = {}


def parse_squeue(text: str) -> list[JobState]:
    """Job states from ``squeue -h -o %i|%T|%r|%S|%N`` lines."""
    found = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 5 or not parts[0].isdigit() or not parts[1]:
            continue
        reason = parts[2] if parts[2] not in ("", "None", "(null)") else None
        found.append(
            JobState(
                job_id=parts[0],
                state=parts[1].split("+")[0],
                reason=reason,
                start=_epoch(parts[3]),
                nodes=None if parts[4] in ("", "(null)") else parts[4],
                source="squeue",
            )
        )
    return found


def prefetch(job_ids: list[str]) -> None:
    """Ask Slurm once, with ``squeue -j ID,ID,...``, about many jobs, so reading many Slurm runs
    (``runs list``, the runs screen) costs one call to slurmctld instead of one per run. Queued
    and running jobs are remembered for :data:`CACHE_S` seconds; ended ones are asked one by one
    by :func:`query` (squeue knows no exit codes)."""
    ids = sorted({i for i in job_ids if i and i.isdigit()})
    if not ids:
        return
    proc = run_slurm(["squeue", "-h", "-j", ",".join(ids), "-o", "%i|%T|%r|%S|%N"])
    now = time.monotonic()
    for state in parse_squeue(proc.stdout):
        if not state.ended:
            _cache[state.job_id] = (now, state)


def query(job_id: str) -> JobState | None:
    """What Slurm knows about ``job_id`` now; ``None`` when neither the controller nor
    accounting knows it (SlurmError when the commands cannot be run)."""
    cached = _cache.pop(job_id, None)
    if cached is not None and time.monotonic() - cached[0] < CACHE_S:
        return cached[1]
    proc = run_slurm(["scontrol", "show", "job", "-o", job_id])
    if proc.returncode == 0:
        found = parse_scontrol(job_id, proc.stdout)
        if found is not None:
            return found
    for extra, source in (([], "sacct"), (["--completion"], "sacct-completion")):
        try:
            proc = run_slurm(["sacct", *extra, "-n", "-P", "-X", "-j", job_id, "-o", SACCT_FIELDS])
        except SlurmError:
            return None
        if proc.returncode == 0:
            found = parse_sacct(job_id, proc.stdout, source)  # type: ignore[arg-type]
            if found is not None:
                return found
    return None
