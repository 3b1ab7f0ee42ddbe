"""Export's direct read of DCP chunk bytes: which chunks it proves, what it refuses, and that the
files it writes hold exactly the saved tensors."""

from __future__ import annotations

import io
import os
import pickle
import threading
import zipfile
from pathlib import Path

import pytest
from ckpt_writers import write_dcp_checkpoint

from cosmos_tui.core.checkpoints import stream_write
from cosmos_tui.core.checkpoints.dcp_meta import ChunkRef, read_dcp_metadata
from cosmos_tui.core.checkpoints.dcp_raw import BufferPool, RawTensorReader, raw_span
from cosmos_tui.core.checkpoints.export import export_checkpoint, find_checkpoint
from cosmos_tui.core.checkpoints.scan import scan_checkpoints


def _mixed_state() -> dict:
    import torch

    g = torch.Generator().manual_seed(5)
    return {
        "net.w": torch.randn(64, 33, generator=g),
        "net.half": torch.randn(7, 5, generator=g).to(torch.float16),
        "net.bf": torch.randn(3, 4, 5, generator=g).to(torch.bfloat16),
        "net.idx": torch.arange(-5, 12, dtype=torch.int64),
        "net.mask": torch.rand(9, generator=g) > 0.5,
        "net.scalar": torch.tensor(2.5),
        "net.empty": torch.zeros(0, 4),
        "net.single": torch.randn(1, 1, 6, generator=g),
        # A transposed view whose storage is exactly its size: DCP saves it as it is, with
        # column-major strides, so its bytes are not in row-major order.
        "net.transposed": torch.randn(6, 10, generator=g).t(),
        "net_ema.w": torch.randn(64, 33, generator=g),
    }


def test_raw_reads_prove_contiguous_chunks_and_refuse_strided_ones(ckpt_dir: Path) -> None:
    import torch

    state = _mixed_state()
    step = write_dcp_checkpoint(ckpt_dir, 100, state, parts=("model",))
    meta = read_dcp_metadata(step / "model")
    reader = RawTensorReader(step / "model", BufferPool())
    try:
        for fqn, entry in meta.tensors.items():
            fd = reader._fd(entry.chunks[0].file)
            span = raw_span(fd, entry.chunks[0], entry.dtype)
            assert (span is None) == (fqn == "net.transposed"), fqn
            before = reader.fallback_chunks
            tensor, buf = reader.read(entry)
            assert tensor.dtype == state[fqn].dtype and torch.equal(tensor, state[fqn]), fqn
            assert reader.fallback_chunks - before == (fqn == "net.transposed")
            reader.pool.release(buf)
    finally:
        reader.close()


def _blob(pkl: bytes, data: bytes, byteorder: bytes = b"little") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", byteorder)
        zf.writestr("archive/data/0", data)
    return out.getvalue()


def _tensor_pickle(size: tuple[int, ...], stride: tuple[int, ...]) -> bytes:
    """The ``data.pkl`` torch.save writes for a float32 tensor of this shape and strides."""
    import torch

    ref = io.BytesIO()
    torch.save(torch.empty_strided(size, stride, dtype=torch.float32), ref)
    with zipfile.ZipFile(io.BytesIO(ref.getvalue())) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))


def _write(tmp_path: Path, blob: bytes) -> tuple[int, ChunkRef]:
    path = tmp_path / "__0_0.distcp"
    path.write_bytes(b"x" * 100 + blob)
    fd = os.open(path, os.O_RDONLY)
    return fd, ChunkRef((0, 0), (3, 4), path.name, 100, len(blob))


def test_raw_span_refuses_what_it_cannot_prove(tmp_path: Path) -> None:
    good = _tensor_pickle((3, 4), (4, 1))
    cases = {
        "valid": (_blob(good, b"\0" * 48), True),
        "column-major": (_blob(_tensor_pickle((3, 4), (1, 3)), b"\0" * 48), False),
        "big-endian": (_blob(good, b"\0" * 48, b"big"), False),
        "short data": (_blob(good, b"\0" * 40), False),
        "not a zip": (b"\0" * 47, False),
    }
    for label, (blob, ok) in cases.items():
        fd, chunk = _write(tmp_path, blob)
        try:
            span = raw_span(fd, chunk, "float32")
            assert (span is not None) == ok, label
            if ok:
                assert span is not None and os.pread(fd, span[1], span[0]) == b"\0" * 48
        finally:
            os.close(fd)
    fd, chunk = _write(tmp_path, _blob(good, b"\0" * 48))
    try:
        assert raw_span(fd, chunk, "bfloat16") is None  # a dtype other than the one saved
    finally:
        os.close(fd)


def test_raw_span_never_runs_code_from_the_file(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple:
            return (os.mkdir, (str(marker),))

    fd, chunk = _write(tmp_path, _blob(pickle.dumps(Evil(), protocol=2), b"\0" * 48))
    try:
        assert raw_span(fd, chunk, "float32") is None
    finally:
        os.close(fd)
    assert not marker.exists()


def test_export_of_mixed_dtypes_is_exact_with_early_writeback(
    ckpt_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setattr(stream_write, "WRITEBACK", 1)  # start writeback after every tensor
    state = _mixed_state()
    write_dcp_checkpoint(ckpt_dir, 200, state)
    info = find_checkpoint(scan_checkpoints(ckpt_dir), None)
    export_checkpoint(info, tmp_path / "out", ema=False)
    loaded = torch.load(tmp_path / "out" / "model.pt", map_location="cpu", weights_only=True)
    assert set(loaded) == set(state)
    for k, v in state.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape and torch.equal(loaded[k], v), k


def test_failed_write_stops_the_reader_and_leaves_no_partial_files(
    ckpt_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    state = {f"net.b{i}": torch.full((256, 64), float(i)) for i in range(12)}
    state.update({k.replace("net.", "net_ema.", 1): v for k, v in state.items()})
    write_dcp_checkpoint(ckpt_dir, 300, state)
    info = find_checkpoint(scan_checkpoints(ckpt_dir), None)
    real = stream_write._pwrite_all
    calls = []

    def disk_full_after_two(fd: int, data: memoryview, offset: int) -> None:
        calls.append(offset)
        if len(calls) > 2:
            raise OSError(28, "No space left on device")
        real(fd, data, offset)

    monkeypatch.setattr(stream_write, "_pwrite_all", disk_full_after_two)
    with pytest.raises(OSError, match="No space left"):
        export_checkpoint(info, tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())
    assert not [t for t in threading.enumerate() if t.name == "ckpt-export-reader"]


def test_export_reuses_a_bounded_set_of_buffers(
    ckpt_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from cosmos_tui.core.checkpoints import dcp_raw, export

    pools: list[dcp_raw.BufferPool] = []

    class CountingBufferPool(dcp_raw.BufferPool):
        def __init__(self) -> None:
            super().__init__()
            pools.append(self)

    monkeypatch.setattr(dcp_raw, "BufferPool", CountingBufferPool)
    state = {f"net.b{i}": torch.full((128, 32), float(i)) for i in range(16)}
    state.update({k.replace("net.", "net_ema.", 1): v * 2 for k, v in state.items()})
    write_dcp_checkpoint(ckpt_dir, 400, state)
    result = export_checkpoint(find_checkpoint(scan_checkpoints(ckpt_dir), None), tmp_path / "out")
    assert len(pools) == 1 and 1 <= pools[0].allocated <= export.PREFETCH + 2
    ema = torch.load(result.files[1], map_location="cpu", weights_only=True)
    assert all(torch.equal(ema[f"net.b{i}"], torch.full((128, 32), 2.0 * i)) for i in range(16))
