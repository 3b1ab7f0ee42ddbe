"""The core behind `ckpt convert` and `ckpt forecast`: the conversion chosen by the checkpoint's
layout and engine, and the forecast settings taken from the job's config.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from ckpt_writers import write_dcp_checkpoint, write_pt_set

from cosmos_tui.core.checkpoints.convert import convert_checkpoint
from cosmos_tui.core.checkpoints.job_forecast import forecast_job
from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.engines.conversion import CONVERT_SCRIPT, DCP_OUTPUTS
from cosmos_tui.core.engines.predict1 import POSTTRAINED_DIR
from cosmos_tui.core.errors import UsageError, UserError


def test_dcp_folder_without_checkout_is_exported_by_us(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    step = write_dcp_checkpoint(ckpt_dir, 200)
    done = convert_checkpoint(str(ckpt_dir), scan_checkpoints(ckpt_dir), iteration=100, dry_run=True)
    assert done.kind == "builtin" and done.checkpoint.iteration == 100
    assert done.plan.method == "export"
    assert done.plan.outputs == tuple(ckpt_dir / "iter_000000100" / n for n in DCP_OUTPUTS)
    assert not any(p.exists() for p in done.plan.outputs)  # a dry run writes nothing
    latest = convert_checkpoint(str(ckpt_dir), scan_checkpoints(ckpt_dir), dry_run=True)
    assert latest.checkpoint.path == step


def test_dcp_with_a_checkout_uses_its_converter(ckpt_dir: Path, tmp_path: Path) -> None:
    step = write_dcp_checkpoint(ckpt_dir, 100)
    repo = tmp_path / "checkout"
    (repo / "scripts").mkdir(parents=True)
    (repo / CONVERT_SCRIPT).write_text("")
    done = convert_checkpoint(str(ckpt_dir), scan_checkpoints(ckpt_dir), repo=repo, dry_run=True)
    assert done.kind == "upstream" and done.plan.method == "upstream-script"
    assert done.plan.cwd == repo and done.plan.argv[1:] == (CONVERT_SCRIPT, str(step / "model"), str(step))


def test_predict1_set_needs_a_checkout_then_places_the_ema_file(ckpt_dir: Path, tmp_path: Path) -> None:
    write_pt_set(ckpt_dir, 30)
    found = scan_checkpoints(ckpt_dir)
    with pytest.raises(UserError, match="needs its checkout; pass --repo PATH"):
        convert_checkpoint(str(ckpt_dir), found)
    repo = tmp_path / "p1"
    repo.mkdir()
    dest = repo / "checkpoints" / POSTTRAINED_DIR / "model.pt"
    # The doc's file, and the name upstream's argparse accepts (a hard link to the same bytes).
    accepted = dest.parent / "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView" / "t2w_model.pt"
    planned = convert_checkpoint(str(ckpt_dir), found, repo=repo, dry_run=True)
    assert planned.plan.method == "place-ema" and planned.plan.outputs == (dest, accepted)
    assert not dest.exists()
    done = convert_checkpoint(str(ckpt_dir), found, repo=repo)
    assert done.plan.source == ckpt_dir / "iter_000000030_ema_model.pt"
    assert dest.read_bytes() == done.plan.source.read_bytes() == accepted.read_bytes()
    with pytest.raises(UserError, match="already exists; pass --yes"):
        convert_checkpoint(str(ckpt_dir), found, repo=repo)


def test_a_missing_iteration_is_a_user_error(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    with pytest.raises(UserError):
        convert_checkpoint(str(ckpt_dir), scan_checkpoints(ckpt_dir), iteration=7, dry_run=True)


def test_forecast_takes_what_is_left_out_from_config(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    config = ckpt_dir.parent / "config.yaml"
    config.write_text("trainer:\n  max_iter: 500\ncheckpoint:\n  save_iter: 100\n  keep_last_n: 2\n")
    found = scan_checkpoints(ckpt_dir)
    fc = forecast_job(ckpt_dir, found)
    assert fc.saves_remaining == 4
    assert fc.needed_bytes == 2 * fc.checkpoint_bytes  # keep_last_n 2 from the config caps the growth
    assert forecast_job(ckpt_dir, found, max_iter=1100).saves_remaining == 10  # the caller's value wins
    assert forecast_job(ckpt_dir, found, save_iter=200).saves_remaining == 3  # 200, 400, 500
    config.write_text("trainer: [unclosed\n")
    with pytest.raises(UsageError, match="Pass --max-iter and --save-iter"):
        forecast_job(ckpt_dir, found)
    fc = forecast_job(ckpt_dir, found, max_iter=400, save_iter=100)
    assert fc.saves_remaining == 3 and fc.needed_bytes == 3 * fc.checkpoint_bytes  # no keep_last_n now
