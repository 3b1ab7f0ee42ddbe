"""Jobs and runs with the real builtin engine under real torchrun: a second run of a job must
choose, runs own their slice of the job (iterations, metrics, checkpoints), resume has lineage and
refuses a finished job, ``rm --outputs`` deletes only what no other run needs, a dry run writes
nothing, concurrent launches of one job start one run, and a stop someone asked for is a stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runs_helpers import wait_for_line
from support.runs import wait_run
from support.waymo import synth_waymo
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.runmonitor import RunMonitor
from cosmos_tui.core.presets import load_preset, resolve_preset
from cosmos_tui.core.runs import get_run, start_run, stop_run
from cosmos_tui.core.runs.jobs import get_job, job_history
from cosmos_tui.core.runs.ownership import monitor_scope

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

FAST = ["wandb.mode=disabled", "dataloader_train.num_workers=0", "launch.nproc_per_node=1"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def waymo(tmp_path: Path) -> Path:
    return synth_waymo(tmp_path / "waymo")


def _sets(waymo: Path, name: str, *more: str) -> list[str]:
    return [f"data.root={waymo}", *FAST, f"job.name={name}", *more]


def _finished(run_id: str):
    done = wait_run(run_id, lambda r: not r.active, timeout=150)
    assert done.status == "finished", done.reason
    return done


def test_runs_of_one_job_choose_own_their_slices_and_rm_keeps_what_others_need(waymo: Path) -> None:
    demo = load_preset(resolve_preset("builtin-demo"))
    sets = _sets(waymo, "job1", "trainer.max_iter=4", "checkpoint.save_iter=2")
    a = _finished(start_run(demo, sets=sets).id)
    job = Path(a.job_dir)
    assert a.start_iteration == 0 and a.last_iteration == 4
    assert a.checkpoints == ("iter_000000002", "iter_000000004")

    # No silent resume: without a choice the second launch is refused, naming both ways.
    cli = invoke("run", "builtin-demo", *(x for s in sets for x in ("--set", s)))
    assert cli.exit_code == 1
    assert "--resume" in cli.stderr and "--fresh" in cli.stderr and a.id in cli.stderr
    # A resume of a job already at max_iter trains nothing, and says how to extend it.
    with pytest.raises(UserError, match=r"already at trainer.max_iter=4.*--set trainer.max_iter=8"):
        start_run(demo, sets=sets, existing="resume")
    refused = invoke("runs", "resume", a.id)
    assert refused.exit_code == 1 and "trainer.max_iter=" in refused.stderr

    b = start_run(demo, sets=[*sets, "trainer.max_iter=6"], existing="resume")
    assert b.resumed_from == {"run": a.id, "iteration": 4, "checkpoint": "iter_000000004"}
    assert b.parent == a.id and any(a.id in n and "iteration 4" in n for n in b.notes)
    b = _finished(b.id)
    assert (b.start_iteration, b.last_iteration, b.checkpoints) == (4, 6, ("iter_000000006",))

    # Each run's own slice: A's monitor sees iterations 1-4 and its two checkpoints only.
    snap = RunMonitor(**monitor_scope(get_run(a.id))).poll(exit_code=0)
    assert snap.progress.iteration == 4
    assert [c.path.name for c in snap.checkpoints.checkpoints] == ["iter_000000002", "iter_000000004"]
    history = job_history(get_job(a.id))
    assert [[s.iteration for s in seg.samples] for seg in history] == [[1, 2, 3, 4], [5, 6]]
    listed = {r["id"]: r for r in json.loads(invoke("runs", "list", "--json").stdout)}
    assert (listed[b.id]["start_iteration"], listed[b.id]["last_iteration"]) == (4, 6)
    shown = invoke("jobs", "show", a.id)
    assert shown.exit_code == 0 and f"resumed run {a.id} at iteration 4" in shown.stdout

    # --fresh proposes a new job name instead of touching this one.
    c = start_run(demo, sets=sets, existing="fresh")
    assert Path(c.job_dir) == job.with_name("job1-2") and c.start_iteration == 0
    c = _finished(c.id)

    # A dry run on an existing job writes nothing: config.yaml keeps its bytes and time.
    config = job / "config.yaml"
    before = (config.read_bytes(), config.stat().st_mtime_ns)
    dry = invoke("run", "builtin-demo", *(x for s in sets for x in ("--set", s)), "--resume", "--dry-run")
    assert dry.exit_code in (0, 1), dry.output
    assert (config.read_bytes(), config.stat().st_mtime_ns) == before
    new = invoke(
        "run", "builtin-demo", *(x for s in _sets(waymo, "never") for x in ("--set", s)), "--dry-run"
    )
    assert new.exit_code == 0, new.output
    assert not job.with_name("never").exists()

    # rm A --outputs: iter 2 goes, iter 4 stays (B resumed from it), shared files stay.
    plan = json.loads(invoke("runs", "rm", a.id, "--outputs", "--dry-run", "--json").stdout)
    kept = {Path(k["path"]).name: k["why"] for k in plan["keep"]}
    assert kept["iter_000000004"] == f"run {b.id} resumed from it" and "metrics.jsonl" in kept
    assert all(d["bytes"] >= 0 for d in plan["delete"])
    assert invoke("runs", "rm", a.id, "--outputs", "--yes").exit_code == 0
    left = sorted(p.name for p in (job / "checkpoints").glob("iter_*"))
    assert left == ["iter_000000004", "iter_000000006"]
    # B is now the job's last run: removing it with its outputs takes what B wrote; iter 4 (A's,
    # kept for B) stays, since no run record says B wrote it, and so do the job's config and metrics.
    assert invoke("runs", "rm", b.id, "--outputs", "--yes").exit_code == 0
    left = sorted(p.name for p in (job / "checkpoints").glob("iter_*"))
    assert left == ["iter_000000004"] and (job / "config.yaml").exists()
    assert job.with_name("job1-2").is_dir()


def test_concurrent_launches_of_one_job_start_one_run(waymo: Path, tmp_path: Path) -> None:
    sets = _sets(waymo, "race", "trainer.max_iter=400", "checkpoint.save_iter=400")
    argv = [sys.executable, "-m", "cosmos_tui", "run", "builtin-demo", "--detach"]
    argv += [x for s in sets for x in ("--set", s)]
    outs = [tmp_path / f"cli{i}.out" for i in range(2)]
    procs = [
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=o.open("wb"), stderr=subprocess.STDOUT)
        for o in outs
    ]
    codes = [p.wait(timeout=150) for p in procs]
    texts = [o.read_text() for o in outs]
    assert sorted(codes) == [0, 1], texts
    loser = texts[codes.index(1)]
    assert "is held by run" in loser or "holds checkpoints" in loser, loser
    runs = json.loads(invoke("runs", "list", "--json").stdout)
    assert len(runs) == 1, "the refused launch leaves no record"
    run_id = runs[0]["id"]
    wait_for_line(get_run(run_id), "Iteration 2:", timeout=120)
    report = stop_run(run_id)
    assert report.record.status == "stopped"
    metrics = (Path(report.record.job_dir) / "metrics.jsonl").read_text().splitlines()
    iters = [json.loads(line)["iteration"] for line in metrics]
    assert len(iters) == len(set(iters)), "one writer: no iteration twice"


def _notify_into(path: Path) -> None:
    script = f"import sys; open({str(path)!r}, 'a').write(sys.stdin.read() + '\\n')"
    config = Path(os.environ["COSMOS_TUI_HOME"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[notify]\ncommand = {json.dumps([sys.executable, '-c', script])}\n")


def test_a_graceful_stop_is_stopped_with_its_checkpoint_and_announced(waymo: Path, tmp_path: Path) -> None:
    sink = tmp_path / "events.jsonl"
    _notify_into(sink)
    demo = load_preset(resolve_preset("builtin-demo"))
    # max_restarts: torchrun must not answer our stop by restarting the ranks.
    more = ("trainer.max_iter=1000", "checkpoint.save_iter=1000", "launch.max_restarts=1")
    rec = start_run(demo, sets=_sets(waymo, "stopme", *more))
    wait_for_line(rec, "Iteration 3:", timeout=120)
    report = stop_run(rec.id)
    assert report.graceful and {p.role for p in report.signalled} == {"rank"}
    done = report.record
    assert (done.status, done.exit_code) == ("stopped", 0), done.reason
    assert done.checkpoints and done.last_iteration is not None
    assert f"at iteration {done.last_iteration}; saved checkpoint {done.checkpoints[-1]}" in done.reason
    log = done.console_log.read_text()
    assert "SignalException" not in log and "Restarting" not in log
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not sink.exists():
        time.sleep(0.1)
    time.sleep(0.5)
    kinds = [json.loads(line)["kind"] for line in sink.read_text().splitlines() if line.strip()]
    assert kinds == ["stopped"], kinds
    shown = invoke("runs", "list")
    assert "stopped" in shown.stdout and "crash" not in shown.stdout.lower()
