"""Write a state dict to ``.pt`` or ``.safetensors`` one tensor at a time.

Both writers are told every key, dtype and shape up front, lay the file out, and then receive the
tensors one by one in any order, writing each straight to its place with ``pwrite``. Nothing but
the tensor being written is held in memory.

- ``.pt``: the layout comes from torch itself. ``torch.save`` under ``torch.serialization.skip_data()``
  writes the standard zip archive (pickle, records, alignment) but leaves the storage bytes empty;
  the tensors it is given are ``torch.empty`` placeholders whose pages are never touched. The byte
  offset of each storage record is read back from the zip directory, and the real bytes are written
  there. The result loads with ``torch.load(..., weights_only=True, mmap=True)`` like any
  ``torch.save`` file (its data records carry no CRC, exactly as with ``skip_data``).
- ``.safetensors``: the documented format (8-byte header length, JSON header, raw little-endian
  bytes); loads with ``safetensors.torch.load_file``.

Written bytes are handed to the disk as the file grows: once ``WRITEBACK`` bytes are dirty, their
range is queued for writeback (``sync_file_range(SYNC_FILE_RANGE_WRITE)`` on Linux, else
``posix_fadvise(DONTNEED)``, which also starts it), so the disk works while later tensors are read
and the final ``fsync`` only waits for the tail instead of the whole file.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import struct
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cosmos_tui.core.checkpoints.dcp_meta import DTYPE_SIZES

WRITEBACK = 32 << 20
"""Dirty bytes of one file after which their writeback is started."""
_SYNC_FILE_RANGE_WRITE = 2

_SAFETENSORS_DTYPES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
}


def _tensor_bytes(tensor) -> memoryview:
    import torch  # deferred: torch

    flat = tensor.detach().contiguous().reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.view(torch.uint8)
    return memoryview(flat.view(torch.uint8).numpy())


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing ``fd[offset:offset + length]`` to disk, without waiting."""
    fn = _sync_file_range()
    if fn is not None and fn(fd, offset, length, _SYNC_FILE_RANGE_WRITE) == 0:
        return
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], offset + done)


class StreamWriter:
    """Common part: an open file, the planned byte offset of each key, and progress counters."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offsets: dict[str, int] = {}
        self.sizes: dict[str, int] = {}
        self.bytes_written = 0
        self._fd: int | None = None
        self._pending: set[str] = set()
        self._dirty: tuple[int, int] | None = None  # byte range written since the last writeback

    def write(self, key: str, tensor) -> None:
        """Write ``tensor`` (already in its planned dtype and shape) as ``key``."""
        data = _tensor_bytes(tensor)
        if len(data) != self.sizes[key]:
            raise ValueError(f"{key}: {len(data)} bytes, planned {self.sizes[key]}")
        assert self._fd is not None
        offset = self.offsets[key]
        _pwrite_all(self._fd, data, offset)
        self.bytes_written += len(data)
        self._pending.discard(key)
        lo, hi = (offset, offset + len(data)) if self._dirty is None else self._dirty
        lo, hi = min(lo, offset), max(hi, offset + len(data))
        if hi - lo >= WRITEBACK:
            start_writeback(self._fd, lo, hi - lo)
            self._dirty = None
        else:
            self._dirty = (lo, hi)

    def close(self, *, sync: bool = True) -> None:
        """Flush to disk (fsync) and close; raises if a planned tensor was never written."""
        if self._fd is None:
            return
        try:
            if self._pending and sync:
                raise ValueError(
                    f"{len(self._pending)} tensors were never written, e.g. {min(self._pending)}"
                )
            if sync:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None


class PtStreamWriter(StreamWriter):
    """A ``torch.save``-format file written tensor by tensor."""

    def __init__(self, path: Path, plan: Iterable[tuple[str, str, tuple[int, ...]]], extras: dict[str, Any]):
        """``plan``: ``(key, dtype name, shape)`` for every tensor, in file order; ``extras``: small
        non-tensor values (ints, strings) stored as they are."""
        import torch  # deferred: torch

        super().__init__(path)
        plan = list(plan)
        skeleton: dict[str, Any] = {}
        for key, dtype, shape in plan:
            skeleton[key] = torch.empty(shape, dtype=getattr(torch, dtype))  # pages never touched
            self.sizes[key] = skeleton[key].numel() * skeleton[key].element_size()
        skeleton.update(extras)
        with torch.serialization.skip_data():
            torch.save(skeleton, self.path)
        del skeleton
        records = _zip_data_offsets(self.path)
        # torch.save numbers storages in the order the pickler meets them: dict insertion order.
        for index, (key, _, _) in enumerate(plan):
            self.offsets[key] = records[str(index)]
        self._pending = set(self.sizes)
        self._fd = os.open(self.path, os.O_WRONLY)


def _zip_data_offsets(path: Path) -> dict[str, int]:
    """Byte offset of each ``<archive>/data/<n>`` record's data in a torch zip file."""
    out: dict[str, int] = {}
    with open(path, "rb") as f, zipfile.ZipFile(f) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if len(parts) == 3 and parts[1] == "data":
                f.seek(info.header_offset)
                header = f.read(30)
                name_len, extra_len = struct.unpack("<HH", header[26:30])
                out[parts[2]] = info.header_offset + 30 + name_len + extra_len
    return out


class SafetensorsStreamWriter(StreamWriter):
    """A ``.safetensors`` file written tensor by tensor."""

    def __init__(
        self, path: Path, plan: Iterable[tuple[str, str, tuple[int, ...]]], metadata: dict[str, str]
    ):
        """``plan``: ``(key, dtype name, shape)`` for every tensor; ``metadata``: string pairs for
        the header's ``__metadata__``."""

        super().__init__(path)
        header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
        pos = 0
        for key, dtype, shape in plan:
            if dtype not in _SAFETENSORS_DTYPES:
                raise ValueError(f"{key}: dtype {dtype} has no safetensors equivalent")
            n = DTYPE_SIZES[dtype]
            for d in shape:
                n *= d
            header[key] = {
                "dtype": _SAFETENSORS_DTYPES[dtype],
                "shape": list(shape),
                "data_offsets": [pos, pos + n],
            }
            self.sizes[key] = n
            self.offsets[key] = pos
            pos += n
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # align the data section to 8 bytes
        base = 8 + len(raw)
        self.offsets = {k: v + base for k, v in self.offsets.items()}
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        _pwrite_all(self._fd, memoryview(struct.pack("<Q", len(raw)) + raw), 0)
        os.ftruncate(self._fd, base + pos)
        self._pending = set(self.sizes)
