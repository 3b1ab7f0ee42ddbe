"""Find where a DCP chunk's tensor bytes lie in its ``.distcp`` file, so they can be read straight
into their place in the assembled tensor, with no deserialising copy.

torch's ``FileSystemWriter`` (torch 2.13, the default ``SerializationFormat.TORCH_SAVE``) writes each
chunk as a complete ``torch.save`` archive of the local shard: an uncompressed zip whose records are
``<archive>/data.pkl`` (how to rebuild the tensor), a few small ones (``byteorder``...), and
``<archive>/data/0``, the storage's raw bytes. Before saving, DCP clones a tensor whose storage is
larger than the tensor, so the storage holds exactly the shard. This module reads the zip's
central directory (at the chunk's end; torch streams the archive, so its local headers carry no
sizes), reads ``data.pkl`` with a restricted unpickler (only the four names a tensor pickle uses;
stand-ins, never torch's classes, so nothing in the file runs) and returns the absolute byte range
of ``data/0`` only when everything proves it is the shard in row-major order: the dtype, shape,
zero storage offset, contiguous strides, little-endian byte order, no compression, and a length of
exactly ``numel * itemsize``. For a chunk saved in DCP's raw ``SAFETENSORS``
serialisation the range is the chunk itself. Anything else returns ``None`` and the caller falls
back to ``torch.load`` of the chunk.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cosmos_tui.core.checkpoints.dcp_meta import DTYPE_SIZES, ChunkRef, TensorEntry
from cosmos_tui.core.checkpoints.dcp_read import ChunkReader

if TYPE_CHECKING:
    import torch

_LOCAL = b"PK\x03\x04"
_STORAGES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
}


@dataclass(frozen=True)
class _Rebuilt:
    """What ``_rebuild_tensor_v2`` was called with."""

    storage: tuple
    storage_offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


class _TensorPickle(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, size, stride, *_: _Rebuilt(
                storage, offset, tuple(size), tuple(stride)
            )
        if module == "torch" and name in _STORAGES:
            return _STORAGES[name]
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a tensor pickle")

    def persistent_load(self, pid: Any) -> tuple:
        return tuple(pid)


def contiguous_strides(size: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides (in elements) of a tensor of shape ``size``."""
    strides, acc = [], 1
    for d in reversed(size):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides))


def _pread(fd: int, length: int, offset: int) -> bytes:
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise OSError(f"short read: {len(data)} of {length} bytes at offset {offset}")
    return data


def raw_span(fd: int, chunk: ChunkRef, dtype: str) -> tuple[int, int] | None:
    """``(file offset, length)`` of ``chunk``'s bytes in row-major order in the open storage file
    ``fd``, or ``None`` when that cannot be proven (the caller then deserialises the chunk)."""
    if chunk.transformed or dtype not in DTYPE_SIZES or sys.byteorder != "little":
        return None
    nbytes = DTYPE_SIZES[dtype]
    for d in chunk.sizes:
        nbytes *= d
    if _pread(fd, min(4, chunk.length), chunk.offset) != _LOCAL:
        return (chunk.offset, nbytes) if chunk.length == nbytes else None
    try:
        return _zip_span(fd, chunk, dtype, nbytes)
    except Exception:  # a damaged file raises nearly anything (BadZipFile, MemoryError, OverflowError, ...)
        return None


