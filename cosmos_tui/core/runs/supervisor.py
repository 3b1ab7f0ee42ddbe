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
from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.engines.steps import StepSpec
from cosmos_tui.core.monitor.logtail import last_lines
from cosmos_tui.core.runs import joblock, outcome, ownership, procs, registry, sentinel, steps
from cosmos_tui.core.runs.record import CONSOLE_LOG, SUPERVISOR_LOG, TERMINAL, ProcRef, RunRecord
from cosmos_tui.core.runs.resume import latest_checkpoint
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
        self.step_child: subprocess.Popen[bytes] | None = None
        """The process of a pipeline step other than training, while it runs."""

    def say(self, message: str) -> None:
        """A timestamped line in ``supervisor.log``."""
        self.log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [supervisor {os.getpid()}] {message}\n")

    # -- signals ----------------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stop_signal = signum
        step = self.step_child
        if step is not None and step.poll() is None:
            try:
                step.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            return
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
        specs = self._pipeline(record)
        for spec in steps.before_train(specs):
            ended = self._run_step(spec.name)
            if ended is not None:
                return ended
        if specs:
            train = self._spec(steps.TRAIN)
            if train is not None and train.done:
                return self._skip_training(specs, train.done)
            registry.update(
                self.run_dir,
                lambda r: r.replace(
                    steps=steps.replace_step(r.steps, steps.TRAIN, status="running", started_at=time.time())
                ),
            )
        self.say(f"starting: {' '.join(record.exec_argv)} (cwd {record.cwd})")
        console = open(self.run_dir / CONSOLE_LOG, "ab")  # noqa: SIM115
        try:
            self.child = subprocess.Popen(
                list(record.exec_argv),
                cwd=record.cwd or None,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env={**os.environ, **sentinel.local_env(record)},
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
        final = self._after_training(specs, code)
        if self.watch is not None:
            # the end: finished, stopped or crashed, announced
            self.watch.tick(code, force=True, stopped=final.status == "stopped")
            self.watch.close()
        return code

    # -- the pipeline's other steps ------------------------------------------------------------

    def _pipeline(self, record: RunRecord) -> tuple[StepSpec, ...]:
        """The steps the run's engine declares now (``()`` when training is all it does)."""
        if not record.steps:
            return ()
        preset = record.launched_preset()
        job = Path(record.job_dir) if record.job_dir else None
        return get_adapter(preset.engine.kind).pipeline(preset, job, {**os.environ})

    def _spec(self, name: str) -> StepSpec | None:
        record = registry.read(self.run_dir)
        return next((s for s in self._pipeline(record) if s.name == name), None)

    def _run_step(self, name: str) -> int | None:
        """Run one step other than training to its end; ``None`` when the pipeline goes on, else
        the supervisor's return value (the run was recorded as failed or stopped)."""
        spec = self._spec(name)
        if spec is None:
            why = f"the engine no longer declares the {name} step"
            self._finish(None, why, status="failed")
            return 1
        if spec.done:
            self.say(f"step {name}: skipped ({spec.done})")
            now = time.time()
            registry.update(
                self.run_dir,
                lambda r: r.replace(
                    steps=steps.replace_step(
                        r.steps, name, status="skipped", reason=spec.done, argv=spec.argv, ended_at=now
                    )
                ),
            )
            return None
        if self.stop_signal is not None or registry.read(self.run_dir).stop_requested:
            self._finish(None, f"stopped before the {name} step started", status="stopped")
            return 0
        log_path = self.run_dir / spec.log_name
        self.say(f"step {name}: starting {' '.join(spec.argv)}")
        with open(log_path, "ab") as log:
            try:
                self.step_child = subprocess.Popen(
                    list(spec.argv),
                    cwd=str(spec.cwd) if spec.cwd else None,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **spec.env},
                )
            except OSError as e:
                why = f"the {name} step could not start: {e.strerror or e}"
                self._end_step(name, "failed", None, why)
                self._finish(None, why, status="failed")
                return 127
        child = self.step_child
        ref = procs.ref_of(child.pid, "step")
        started = time.time()

        def running(r: RunRecord) -> RunRecord:
            status = "stopping" if r.stop_requested or r.status == "stopping" else "running"
            changed = steps.replace_step(
                r.steps, name, status="running", argv=spec.argv, started_at=started, pid=child.pid
            )
            extra = (ref,) if ref is not None else ()
            return r.replace(
                steps=changed, status=status, started_at=r.started_at or started, procs=(*r.procs, *extra)
            )

        registry.update(self.run_dir, running)
        if self.stop_signal is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
        code = child.wait()
        self.step_child = None
        registry.update(self.run_dir, lambda r: r.replace(procs=tuple(p for p in r.procs if p != ref)))
        self.say(f"step {name}: exited with {code}")
        if code == 0:
            self._end_step(name, "done", code, None)
            return None
        tail = [line for line in last_lines(log_path, 20, max_bytes=64 << 10) if line.strip()]
        last = tail[-1] if tail else "its log is empty"
        if self.stop_signal is not None:
            why = f"stopped during the {name} step (exit {code}); `cosmos-tui runs resume` runs it again"
            self._end_step(name, "stopped", code, why)
            self._finish(code, why, status="stopped")
            return 0
        why = f"the {name} step exited with {code}: {last[:300]} (see {spec.log_name})"
        self._end_step(name, "failed", code, why)
        self._finish(code, why, status="failed")
        return code

    def _end_step(self, name: str, status: str, code: int | None, why: str | None) -> None:
        now = time.time()
        registry.update(
            self.run_dir,
            lambda r: r.replace(
                steps=steps.replace_step(
                    r.steps, name, status=status, exit_code=code, reason=why, ended_at=now, pid=None
                )
            ),
        )

    def _skip_training(self, specs: tuple[StepSpec, ...], why: str) -> int:
        """Training has nothing left (the job is at ``trainer.max_iter``): the steps after it run."""
        self.say(f"step train: skipped ({why})")
        now = time.time()
        registry.update(
            self.run_dir,
            lambda r: r.replace(
                steps=steps.replace_step(r.steps, steps.TRAIN, status="skipped", reason=why, ended_at=now)
            ),
        )
        for spec in steps.after_train(specs):
            ended = self._run_step(spec.name)
            if ended is not None:
                return ended
        done = ", ".join(s.name for s in steps.after_train(specs))
        self._finish(
            0, f"training had nothing left ({why}); {done or 'nothing else'} done", status="finished"
        )
        return 0

    def _after_training(self, specs: tuple[StepSpec, ...], code: int) -> RunRecord:
        """Record the train step's end and, when training finished, run the steps after it."""
        if not specs:
            return self._finish(code, None)
        stopped = self.stop_signal is not None or registry.read(self.run_dir).stop_requested
        trained = code == 0 and not stopped
        point = latest_checkpoint(Path(registry.read(self.run_dir).job_dir or "."))
        status = "done" if trained else ("stopped" if stopped else "failed")
        now = time.time()
        registry.update(
            self.run_dir,
            lambda r: r.replace(
                steps=steps.replace_step(
                    r.steps,
                    steps.TRAIN,
                    status=status,
                    exit_code=code,
                    ended_at=now,
                    output=point.path.name if point else None,
                )
            ),
        )
        if not trained:
            return self._finish(code, None)
        for spec in steps.after_train(specs):
            if self._run_step(spec.name) is not None:
                return registry.read(self.run_dir)
        return self._finish(code, None)

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
            left = {"stopped": "stopped", "lost": "lost"}.get(final, "failed")
            return r.replace(
                status=final,
                exit_code=code,
                reason=why,
                ended_at=time.time(),
                stop_requested=stop,
                steps=steps.settle_active(r.steps, left, why),  # type: ignore[arg-type]
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
