"""The supervisor: a small process that owns one run's torchrun and records its fate.

``python -m cosmos_tui.core.runs.supervisor RUN_DIR`` is started by
:func:`cosmos_tui.core.runs.lifecycle.start_run` in its own session with stdin from /dev/null, so
it outlives the CLI or UI that started it and no terminal hang-up reaches it. It runs the recorded
command with stdout and stderr going to ``console.log`` (a file, never a pipe someone must drain),
records the torchrun agent's pid and start time and the tree below it, watches the run headlessly
(:mod:`cosmos_tui.core.runs.watch`: stalls and NaN losses kept in ``run.json``, the user's
notification command told), waits, and writes the exit code, end time and status. SIGTERM,
SIGINT or SIGHUP to the supervisor is forwarded to torchrun as SIGTERM (the engine saves and
exits). It never imports torch, so it starts fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cosmos_tui.core import jobconfig
from cosmos_tui.core.monitor.logtail import last_lines
from cosmos_tui.core.runs import joblock, outcome, ownership, procs, registry
from cosmos_tui.core.runs.record import CONSOLE_LOG, SUPERVISOR_LOG, TERMINAL, ProcRef, RunRecord
from cosmos_tui.core.runs.watch import RunWatch

TREE_POLL_S = 1.0
"""How often the tree under the agent is re-recorded (for ``stop`` after the agent is gone)."""


def _max_iter(record: RunRecord) -> int | None:
    """``trainer.max_iter`` of the run's job: its composed config, else the launch's overrides."""
    job = Path(record.job_dir) if record.job_dir else None
    overrides = record.launched.experiment.overrides if record.launched else ()
    return jobconfig.settings(job, overrides).max_iter


class Supervisor:
    """Runs one record's command to completion."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.log = open(self.run_dir / SUPERVISOR_LOG, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.child: subprocess.Popen[bytes] | None = None
        self.watch: RunWatch | None = None
        self.stop_signal: int | None = None
        self.tree: dict[int, ProcRef] = {}
        """Processes seen below the agent (ranks, workers), kept while they live."""
        self.orphans_note: str | None = None
        """Set when torchrun ended while some of its ranks still ran (they were waited for)."""

    def say(self, message: str) -> None:
        """A timestamped line in ``supervisor.log``."""
        self.log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [supervisor {os.getpid()}] {message}\n")

    # -- signals ----------------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stop_signal = signum
        child = self.child
        if child is not None and child.poll() is None:
            # The ranks first: they save and exit 0, and torchrun then ends as a success instead
            # of raising its SignalException; torchrun itself only when it has no ranks yet.
            agent = procs.ref_of(child.pid, "agent")
            if not procs.terminate_ranks(agent):
                try:
                    child.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        elif child is not None:
            # torchrun is gone but its ranks run on (orphans): they get the SIGTERM themselves.
            for ref in list(self.tree.values()):
                procs.signal_if_same(ref, signal.SIGTERM)

    def _install_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> int:
        """Start torchrun, wait for it, record the outcome. Returns torchrun's exit code."""
        self._install_handlers()
        me = procs.ref_of(os.getpid(), "supervisor")
        record = registry.update(self.run_dir, lambda r: r.replace(supervisor=me))
        if record.job_dir and record.active:
            try:
                joblock.hand_over(Path(record.job_dir), record.id)
            except OSError as e:
                self.say(f"could not take over the job lock: {e}")
        if record.status in TERMINAL:
            self.say(f"record is already {record.status}; nothing to do")
            return 0
        if record.stop_requested or self.stop_signal is not None:
            self._finish(None, "stopped before torchrun started", status="stopped")
            return 0
        self.say(f"starting: {' '.join(record.exec_argv)} (cwd {record.cwd})")
        console = open(self.run_dir / CONSOLE_LOG, "ab")  # noqa: SIM115
        try:
            self.child = subprocess.Popen(
                list(record.exec_argv),
                cwd=record.cwd or None,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )
        except OSError as e:
            self.say(f"could not start torchrun: {e}")
            self._finish(None, f"could not start the command: {e.strerror or e}", status="failed")
            return 127
        finally:
            console.close()
        agent = procs.ref_of(self.child.pid, "agent")
        started = time.time()
        self.say(f"torchrun agent pid {self.child.pid}")

        def started_change(r: RunRecord) -> RunRecord:
            status = "stopping" if r.stop_requested or r.status == "stopping" else "running"
            return r.replace(agent=agent, started_at=started, status=status)

        record = registry.update(self.run_dir, started_change)
        if self.stop_signal is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
        self.watch = self._start_watch(record)
        code = self._wait(agent)
        self.say(f"torchrun exited with {code}")
        final = self._finish(code, None)
        if self.watch is not None:
            # the end: finished, stopped or crashed, announced
            self.watch.tick(code, force=True, stopped=final.status == "stopped")
            self.watch.close()
        return code

    def _start_watch(self, record: RunRecord) -> RunWatch | None:
        try:
            return RunWatch(record, self.say)
        except Exception as e:  # watching is a service on top; the run goes on without it
            self.say(f"no watch for this run: {e!r}")
            return None

    def _wait(self, agent: ProcRef | None) -> int:
        assert self.child is not None
        while True:
            try:
                code = self.child.wait(timeout=TREE_POLL_S)
                break
            except subprocess.TimeoutExpired:
                pass
            self._record_tree(procs.descendants(agent))
            if self.watch is not None:
                self.watch.tick()  # every WATCH_POLL_S: progress, stalls and NaNs into run.json
        self._wait_for_orphans(code)
        return code

    def _record_tree(self, live: list[ProcRef]) -> None:
        current = {p.pid: p for p in live}
        if set(current) == set(self.tree):
            return
        # Keep what is alive now plus anything recorded earlier that still runs (orphans).
        merged = {p.pid: p for p in self.tree.values() if procs.alive(p)}
        merged.update(current)
        self.tree = merged
        tree = tuple(sorted(merged.values(), key=lambda p: p.pid))
        registry.update(self.run_dir, lambda r: r.replace(procs=tree))

    def _wait_for_orphans(self, code: int) -> None:
        """torchrun exited, but when it was killed its ranks are not (they run in their own
        sessions and keep training and saving). The record stays active until they end, so it
        never says a run is over while its processes still write checkpoints."""
        alive = [p for p in self.tree.values() if procs.alive(p)]
        if not alive:
            return
        pids = ", ".join(str(p.pid) for p in alive[:8])
        self.say(f"torchrun exited with {code} but {len(alive)} of its processes still run ({pids}); waiting")
        note = (
            f"torchrun exited with {code} while {len(alive)} of its processes ran on (pids {pids}); "
            "the run ends when they do (`cosmos-tui runs stop` asks them to save and stop)"
        )
        registry.update(self.run_dir, lambda r: r.replace(reason=note) if r.active else r)
        if self.stop_signal is not None:
            for ref in alive:
                procs.signal_if_same(ref, signal.SIGTERM)
        while alive:
            time.sleep(TREE_POLL_S / 4)
            alive = [p for p in alive if procs.alive(p)]
            if self.watch is not None:
                self.watch.tick()
        self.orphans_note = (
            f"its {len(self.tree)} process(es) ran on without torchrun until {time.strftime('%H:%M:%S')}"
        )
        self.say(self.orphans_note)

    def _finish(self, code: int | None, reason: str | None, status: str | None = None) -> RunRecord:
        tail = last_lines(self.run_dir / CONSOLE_LOG, 400, max_bytes=256 << 10)

        def change(r: RunRecord) -> RunRecord:
            if r.status in TERMINAL:
                return r
            stop = r.stop_requested or self.stop_signal is not None
            final = status or outcome.status_for(code if code is not None else 1, stop_requested=stop)
            r = r.replace(**ownership.end_fields(r))
            if reason:
                why = reason
            elif stop and outcome.trained_to_the_end(tail, r.last_iteration, _max_iter(r)):
                # The stop arrived after the last iteration and its save: the run finished, and
                # torchrun's exit is that of ranks signalled while they shut down.
                final = status or "finished"
                last = r.checkpoints[-1] if r.checkpoints else None
                why = (
                    f"finished training at iteration {r.last_iteration}"
                    + (f" (saved {last})" if last else "")
                    + f" before the stop arrived; torchrun exited {code} as its ranks shut down"
                )
            elif stop:
                last = r.checkpoints[-1] if r.checkpoints else None
                why = outcome.describe_stop(code if code is not None else 1, tail, r.last_iteration, last)
            else:
                why = outcome.describe_exit(code if code is not None else 1, tail)
            if self.orphans_note:
                why += f"; {self.orphans_note}"
            if not reason and code not in (0, None) and not stop:
                full = outcome.disk_full_note(r.job_dir, tail)
                why += f"; {full}" if full else ""
            return r.replace(
                status=final, exit_code=code, reason=why, ended_at=time.time(), stop_requested=stop
            )

        record = ownership.settle(self.run_dir, change)
        self.say(f"recorded {record.status}: {record.reason}")
        return record


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m cosmos_tui.core.runs.supervisor RUN_DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m cosmos_tui.core.runs.supervisor RUN_DIR", file=sys.stderr)
        return 2
    supervisor = Supervisor(Path(args[0]))
    try:
        supervisor.run()
    except Exception as e:  # record the failure instead of leaving a run "running" forever
        supervisor.say(f"supervisor error: {e!r}")
        try:
            supervisor._finish(None, f"the supervisor failed: {e}", status="failed")
        finally:
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
