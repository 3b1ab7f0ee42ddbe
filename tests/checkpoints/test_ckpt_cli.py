"""`cosmos-tui ckpt ...` through CliRunner: data on stdout, messages on stderr, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from ckpt_writers import write_dcp_checkpoint
from support.upstream_config import upstream_config
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.datasets.synth import synthesize

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["ckpt", *args])


def test_list_json_and_table(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    write_dcp_checkpoint(ckpt_dir, 200, parts=("model",), latest=False)
    job = ckpt_dir.parent
    res = _run("list", str(job), "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [(r["iteration"], r["complete"], r["is_latest"], r["has_ema"], r["state"]) for r in rows] == [
        (100, True, True, True, "complete"),
        (200, False, False, True, "saving"),
    ]
    res = _run("list", str(ckpt_dir / "iter_000000100"))
    assert res.exit_code == 0 and "100" in res.stdout and "complete" in res.stdout
    assert "2 checkpoint(s)" in res.stderr


def test_list_names_a_truncated_shard(ckpt_dir: Path) -> None:
    step = write_dcp_checkpoint(ckpt_dir, 100)
    write_dcp_checkpoint(ckpt_dir, 200)
    shard = next((step / "model").glob("*.distcp"))
    with open(shard, "r+b") as f:
        f.truncate(shard.stat().st_size // 2)
    rows = json.loads(_run("list", str(ckpt_dir), "--json").stdout)
    assert [(r["iteration"], r["state"]) for r in rows] == [(100, "truncated"), (200, "complete")]
    res = _run("list", str(ckpt_dir))
    assert res.exit_code == 0 and "truncated" in res.stdout


def test_a_resume_onto_a_truncated_newest_checkpoint_fails_preflight(
    isolated_home: Path, tmp_path: Path
) -> None:
    # The engine would die loading it (EOFError) after preflight said ok; preflight says so first.
    job = isolated_home / "output" / "cosmos_engine" / "s2mv_text2world" / "s2mv_text2world_tiny"
    write_dcp_checkpoint(job / "checkpoints", 50)
    step = write_dcp_checkpoint(job / "checkpoints", 100)
    shard = next((step / "model").glob("*.distcp"))
    with open(shard, "r+b") as f:
        f.truncate(shard.stat().st_size // 2)
    synthesize(tmp_path / "ds", "predict1-waymo", clips=2, experiment="s2mv_text2world_tiny")
    args = ["run", "builtin-tiny-cpu", "--dry-run", "--set", f"data.root={tmp_path / 'ds'}"]
    res = runner.invoke(app, [*args, "--resume"])
    assert res.exit_code == 1, res.output
    assert "iter_000000100" in res.output and "is truncated" in res.output and "--fresh" in res.output
    res = runner.invoke(app, [*args, "--fresh"])  # starting over does not load it
    assert "is truncated" not in res.output


def test_unknown_target_is_a_clean_error(tmp_path: Path) -> None:
    res = _run("list", "no-such-run")
    assert res.exit_code == 1 and res.stderr.startswith("error: ") and "no run 'no-such-run'" in res.stderr
    assert "Traceback" not in res.output
    (tmp_path / "empty").mkdir()
    res = _run("list", str(tmp_path / "empty"))
    assert res.exit_code == 1 and "pass the job dir" in res.stderr


def test_verify_exit_codes(ckpt_dir: Path) -> None:
    step = write_dcp_checkpoint(ckpt_dir, 100)
    assert _run("verify", str(ckpt_dir)).exit_code == 0
    next((step / "optim").glob("*.distcp")).unlink()
    res = _run("verify", str(ckpt_dir), "--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout)[0]["status"] == "missing-shard"


def test_export_cli(ckpt_dir: Path, tmp_path: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    out = tmp_path / "export"
    res = _run("export", str(ckpt_dir), "--out", str(out), "--dtype", "bf16")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["model.pt", "model_ema_bf16.pt"]
    res = _run("export", str(ckpt_dir), "--out", str(out), "--dtype", "bf16")
    assert res.exit_code == 1 and "--yes" in res.stderr
    assert _run("export", str(ckpt_dir), "--out", str(out), "--dtype", "fp16").exit_code == 2
    assert _run("export", str(ckpt_dir), "--out", str(out), "--iter", "7").exit_code == 1


def test_export_refuses_bad_checkpoint(ckpt_dir: Path, tmp_path: Path) -> None:
    step = write_dcp_checkpoint(ckpt_dir, 100)
    next((step / "model").glob("*.distcp")).unlink()
    res = _run("export", str(ckpt_dir), "--out", str(tmp_path / "o"))
    assert res.exit_code == 1 and "Not exporting" in res.stderr and not (tmp_path / "o").exists()


def test_prune_dry_run_then_yes_and_pins(ckpt_dir: Path) -> None:
    for it in (100, 200, 300):
        write_dcp_checkpoint(ckpt_dir, it)
    assert _run("pin", str(ckpt_dir), "100").exit_code == 0
    assert _run("pin", str(ckpt_dir), "999").exit_code == 1
    res = _run("prune", str(ckpt_dir), "--keep-last", "1")
    assert res.exit_code == 0 and "would delete" in res.stdout and "--yes" in res.stderr
    assert (ckpt_dir / "iter_000000200").exists()
    res = _run("prune", str(ckpt_dir), "--keep-last", "1", "--yes", "--json")
    data = json.loads(res.stdout)
    assert data["deleted"] and [d["iteration"] for d in data["decisions"] if not d["keep"]] == [200]
    assert sorted(p.name for p in ckpt_dir.glob("iter_*")) == ["iter_000000100", "iter_000000300"]
    assert _run("unpin", str(ckpt_dir), "100").exit_code == 0
    assert _run("prune", str(ckpt_dir), "--keep-last", "0").exit_code == 2


def test_forecast_reads_config(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    (ckpt_dir.parent / "config.yaml").write_text("trainer:\n  max_iter: 500\ncheckpoint:\n  save_iter: 100\n")
    res = _run("forecast", str(ckpt_dir.parent), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["verdict"] == "ok" and data["saves_remaining"] == 4
    (ckpt_dir.parent / "config.yaml").unlink()
    assert _run("forecast", str(ckpt_dir)).exit_code == 2


# What upstream's trainer writes (safe_load refuses its Python tags).
UPSTREAM_CONFIG = upstream_config(max_iter=500, save_iter=100, keep_last_n=2)


def test_forecast_reads_an_upstream_config_with_python_tags(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    (ckpt_dir.parent / "config.yaml").write_text(UPSTREAM_CONFIG)
    res = _run("forecast", str(ckpt_dir.parent), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["saves_remaining"] == 4  # 200..500 from trainer.max_iter and checkpoint.save_iter
    assert data["needed_bytes"] == 2 * data["checkpoint_bytes"]  # keep_last_n 2 caps the growth
