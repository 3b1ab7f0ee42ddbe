"""End to end with the ReplayEngine test double in a FakeCheckout: the shipped upstream presets are
launched by the runs code (dry run for the job folder, supervisor, real torchrun on CPU), the
console is read by the monitor's parsers, checkpoints are found by the checkpoint scanner, and
converted / placed for inference by the upstream conversion code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from replay_engine.checkout import make_fake_checkout
from support.runs import wait_run
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.engines.conversion import convert_dcp
from cosmos_tui.core.engines.predict1 import place_p1_ema
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.metrics import scan_file
from cosmos_tui.core.presets import apply_sets, load_preset, resolve_preset
from cosmos_tui.core.runs import TERMINAL, start_run

pytestmark = pytest.mark.slow


def _wait(run_id: str, timeout: float = 150.0):
    return wait_run(run_id, lambda r: r.status in TERMINAL, timeout)


def _preset(name: str, repo: Path, sets: list[str]):
    data = repo.parent / "data"  # the replay builds every dataset copy: the folder must exist
    data.mkdir(exist_ok=True)
    base = [
        f"engine.repo={repo}",
        f"engine.python={sys.executable}",
        "trainer.max_iter=6",
        f"data.root={data}",
    ]
    return apply_sets(load_preset(resolve_preset(name)), [*base, "checkpoint.save_iter=3", *sets])


def test_transfer25_run_monitor_checkpoints_and_conversion(tmp_path: Path) -> None:
    import torch

    repo = make_fake_checkout(tmp_path, "cosmos-transfer2.5")
    out = tmp_path / "out"
    preset = _preset(
        "transfer25-singleview-edge",
        repo,
        ["launch.nproc_per_node=2", f"env.output_root={out}", "trainer.logging_iter=3", "replay.nan_at=5"],
    )
    record = start_run(preset, force=True)  # force: preflight wants GPUs for upstream engines
    expected_job = out / "cosmos_transfer2_posttrain" / "local_single_view" / preset.experiment.name
    assert record.job_dir == str(expected_job)
    assert record.versions["engine"] == "1.5.0"
    record = _wait(record.id)
    log = record.console_log.read_text()
    assert record.status == "finished", (record.reason, log[-2000:])

    scan = scan_file(record.console_log)
    assert [(s.iteration, s.phase) for s in scan.samples] == [
        (1, "hit"),
        (2, "hit"),
        (3, "hit"),
        (6, "speed"),
    ]
    assert [s.hit_total for s in scan.samples[:3]] == [3, 3, 3]
    assert len(scan.unstable) == 2 and all("at iteration 5" in u for u in scan.unstable)  # every rank
    assert log.count("DeviceMonitor Stats:") == 2 and "cpu_mem_gb" in log
    assert f"Dataset dataloader_train.sampler.dataset: {tmp_path / 'data'}" in log

    ckpts = scan_checkpoints(expected_job / "checkpoints")
    assert [(c.iteration, c.layout, c.complete, c.is_latest, c.has_ema) for c in ckpts] == [
        (3, "dcp", True, False, True),
        (6, "dcp", True, True, True),
    ]
    # `ckpt convert RUN` finds the run's checkout and runs its own converter.
    done = CliRunner().invoke(app, ["ckpt", "convert", record.id, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["method"] == "upstream-script"
    bf16 = torch.load(ckpts[-1].path / "model_ema_bf16.pt", weights_only=True)
    full = torch.load(ckpts[-1].path / "model.pt", weights_only=True)
    assert set(bf16) == {"net.w", "net.b"} and bf16["net.w"].dtype == torch.bfloat16
    assert torch.equal(bf16["net.w"], full["net_ema.w"].to(torch.bfloat16))
    with pytest.raises(UserError, match="already exists; pass --yes"):
        convert_dcp(ckpts[-1].path, repo=repo, python=sys.executable)


def test_predict1_run_checkpoints_and_inference_placement(tmp_path: Path) -> None:
    import torch

    repo = make_fake_checkout(tmp_path, "cosmos-predict1")
    preset = _preset("predict1-s2mv-text2world", repo, ["launch.nproc_per_node=1"])
    record = _wait(start_run(preset, force=True).id)
    assert record.status == "finished", record.reason
    # OUTPUT_ROOT=checkpoints is relative to the checkout root, where the command runs.
    job = repo / "checkpoints" / "posttraining" / "diffusion_text2world" / preset.experiment.name
    assert record.job_dir == str(job)
    assert "Saved checkpoint (local):" in record.console_log.read_text()
    ckpts = scan_checkpoints(job / "checkpoints")
    assert [(c.iteration, c.layout, c.complete, c.is_latest) for c in ckpts] == [
        (3, "pt", True, False),
        (6, "pt", True, True),
    ]
    ema = job / "checkpoints" / "iter_000000006_ema_model.pt"
    done = CliRunner().invoke(app, ["ckpt", "convert", record.id, "--json"])
    assert done.exit_code == 0, done.output
    plan = json.loads(done.stdout)
    dest = repo / "checkpoints" / "Cosmos-Predict1-7B-SingleToMultiView_post-trained" / "model.pt"
    # The doc's model.pt, and the name the inference script's argparse accepts (same file).
    accepted = dest.parent / "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView" / "t2w_model.pt"
    assert plan["method"] == "place-ema" and plan["outputs"] == [str(dest), str(accepted)]
    assert accepted.samefile(dest)
    placed, source = torch.load(dest, weights_only=True), torch.load(ema, weights_only=True)
    assert placed.keys() == source.keys() and all(torch.equal(placed[k], source[k]) for k in source)
    with pytest.raises(UserError, match="pass --yes"):
        place_p1_ema(job / "checkpoints" / "iter_000000003_ema_model.pt", repo)
    place_p1_ema(job / "checkpoints" / "iter_000000003_ema_model.pt", repo, yes=True)
    assert torch.equal(
        torch.load(dest, weights_only=True)["net.w"],
        torch.load(job / "checkpoints" / "iter_000000003_ema_model.pt", weights_only=True)["net.w"],
    )


def test_host_oom_style_kill_is_reported_as_sigkill(tmp_path: Path) -> None:
    repo = make_fake_checkout(tmp_path, "cosmos-predict2.5")
    preset = _preset(
        "predict25-video2world-nemo",
        repo,
        ["launch.nproc_per_node=1", f"env.output_root={tmp_path / 'out'}", "replay.kill_at=2"],
    )
    record = _wait(start_run(preset, force=True).id)
    assert record.status == "failed"
    assert "SIGKILL" in (record.reason or "") and "-9" in (record.reason or "")
