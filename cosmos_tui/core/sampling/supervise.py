"""The samples job's supervisor: runs the engine's sampler once per target and records the end.

``python -m cosmos_tui.core.sampling.supervise FOLDER`` is started by
:func:`~cosmos_tui.core.sampling.jobs.start_samples` in its own session. It runs each recorded
command with stdout and stderr appended to ``console.log`` (a file, never a pipe), records the
engine's pid and start time while it runs, and writes ``finished``, ``failed`` (with the exit code
and the log's last line) or ``stopped``. SIGTERM, SIGINT or SIGHUP ends the engine (SIGTERM) and
stops before the next target. While it runs it holds a reader lease
(:mod:`cosmos_tui.core.checkpoints.leases`) on every checkpoint it has yet to sample, so neither the
engine's ``keep_last_n`` nor ``ckpt prune`` removes one under it. It never imports torch.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from cosmos_tui.core.checkpoints.leases import write_lease
from cosmos_tui.core.monitor.logtail import last_lines
from cosmos_tui.core.runs import procs
from cosmos_tui.core.sampling.jobs import CONSOLE_LOG, read_job, update_job


def _iterations(labels: list[str]) -> list[int]:
    """The checkpoint iterations among target labels (``iter_000000100``; ``base`` is none)."""
    return [int(m.group(1)) for label in labels if (m := re.fullmatch(r"iter_(\d+)", label))]


def _lease(checkpoints: Path, iterations: list[int]) -> None:
    """Hold (or narrow, or with none drop) the reader lease; a folder we cannot write only loses
    the extra safety, never the job."""
    with contextlib.suppress(OSError):
        write_lease(checkpoints, iterations)


def supervise(folder: Path) -> int:
    """Run the job in ``folder``; returns the exit code of the last command run."""
    job = update_job(folder, supervisor=procs.ref_of(os.getpid(), "supervisor"))
    stop = {"asked": False}
    child: dict[str, subprocess.Popen[bytes] | None] = {"p": None}

    def on_signal(signum: int, _frame: object) -> None:
        stop["asked"] = True
        p = child["p"]
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    code = 0
    done: list[str] = []
    checkpoints = Path(job.job_dir) / "checkpoints"
    pending = _iterations(list(job.targets)) if checkpoints.is_dir() else []
    if pending:
        _lease(checkpoints, pending)
    try:
        with open(folder / CONSOLE_LOG, "ab") as log:
            for label, argv in zip(job.targets, job.commands, strict=True):
                if stop["asked"] or read_job(folder).stop_requested:
                    break
                log.write(f"== {label}: {' '.join(argv)}\n".encode())
                log.flush()
                p = subprocess.Popen(
                    list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )
                child["p"] = p
                update_job(folder, engine=procs.ref_of(p.pid, "engine"))
                code = p.wait()
                child["p"] = None
                if code != 0:
                    break
                done.append(label)
                update_job(folder, done=tuple(done))
                if pending:  # what is sampled is free to go
                    _lease(checkpoints, _iterations([t for t in job.targets if t not in done]))
    finally:
        if pending:
            _lease(checkpoints, [])
    stopped = stop["asked"] or read_job(folder).stop_requested
    if stopped and len(done) < len(job.targets):
        status, reason = "stopped", f"stopped after {len(done)} of {len(job.targets)} target(s)"
    elif code != 0:
        tail = [line for line in last_lines(folder / CONSOLE_LOG, 20) if line.strip()]
        status, reason = "failed", (tail[-1].strip() if tail else f"the sampler exited {code}")
    else:
        status, reason = "finished", None
    update_job(folder, status=status, reason=reason, exit_code=code, ended_at=time.time(), engine=None)
    return code


if __name__ == "__main__":
    sys.exit(supervise(Path(sys.argv[1])))
