"""Is it learning? Samples from a trained tiny job are closer to the synthetic data's rule than
samples from its initial weights with the same seeds; and ``ckpt export --verify`` tells an export
that took from one that did not, and from a file that does not load.

The synthetic clips follow a known rule (:func:`cosmos_tui.core.datasets.paint.render_frames`):
a tinted, striped background with a coloured square. The metric is the error of each sampled
frame's mean colour, per view and channel, against the rule's frame the sample is conditioned
on (the first window of the first clip, views 0 and 1), in 8-bit levels. Noise (what the initial
weights give: the output layer starts at zero, so the velocity is zero) sits at mid-grey, far
from the rule's colours; a model that learned anything moves towards them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cosmos_engine.video import read_frames
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.datasets import paint
from cosmos_tui.core.sampling.exportcheck import compare_with_base

pytestmark = pytest.mark.slow
runner = CliRunner()
SEEDS = "0,1"


def colour_error(video: Path, frames: int, size: tuple[int, int], views: int) -> float:
    """Mean |sampled - rule| frame mean colour over views, frames and channels (8-bit levels)."""
    h, w = size
    got = read_frames(video, 0, frames, (h, w * views)).astype(np.float64)
    scene = paint.make_scene(0, 0)  # synth seed 0, clip_0000: what the sample is conditioned on
    errors = []
    for v in range(views):
        rule = paint.render_frames(scene, v, frames, size, "rgb").astype(np.float64)
        sampled = got[:, :, v * w : (v + 1) * w]
        errors.append(np.abs(sampled.mean(axis=(1, 2)) - rule.mean(axis=(1, 2))).mean())
    return float(np.mean(errors))


def test_trained_samples_are_closer_to_the_data_than_base_samples(trained_job: Path) -> None:
    argv = ["samples", str(trained_job), "--iter", "latest", "--base", "--no-ema", "--seeds", SEEDS]
    result = runner.invoke(app, [*argv, "--steps", "6", "--wait", "--json"])
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["status"] == "finished" and job["targets"] == ["iter_000000016", "base"]
    assert Path(job["log"]).is_file() and "Wrote 2 sample(s)" in Path(job["log"]).read_text()
    scores: dict[str, list[float]] = {}
    for target in job["targets"]:
        folder = trained_job / "samples" / target
        index = json.loads((folder / "index.json").read_text())
        assert index["ema"] is False and index["steps"] == 6 and index["engine"] == "cosmos_engine"
        assert [s["seed"] for s in index["samples"]] == [0, 1]
        for sample in index["samples"]:
            assert (folder / sample["contact_sheet"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            scores.setdefault(target, []).append(colour_error(folder / sample["video"], 8, (64, 96), 2))
    trained, base = np.mean(scores["iter_000000016"]), np.mean(scores["base"])
    print(f"colour error vs the synthetic rule: trained {trained:.2f}, base {base:.2f} (8-bit levels)")
    assert trained < 0.5 * base, scores


def test_export_verify_passes_a_trained_export(trained_job: Path, tmp_path: Path) -> None:
    out = trained_job / "export"
    result = runner.invoke(app, ["ckpt", "export", str(trained_job), "--out", str(out), "--verify", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.output.count("loads and differs from the base weights") == 3


def test_export_verify_flags_an_export_identical_to_the_base(untouched_job: Path) -> None:
    out = untouched_job / "export"
    result = runner.invoke(
        app, ["ckpt", "export", str(untouched_job), "--out", str(out), "--verify", "--json"]
    )
    assert result.exit_code == 1, result.output
    checks = json.loads(result.stdout)["verify"]
    assert len(checks) == 3 and all(c["loads"] and c["identical"] for c in checks)
    result = runner.invoke(
        app, ["ckpt", "export", str(untouched_job), "--out", str(out), "--verify", "--yes"]
    )
    assert "did not take" in result.output and result.exit_code == 1


def test_export_verify_says_when_a_file_does_not_load(trained_job: Path, tmp_path: Path) -> None:
    good = trained_job / "export-bad" / "model_ema_fp32.pt"
    result = runner.invoke(app, ["ckpt", "export", str(trained_job), "--out", str(good.parent), "--no-full"])
    assert result.exit_code == 0, result.output
    truncated = good.with_name("truncated.pt")
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (good.parent / "foreign.pt").write_bytes(b"not a checkpoint at all")
    checks = compare_with_base(trained_job, [truncated, good.parent / "foreign.pt", good], "builtin")
    assert checks is not None
    assert [c.loads for c in checks] == [False, False, True]
    assert "does not load" in checks[0].message and "truncated.pt" in checks[0].message
    assert checks[2].ok


def test_convert_verify_samples_a_builtin_conversion(trained_job: Path, untouched_job: Path) -> None:
    """``ckpt convert --verify`` on builtin jobs: the same sample-level check as export's, on the
    files convert places beside the step folder."""
    result = runner.invoke(app, ["ckpt", "convert", str(trained_job), "--verify", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.output.count("loads and differs from the base weights") == 3
    result = runner.invoke(app, ["ckpt", "convert", str(untouched_job), "--verify", "--yes", "--json"])
    assert result.exit_code == 1, result.output
    checks = json.loads(result.stdout)["verify"]
    assert len(checks) == 3 and all(c["identical"] and c["by"] == "sample" for c in checks)