class _Window(io.RawIOBase):
    """``fd[start:start + length]`` as a read-only, seekable file (for :mod:`zipfile`)."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        super().__init__()
        self._fd, self._start, self._length, self._pos = fd, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def readinto(self, b: Any) -> int:
        n = max(0, min(len(b), self._length - self._pos))
        if n == 0:
            return 0
        got = os.preadv(self._fd, [memoryview(b)[:n]], self._start + self._pos)
        self._pos += got
        return got


def _zip_span(fd: int, chunk: ChunkRef, dtype: str, nbytes: int) -> tuple[int, int] | None:
    # torch's zip writer streams: local headers carry no sizes (flag bit 3), so the central
    # directory at the archive's end is what says where each record is and how long it is.
    window = _Window(fd, chunk.offset, chunk.length)
    with zipfile.ZipFile(window) as zf:
        records = {info.filename.split("/", 1)[-1]: info for info in zf.infolist()}
        pkl, order = records.get("data.pkl"), records.get("byteorder")
        if pkl is None or order is None or zf.read(order) != b"little":
            return None
        rebuilt = _TensorPickle(io.BytesIO(zf.read(pkl))).load()
        if not isinstance(rebuilt, _Rebuilt):
            return None
        _, storage_dtype, key, _, numel = rebuilt.storage
        data = records.get(f"data/{key}")
        storages = [name for name in records if name.startswith("data/")]
        if data is None or len(storages) != 1 or data.compress_type != zipfile.ZIP_STORED:
            return None
        wanted = contiguous_strides(rebuilt.size)
        strides_ok = all(
            s == w for s, w, n in zip(rebuilt.stride, wanted, rebuilt.size, strict=True) if n > 1
        )
        if not (
            storage_dtype == dtype
            and rebuilt.storage_offset == 0
            and rebuilt.size == tuple(chunk.sizes)
            and strides_ok
            and numel * DTYPE_SIZES[dtype] == data.file_size == data.compress_size == nbytes
        ):
            return None
        head = _pread(fd, 30, chunk.offset + data.header_offset)
        if head[:4] != _LOCAL:
            return None
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        data_at = data.header_offset + 30 + name_len + extra_len
        if data_at + nbytes > chunk.length:
            return None
        return chunk.offset + data_at, nbytes


def _block_span(chunk: ChunkRef, size: tuple[int, ...]) -> tuple[int, int] | None:
    """``(first element, numel)`` of the chunk in the row-major global tensor when its elements are
    one contiguous run there (split along one dimension, full in every later one), else ``None``."""
    dims = len(size)
    k = next((d for d in range(dims) if chunk.sizes[d] != 1), dims)
    if any(chunk.sizes[d] != size[d] for d in range(k + 1, dims)):
        return None
    strides = contiguous_strides(size)
    numel = 1
    for d in chunk.sizes:
        numel *= d
    return sum(o * s for o, s in zip(chunk.offsets, strides, strict=True)), numel


class BufferPool:
    """Reusable byte buffers (torch ``uint8`` tensors), so tensors are read into memory that is
    already mapped: a fresh allocation per tensor costs a page fault per 4 KiB. A buffer given back
    with :meth:`release` serves the next :meth:`acquire`; with none free, a new one is made, so the
    pool holds as many buffers as were ever in use at once. One thread acquires; any releases."""

    def __init__(self) -> None:
        self._free: list[torch.Tensor] = []
        self.allocated = 0
        """Buffers made so far."""

    def acquire(self, nbytes: int) -> torch.Tensor:
        """A buffer of at least ``nbytes`` bytes."""
        import torch  # deferred: torch

        buf = self._free.pop() if self._free else None
        if buf is None or buf.numel() < nbytes:
            self.allocated += 1
            buf = torch.empty(max(nbytes, 1), dtype=torch.uint8)
        return buf

    def release(self, buf: torch.Tensor) -> None:
        """Give ``buf`` back for a later tensor."""
        self._free.append(buf)


class RawTensorReader:
    """Assemble whole tensors of one DCP part folder into pooled buffers, reading each chunk's bytes
    straight into its place when :func:`raw_span` can prove where they are."""

    def __init__(self, part_dir: Path, pool: BufferPool) -> None:
        self.part_dir = Path(part_dir)
        self.pool = pool
        self.fallback = ChunkReader(part_dir)
        self._fds: dict[str, int] = {}
        self.raw_bytes = 0
        self.fallback_chunks = 0

    @property
    def bytes_read(self) -> int:
        """Tensor and blob bytes read so far."""
        return self.raw_bytes + self.fallback.bytes_read

    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            fd = self._fds[name] = os.open(self.part_dir / name, os.O_RDONLY)
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        return fd

    def read(self, entry: TensorEntry) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tensor, buffer)``: ``entry`` as a tensor viewing ``buffer``, a pool buffer the caller
        gives back with ``pool.release`` once done with the tensor."""
        import torch  # deferred: torch

        dtype = getattr(torch, entry.dtype)
        itemsize = DTYPE_SIZES[entry.dtype]
        nbytes = entry.numel * itemsize
        buf = self.pool.acquire(nbytes)
        try:
            out = buf[:nbytes].view(dtype).view(entry.size)
            view = memoryview(buf.numpy())
            covered = 0
            for chunk in entry.chunks:
                fd = self._fd(chunk.file)
                span = raw_span(fd, chunk, entry.dtype)
                place = _block_span(chunk, tuple(entry.size))
                if span is not None and place is not None:
                    start = place[0] * itemsize
                    self._read_exact(fd, view[start : start + span[1]], span[0])
                    self.raw_bytes += span[1]
                    covered += place[1]
                    continue
                self.fallback_chunks += 1
                piece = self.fallback.read_chunk(entry, chunk)
                target = out
                for dim, (start, length) in enumerate(zip(chunk.offsets, chunk.sizes, strict=True)):
                    target = target.narrow(dim, start, length)
                target.copy_(piece)
                covered += piece.numel()
            del view
            if covered != entry.numel:
                raise ValueError(f"{entry.fqn}: chunks cover {covered} of {entry.numel} elements")
            return out, buf
        except BaseException:
            self.pool.release(buf)
            raise

    @staticmethod
    def _read_exact(fd: int, view: memoryview, offset: int) -> None:
        got = 0
        while got < len(view):
            n = os.preadv(fd, [view[got:]], offset + got)
            if n <= 0:
                raise OSError(f"storage file ends {len(view) - got} bytes early at offset {offset + got}")
            got += n

    def close(self) -> None:
        """Close every open storage file."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self.fallback.close()
