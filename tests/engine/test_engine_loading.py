"""Initial weights and error paths of the engine as a plain process (the same FSDP2/DCP code on a
one-rank gloo group): consolidated ``.pt`` and DCP ``load_path``, corrupt clips, missing data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from cosmos_engine.train import main
from engine_runs import TINY, engine_env, metrics, python_cmd, run

pytestmark = pytest.mark.slow


def _job(root: Path, name: str) -> Path:
    return root / "cosmos_engine" / "s2mv_text2world" / name


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, waymo_data: Path) -> dict:
    """A 2-iteration job trained on a copy of the dataset where one clip is corrupt."""
    base = tmp_path_factory.mktemp("loading")
    data = base / "waymo"
    shutil.copytree(waymo_data, data)
    (data / "videos" / "pinhole_front" / "clip_0001.mp4").write_bytes(b"\x00\x01broken" * 64)
    root = base / "out"
    args = [
        *TINY,
        f"dataloader_train.dataset.dataset_dir={data}",
        "trainer.max_iter=2",
        "checkpoint.save_iter=2",
    ]
    proc = run(python_cmd([*args, "job.name=source", "checkpoint.export_pt=true"]), engine_env(root))
    return {"root": root, "data": data, "args": args, "proc": proc}


def test_a_corrupt_clip_is_skipped_with_a_warning_not_a_crash(source: dict) -> None:
    proc = source["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "|WARNING|cosmos_engine/datasets.py:" in proc.stdout
    assert "Skipping clip clip_0001: cannot decode it" in proc.stdout
    assert [r["iteration"] for r in metrics(_job(source["root"], "source"))] == [1, 2]


def test_a_consolidated_pt_loads_before_sharding(source: dict) -> None:
    ema_file = _job(source["root"], "source") / "export" / "iter_000000002_ema_model.pt"
    args = [
        *source["args"],
        "job.name=frompt",
        "trainer.max_iter=1",
        "optimizer.lr=0.0",
        "checkpoint.export_pt=true",
    ]
    proc = run(python_cmd([*args, f"checkpoint.load_path={ema_file}"]), engine_env(source["root"]))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Loaded consolidated checkpoint {ema_file}" in proc.stdout
    loaded = torch.load(ema_file, weights_only=True)
    after = torch.load(
        _job(source["root"], "frompt") / "export" / "iter_000000001_reg_model.pt", weights_only=True
    )
    assert loaded.keys() == after.keys()
    assert all(torch.equal(loaded[k], after[k]) for k in loaded)  # lr 0: the weights are exactly the file's


def test_a_pt_that_does_not_fit_is_one_clear_error(source: dict) -> None:
    ema_file = _job(source["root"], "source") / "export" / "iter_000000002_ema_model.pt"
    args = [*source["args"], "job.name=misfit", "model.hidden=32", f"checkpoint.load_path={ema_file}"]
    proc = run(python_cmd(args), engine_env(source["root"]))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("error: ")
        and "does not fit this experiment's model" in lines[0]
    )
    assert "Traceback" not in proc.stderr


def test_a_dcp_load_path_loads_the_model_only_unless_asked_for_training_state(source: dict) -> None:
    step = _job(source["root"], "source") / "checkpoints" / "iter_000000002"
    base = [*source["args"], "trainer.max_iter=3", f"checkpoint.load_path={step}"]
    weights = run(
        python_cmd([*base, "job.name=dcp_model", "trainer.grad_accum_iter=2"]), engine_env(source["root"])
    )
    assert weights.returncode == 0, weights.stderr[-3000:]
    assert f"Loaded model from {step}" in weights.stdout
    records = metrics(_job(source["root"], "dcp_model"))
    assert [r["iteration"] for r in records] == [1, 2, 3]
    assert records[-1]["sample_counter"] == 3 * 2  # two micro-batches per optimizer step
    full = run(
        python_cmd(
            [
                *base,
                "job.name=dcp_all",
                "checkpoint.load_training_state=true",
                "dataloader_train.num_workers=1",
            ]
        ),
        engine_env(source["root"]),
    )
    assert full.returncode == 0, full.stderr[-3000:]
    assert [r["iteration"] for r in metrics(_job(source["root"], "dcp_all"))] == [3]


def test_missing_data_is_one_clear_error(tmp_path: Path, capsys) -> None:
    args = [*TINY, f"dataloader_train.dataset.dataset_dir={tmp_path / 'nope'}"]
    assert main(["--", *args]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: dataset folder {tmp_path / 'nope'} does not exist; "
        "set dataloader_train.dataset.dataset_dir to a dataset folder "
        "(see the layouts in the docs, or make one with `cosmos-tui data synth`)."
    ]
