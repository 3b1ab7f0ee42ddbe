"""The preset, run and runs commands through CliRunner (no training processes)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.runs import registry
from cosmos_tui.core.runs.record import RunRecord


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _finished_run(run_id: str, job_dir: Path, **kw) -> RunRecord:
    rec = RunRecord(
        id=run_id,
        run_dir=registry.run_dir_for(run_id),
        preset={"experiment": {"name": "s2mv_text2world_tiny"}},
        created_at=time.time(),
        status="finished",
        exit_code=0,
        job_dir=str(job_dir),
        **kw,
    )
    return registry.create(rec)


def test_preset_list_shows_the_builtin_presets() -> None:
    result = invoke("preset", "list", "--json")
    assert result.exit_code == 0
    names = {p["name"]: p for p in json.loads(result.stdout)}
    for name in ("builtin-demo", "builtin-tiny-cpu", "builtin-s2mv-2b-8gpu", "builtin-transfer-edge-2b-8gpu"):
        assert names[name]["engine"] == "builtin" and names[name]["description"]
    assert names["builtin-s2mv-2b-8gpu"]["nproc_per_node"] == 8


def test_preset_render_prints_the_command_and_json() -> None:
    result = invoke("preset", "render", "builtin-demo", "--set", "trainer.max_iter=3")
    assert result.exit_code == 0
    assert result.stdout.startswith("cd ") and "torchrun --nproc_per_node=2" in result.stdout
    assert "trainer.max_iter=3" in result.stdout
    data = json.loads(invoke("preset", "render", "builtin-demo", "--json").stdout)
    assert data["argv"][0] == "torchrun" and data["job_dir"].endswith("s2mv_text2world/s2mv_text2world_tiny")


def test_preset_validate_reports_bad_keys_with_close_matches(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[launch]\nnproc_per_nod = 2\n")
    result = invoke("preset", "validate", "builtin-demo", str(bad))
    assert result.exit_code == 1
    assert "did you mean 'launch.nproc_per_node'" in result.stderr
    assert "Traceback" not in result.output


def test_preset_new_writes_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "mine.toml"
    assert invoke("preset", "new", str(target), "--set", "launch.nproc_per_node=4").exit_code == 0
    assert "nproc_per_node = 4" in target.read_text()
    again = invoke("preset", "new", str(target))
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert invoke("preset", "new", str(target), "--yes").exit_code == 0


def test_run_dry_run_checks_and_launches_nothing(tmp_path: Path) -> None:
    result = invoke("run", "builtin-demo", "--dry-run", "--json", "--set", f"data.root={tmp_path}/missing")
    assert result.exit_code == 1  # a failing check fails the dry run; the plan is still printed
    data = json.loads(result.stdout)
    assert {c["name"]: c["level"] for c in data["checks"]}["dataset"] == "fail"
    assert "--standalone" in data["argv"]  # torchrun binds its own free port
    assert registry.run_ids() == []


def test_run_refuses_a_failing_preflight(tmp_path: Path) -> None:
    result = invoke("run", "builtin-demo", "--detach", "--set", f"data.root={tmp_path}/missing")
    assert result.exit_code == 1
    assert "preflight failed" in result.stderr and "--force" in result.stderr
    assert registry.run_ids() == []


def test_runs_list_show_and_unknown_ids(tmp_path: Path) -> None:
    assert json.loads(invoke("runs", "list", "--json").stdout) == []
    _finished_run("20260101-000000-s2mv-text2world-tiny-aaaa", tmp_path / "job")
    listed = json.loads(invoke("runs", "list", "--json").stdout)
    assert [r["status"] for r in listed] == ["finished"]
    shown = json.loads(invoke("runs", "show", "aaaa", "--json").stdout)
    assert shown["id"] == "20260101-000000-s2mv-text2world-tiny-aaaa"
    missing = invoke("runs", "show", "20260101-000000-s2mv-text2world-tiny-aaab")
    assert missing.exit_code == 1 and "did you mean" in missing.stderr and "Traceback" not in missing.output
    stop = invoke("runs", "stop", "aaaa")
    assert stop.exit_code == 1 and "not running" in stop.stderr


def test_resume_without_a_checkpoint_is_refused(tmp_path: Path) -> None:
    _finished_run("20260101-000000-s2mv-text2world-tiny-bbbb", tmp_path / "job")
    result = invoke("runs", "resume", "bbbb")
    assert result.exit_code == 1 and "no complete checkpoint" in result.stderr


def test_rm_needs_yes_and_keeps_checkpoints_without_outputs(tmp_path: Path) -> None:
    job = Path(os.environ["IMAGINAIRE_OUTPUT_ROOT"]) / "project" / "group" / "job"
    (job / "checkpoints" / "iter_000000005").mkdir(parents=True)
    rec = _finished_run("20260101-000000-s2mv-text2world-tiny-cccc", job)
    refused = invoke("runs", "rm", "cccc")
    assert refused.exit_code == 1 and "--yes" in refused.stderr and rec.run_dir.exists()
    dry = invoke("runs", "rm", "cccc", "--outputs", "--dry-run", "--json")
    assert json.loads(dry.stdout)["would_delete"] == [str(rec.run_dir), str(job)]
    assert job.exists() and rec.run_dir.exists()
    done = invoke("runs", "rm", "cccc", "--yes")
    assert done.exit_code == 0 and not rec.run_dir.exists()
    assert (job / "checkpoints" / "iter_000000005").is_dir()
    rec2 = _finished_run("20260101-000000-s2mv-text2world-tiny-dddd", job)
    assert invoke("runs", "rm", "dddd", "--outputs", "--yes").exit_code == 0
    assert not job.exists() and not rec2.run_dir.exists()


def test_a_config_the_engine_refuses_fails_the_dry_run_and_the_launch(tmp_path: Path) -> None:
    """The builtin engine's own dry run refusing an override is a failed check (it used to be a
    warning, and the run then died in seconds); an override with no key never gets that far."""
    from cosmos_tui.core.datasets.synth import synthesize

    synthesize(tmp_path / "d", "predict1-waymo", clips=2, frames=12)
    sets = ["--set", f"data.root={tmp_path / 'd'}", "--set", "trainer.nosuchkey=1"]
    dry = invoke("run", "builtin-tiny-cpu", "--dry-run", *sets)
    assert dry.exit_code == 1 and "FAIL dryrun" in dry.stderr and "trainer.nosuchkey" in dry.stderr
    launch = invoke("run", "builtin-tiny-cpu", "--detach", *sets)
    assert launch.exit_code == 1 and "preflight failed" in launch.stderr and registry.run_ids() == []
    for bad in ("=1", "+=x", "~", ".a=1", "a..b=1"):
        res = invoke("preset", "render", "builtin-tiny-cpu", "--set", bad)
        assert res.exit_code != 0 and "has no key Hydra can read" in res.stderr, (bad, res.stderr)
