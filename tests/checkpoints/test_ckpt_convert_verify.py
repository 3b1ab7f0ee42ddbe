"""``ckpt convert --verify`` on an upstream (Predict1 ``.pt``) job: the tensor-level check, since
the upstream sampler needs the 7B model on a GPU. The placed EMA file loads with tensors only,
holds finite values, and differs from ``--base`` (the starting weights); a conversion that placed
the base itself, a file with NaNs and a foreign file are each told apart. The builtin engine's
sample-level check of the same command is in tests/samples/test_samples_learning.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ckpt_writers import tiny_state, write_pt_set
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.sampling.exportcheck import compare_tensors_with_base

runner = CliRunner()


@pytest.fixture
def p1_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    repo = tmp_path / "cosmos-predict1"
    (repo / "cosmos_predict1").mkdir(parents=True)
    return repo


def _convert(ckpt_dir: Path, repo: Path, *extra: str):
    return runner.invoke(app, ["ckpt", "convert", str(ckpt_dir), "--repo", str(repo), "--verify", *extra])


def test_a_trained_conversion_differs_from_the_base(
    ckpt_dir: Path, p1_checkout: Path, tmp_path: Path
) -> None:
    write_pt_set(ckpt_dir, 30)
    base = tmp_path / "base.pt"
    torch.save({"model": tiny_state(0, ema=False)}, base)  # nested and unprefixed: keys still match
    res = _convert(ckpt_dir, p1_checkout, "--base", str(base), "--json")
    assert res.exit_code == 0, res.output
    checks = json.loads(res.stdout)["verify"]  # model.pt and the name the inference script takes
    assert len(checks) == 2 and len({c["file"] for c in checks}) == 2
    for check in checks:
        assert check["loads"] and check["identical"] is False and check["max_abs_diff"] > 0
        assert check["by"] == "weights" and check["tensors"] == 4


def test_a_conversion_identical_to_the_base_did_not_take(
    ckpt_dir: Path, p1_checkout: Path, tmp_path: Path
) -> None:
    write_pt_set(ckpt_dir, 30)
    ema = ckpt_dir / "iter_000000030_ema_model.pt"
    res = _convert(ckpt_dir, p1_checkout, "--base", str(ema))
    assert res.exit_code == 1, res.output
    assert "holds exactly the tensors of the base weights" in res.output and "did not take" in res.output


def test_without_base_it_says_how_to_compare(ckpt_dir: Path, p1_checkout: Path) -> None:
    write_pt_set(ckpt_dir, 30)
    res = _convert(ckpt_dir, p1_checkout)
    assert res.exit_code == 0, res.output
    assert "all finite" in res.output and "pass --base FILE" in res.output


def test_nan_foreign_and_unshared_files_are_told_apart(tmp_path: Path) -> None:
    base = tmp_path / "base.pt"
    torch.save({"net.w": torch.ones(4), "net.b": torch.zeros(2)}, base)
    nan = tmp_path / "nan.pt"
    torch.save({"net.w": torch.tensor([1.0, float("nan"), 1.0, 1.0]), "net.b": torch.zeros(2)}, nan)
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(b"not a checkpoint")
    pickled = tmp_path / "pickled.pt"
    torch.save({"net.w": torch.ones(4), "obj": Path("x")}, pickled)  # weights_only refuses the object
    other = tmp_path / "other.pt"
    torch.save({"head.x": torch.ones(3), "head.y": torch.ones(3), "net.w": torch.ones(4)}, other)
    checks = compare_tensors_with_base([nan, foreign, pickled, other], base)
    assert [c.loads for c in checks] == [True, False, False, True]
    assert not any(c.ok for c in checks)
    assert "non-finite values in 1 tensor(s), e.g. net.w" in checks[0].message
    assert "does not load" in checks[1].message and "foreign.pt" in checks[1].message
    assert "shares only 1 of its 3 tensors" in checks[3].message


def test_base_and_verify_usage(ckpt_dir: Path, p1_checkout: Path, tmp_path: Path) -> None:
    write_pt_set(ckpt_dir, 30)
    res = runner.invoke(app, ["ckpt", "convert", str(ckpt_dir), "--repo", str(p1_checkout), "--base", "x.pt"])
    assert res.exit_code == 2 and "add --verify" in res.output
    res = _convert(ckpt_dir, p1_checkout, "--base", str(tmp_path / "missing.pt"))
    assert res.exit_code == 2 and "is not a file" in res.output
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 64)
    res = _convert(ckpt_dir, p1_checkout, "--base", str(bad), "--yes")
    assert res.exit_code == 1 and "does not load as weights" in res.output and "Traceback" not in res.output
