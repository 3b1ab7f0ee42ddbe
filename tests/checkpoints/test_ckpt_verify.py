"""verify catches a deleted shard, a truncated file, unreadable metadata and unsafe .pt files."""

from __future__ import annotations

from pathlib import Path

from ckpt_writers import write_dcp_checkpoint, write_pt_set

from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.checkpoints.verify import verify_checkpoint


def _verdict(ckpt_dir: Path, deep: bool = False):
    (info,) = scan_checkpoints(ckpt_dir)
    return verify_checkpoint(info, deep=deep)


def test_good_dcp_is_ok(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    v = _verdict(ckpt_dir, deep=True)
    assert v.ok and v.status == "ok" and "ok" in v.message


def test_deleted_shard(ckpt_dir: Path) -> None:
    step = write_dcp_checkpoint(ckpt_dir, 100)
    next((step / "model").glob("*.distcp")).unlink()
    v = _verdict(ckpt_dir)
    assert v.status == "missing-shard" and "model/__0_0.distcp is missing" in v.message


def test_truncated_shard(ckpt_dir: Path) -> None:
    step = write_dcp_checkpoint(ckpt_dir, 100)
    shard = next((step / "model").glob("*.distcp"))
    size = shard.stat().st_size
    with open(shard, "r+b") as f:
        f.truncate(size - 100)
    v = _verdict(ckpt_dir)
    assert v.status == "truncated" and f"the metadata needs {size}" in v.message


def test_corrupt_shard_found_by_deep_check(ckpt_dir: Path) -> None:
    step = write_dcp_checkpoint(ckpt_dir, 100)
    shard = next((step / "model").glob("*.distcp"))
    data = bytearray(shard.read_bytes())
    data[-1200:] = b"\0" * 1200  # same size, garbage content
    shard.write_bytes(bytes(data))
    assert _verdict(ckpt_dir).ok  # sizes still match
    assert _verdict(ckpt_dir, deep=True).status == "truncated"


def test_unreadable_metadata(ckpt_dir: Path) -> None:
    step = write_dcp_checkpoint(ckpt_dir, 100)
    meta = step / "trainer" / ".metadata"
    meta.write_bytes(meta.read_bytes()[:40])
    v = _verdict(ckpt_dir)
    assert v.status == "bad-metadata" and "trainer/.metadata" in v.message


def test_incomplete_and_in_progress(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100, parts=("model",))
    v = _verdict(ckpt_dir)
    assert v.status == "in-progress" and not v.ok and len(v.problems) == 3


def test_pt_sets(ckpt_dir: Path) -> None:
    import torch

    path = write_pt_set(ckpt_dir, 200)
    assert _verdict(ckpt_dir).ok
    reg = ckpt_dir / "iter_000000200_reg_model.pt"
    reg.write_bytes(reg.read_bytes()[:-300])
    assert _verdict(ckpt_dir).status == "truncated"
    write_pt_set(ckpt_dir, 200)
    torch.save({"iteration": 200, "callback": Path("/x")}, path)  # needs arbitrary unpickling
    v = _verdict(ckpt_dir)
    assert v.status == "unsafe" and "not loadable safely" in v.message
