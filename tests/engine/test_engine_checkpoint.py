"""Checkpoint rules on a one-rank gloo group in this process: a complete step folder is never
written twice, resume picks the newest complete one, pruning keeps pins and the pointer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from cosmos_engine import checkpoint as ckpt
from cosmos_engine.compose import compose_config
from cosmos_engine.model import VideoDiT
from cosmos_engine.parallel import DiffusionModel, init_distributed, shard


@pytest.fixture
def sharded(monkeypatch: pytest.MonkeyPatch):
    for var in ("MASTER_ADDR", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    d = init_distributed()
    torch.manual_seed(0)
    cfg = compose_config(["experiment=s2mv_text2world_tiny", "model.depth=1", "model.hidden=32"])
    net = VideoDiT(cfg.model)
    model = shard(DiffusionModel(net, VideoDiT(cfg.model)), d.device, bf16=False)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    yield model, opt
    dist.destroy_process_group()


def _fake_complete(ckpts: Path, iteration: int) -> None:
    for part in ckpt.PARTS:
        folder = ckpts / ckpt.step_name(iteration) / part
        folder.mkdir(parents=True)
        (folder / ".metadata").write_bytes(b"x")


def test_a_complete_step_folder_is_never_written_twice(tmp_path: Path, sharded) -> None:
    model, opt = sharded
    assert ckpt.save(tmp_path, 3, model, opt, {"last_epoch": 3}, rank=0)
    assert ckpt.is_complete(tmp_path / "iter_000000003")
    assert (tmp_path / "latest_checkpoint.txt").read_text() == "iter_000000003\n"
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "iter_000000003").rglob("*")}
    assert not ckpt.save(tmp_path, 3, model, opt, {"last_epoch": 3}, rank=0)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "iter_000000003").rglob("*")} == before
    state = ckpt.load_parts(tmp_path / "iter_000000003", model, opt, ("scheduler", "trainer"))
    assert state["trainer"]["iteration"] == 3 and state["scheduler"]["last_epoch"] == 3


def test_an_incomplete_foreign_step_folder_is_moved_aside_not_overwritten(tmp_path: Path, sharded) -> None:
    model, opt = sharded
    stale = tmp_path / "iter_000000005" / "model"
    stale.mkdir(parents=True)
    (stale / "note").write_text("someone else's")
    assert ckpt.save(tmp_path, 5, model, opt, {"last_epoch": 5}, rank=0)
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("iter_000000005.incomplete-")]
    assert len(aside) == 1 and (aside[0] / "model" / "note").read_text() == "someone else's"
    assert ckpt.is_complete(tmp_path / "iter_000000005")


def test_resume_uses_the_pointer_or_else_the_newest_complete(tmp_path: Path) -> None:
    assert ckpt.latest_iteration(tmp_path) is None
    _fake_complete(tmp_path, 2)
    _fake_complete(tmp_path, 4)
    (tmp_path / "iter_000000006" / "model").mkdir(parents=True)  # incomplete
    assert ckpt.latest_iteration(tmp_path) == 4
    (tmp_path / "latest_checkpoint.txt").write_text("iter_000000002\n")
    assert ckpt.latest_iteration(tmp_path) == 2
    (tmp_path / "latest_checkpoint.txt").write_text("iter_000000006\n")
    assert ckpt.latest_iteration(tmp_path) == 4


def test_keep_last_n_spares_pins_and_the_pointer(tmp_path: Path) -> None:
    for it in (1, 2, 3, 4, 5):
        _fake_complete(tmp_path, it)
    (tmp_path / "latest_checkpoint.txt").write_text("iter_000000005\n")
    (tmp_path / ckpt.PINS_FILE).write_text(json.dumps({"pinned": [2]}))
    assert ckpt.prune(tmp_path, 0) == []
    assert ckpt.prune(tmp_path, 2) == [1, 3]
    assert ckpt.complete_iterations(tmp_path) == [2, 4, 5]


def test_keep_last_n_removes_a_linked_in_checkpoint_as_a_link(tmp_path: Path) -> None:
    ckpt_dir, elsewhere = tmp_path / "checkpoints", tmp_path / "archive"
    _fake_complete(elsewhere, 1)
    ckpt_dir.mkdir()
    (ckpt_dir / "iter_000000001").symlink_to(elsewhere / "iter_000000001")
    for it in (2, 3):
        _fake_complete(ckpt_dir, it)
    assert ckpt.prune(ckpt_dir, 2) == [1]  # shutil.rmtree refused the link and crashed the run
    assert not os.path.lexists(ckpt_dir / "iter_000000001")
    assert ckpt.is_complete(elsewhere / "iter_000000001")  # the archived checkpoint is untouched


def test_keep_last_n_spares_what_a_live_reader_leases(tmp_path: Path) -> None:
    """Reader leases (``.cosmos-tui-readers/<pid>.json``, written by the manager's samples jobs and
    by the trainer for its background sampler): a live process's iterations are kept; a dead
    one's, or one whose pid was reused by another process, are pruned and the lease removed."""
    import subprocess
    import sys

    from cosmos_tui.core.checkpoints.leases import leased_iterations, write_lease

    for it in (1, 2, 3, 4):
        _fake_complete(tmp_path, it)
    (tmp_path / "latest_checkpoint.txt").write_text("iter_000000004\n")
    reader = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ckpt.write_lease(tmp_path, reader.pid, [1])  # the engine's writer
        write_lease(tmp_path, [2], pid=os.getpid())  # the manager's writer, same contract
        assert leased_iterations(tmp_path) == {1: reader.pid, 2: os.getpid()}
        assert ckpt.leased_iterations(tmp_path) == {1, 2}
        reused = tmp_path / ckpt.READERS_DIR / "99.json"  # this pid, another process's start time
        reused.write_text(json.dumps({"pid": os.getpid(), "started": "1", "iterations": [3]}))
        (tmp_path / ckpt.READERS_DIR / "junk.json").write_text("{not json")
        assert ckpt.prune(tmp_path, 1) == [3]
        assert not reused.exists()
    finally:
        reader.kill()
        reader.wait()
    assert ckpt.prune(tmp_path, 1) == [1]  # the reader ended: its lease no longer counts
    assert not (tmp_path / ckpt.READERS_DIR / f"{reader.pid}.json").exists()
    write_lease(tmp_path, [], pid=os.getpid())
    assert ckpt.prune(tmp_path, 1) == [2]
