"""Async DCP saves (``checkpoint.async_save=true``) under real 2-rank torchrun on CPU/gloo.

The background writer must produce complete step folders, move the pointer only after them, and
write exactly the state a synchronous save writes (CPU runs are bit-reproducible).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from engine_runs import TINY, engine_env, run, torchrun_cmd
from torch.distributed.checkpoint.format_utils import dcp_to_torch_save


def _train(tmp_path: Path, data: Path, name: str, *extra: str) -> Path:
    overrides = [
        *TINY,
        f"dataloader_train.dataset.dataset_dir={data}",
        "trainer.max_iter=4",
        "checkpoint.save_iter=2",
        f"job.name={name}",
        *extra,
    ]
    proc = run(torchrun_cmd(overrides), engine_env(tmp_path / "out"), timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return tmp_path / "out" / "cosmos_engine" / "s2mv_text2world" / name / "checkpoints"


def _parts(step_dir: Path, tmp_path: Path, tag: str) -> dict[str, dict]:
    out = {}
    for part in ("model", "optim"):
        target = tmp_path / f"{tag}_{part}.pt"
        dcp_to_torch_save(str(step_dir / part), str(target))
        out[part] = torch.load(target, weights_only=False)
    return out


def _flat(obj: object, prefix: str = "") -> dict[str, object]:
    if isinstance(obj, dict):
        items: dict[str, object] = {}
        for key, value in obj.items():
            items.update(_flat(value, f"{prefix}{key}."))
        return items
    return {prefix: obj}


@pytest.mark.timeout(300)
def test_async_saves_are_complete_and_equal_to_sync_saves(tmp_path: Path, waymo_data: Path) -> None:
    async_dir = _train(tmp_path, waymo_data, "async_job", "checkpoint.async_save=true")
    sync_dir = _train(tmp_path, waymo_data, "sync_job")
    assert (async_dir / "latest_checkpoint.txt").read_text() == "iter_000000004\n"
    for iteration in (2, 4):
        step = async_dir / f"iter_{iteration:09d}"
        assert all(
            (step / part / ".metadata").is_file() for part in ("model", "optim", "scheduler", "trainer")
        )
    assert not list(async_dir.glob("*.partial"))
    got = _flat(_parts(async_dir / "iter_000000004", tmp_path, "async"))
    want = _flat(_parts(sync_dir / "iter_000000004", tmp_path, "sync"))
    assert got.keys() == want.keys()
    assert any(k.startswith("model.net_ema.") for k in got)
    for key, value in want.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(got[key], value), key
        else:
            assert got[key] == value, key
