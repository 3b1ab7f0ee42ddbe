"""scan_checkpoints on real DCP saves and Predict1 .pt sets."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ckpt_writers import tiny_state, write_dcp_checkpoint, write_pt_set

from cosmos_tui.core.checkpoints.dcp_meta import MetadataError, read_dcp_metadata
from cosmos_tui.core.checkpoints.pins import read_pins, set_pinned
from cosmos_tui.core.checkpoints.scan import latest_complete, scan_checkpoints
from cosmos_tui.core.errors import UserError


def test_dcp_checkpoints_complete_latest_ema(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    write_dcp_checkpoint(ckpt_dir, 200, tiny_state(2, ema=False))
    # a save that died after the model part: no optim/scheduler/trainer metadata
    write_dcp_checkpoint(ckpt_dir, 300, parts=("model",), latest=False)

    found = scan_checkpoints(ckpt_dir)
    assert [c.iteration for c in found] == [100, 200, 300]
    assert [c.complete for c in found] == [True, True, False]
    assert [c.is_latest for c in found] == [False, True, False]
    assert [c.has_ema for c in found] == [True, False, True]
    assert all(c.layout == "dcp" and c.size_bytes > 0 and c.mtime > 0 for c in found)
    assert found[0].path == ckpt_dir / "iter_000000100"
    assert latest_complete(found).iteration == 200


def test_metadata_tmp_alone_is_incomplete(ckpt_dir: Path) -> None:
    step = write_dcp_checkpoint(ckpt_dir, 100)
    (step / "optim" / ".metadata").rename(step / "optim" / ".metadata.tmp")
    (info,) = scan_checkpoints(ckpt_dir)
    assert not info.complete


def test_pt_sets(ckpt_dir: Path) -> None:
    write_pt_set(ckpt_dir, 200)
    write_pt_set(ckpt_dir, 400, ema=False)
    write_pt_set(ckpt_dir, 600, latest=False)
    (ckpt_dir / "iter_000000600_optim.pt").unlink()  # never finished

    found = scan_checkpoints(ckpt_dir)
    assert [(c.iteration, c.layout) for c in found] == [(200, "pt"), (400, "pt"), (600, "pt")]
    assert [c.complete for c in found] == [True, True, False]
    assert [c.has_ema for c in found] == [True, False, True]
    assert [c.is_latest for c in found] == [False, True, False]
    assert found[0].path == ckpt_dir / "iter_000000200.pt"
    assert found[0].size_bytes == sum(p.stat().st_size for p in ckpt_dir.glob("iter_000000200*.pt"))


def test_pins_roundtrip_and_show_in_scan(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    write_pt_set(ckpt_dir, 200)
    assert read_pins(ckpt_dir) == frozenset()
    set_pinned(ckpt_dir, 100, True)
    set_pinned(ckpt_dir, 200, True)
    set_pinned(ckpt_dir, 200, False)
    assert [c.pinned for c in scan_checkpoints(ckpt_dir)] == [True, False]
    (ckpt_dir / ".cosmos-tui-pins.json").write_text("{not json")
    with pytest.raises(UserError, match="pin file"):
        scan_checkpoints(ckpt_dir)


def test_missing_dir_is_empty(tmp_path: Path) -> None:
    assert scan_checkpoints(tmp_path / "nope") == []


def test_metadata_reader_refuses_foreign_pickles(tmp_path: Path) -> None:
    import pickle

    part = tmp_path / "model"
    part.mkdir()
    (part / ".metadata").write_bytes(pickle.dumps(shutil.rmtree))
    with pytest.raises(MetadataError, match="unexpected object"):
        read_dcp_metadata(part)
    (part / ".metadata").write_bytes(b"\x80\x04garbage")
    with pytest.raises(MetadataError):
        read_dcp_metadata(part)


def test_metadata_reader_matches_torch(ckpt_dir: Path) -> None:
    from torch.distributed.checkpoint import FileSystemReader

    step = write_dcp_checkpoint(ckpt_dir, 100)
    ours = read_dcp_metadata(step / "model")
    theirs = FileSystemReader(str(step / "model")).read_metadata()
    assert set(ours.tensors) == set(theirs.state_dict_metadata)
    for fqn, entry in ours.tensors.items():
        md = theirs.state_dict_metadata[fqn]
        assert entry.size == tuple(md.size)
        assert entry.dtype == str(md.properties.dtype).removeprefix("torch.")
        for chunk in entry.chunks:
            info = next(v for k, v in theirs.storage_data.items() if k.fqn == fqn)
            assert (chunk.file, chunk.offset, chunk.length) == (info.relative_path, info.offset, info.length)


def test_listing_does_not_import_torch(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    code = (
        "import sys\nfrom cosmos_tui.core.checkpoints.scan import scan_checkpoints\n"
        f"c = scan_checkpoints({str(ckpt_dir)!r})\nassert c[0].has_ema and c[0].complete\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"
