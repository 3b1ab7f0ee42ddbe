"""Read tensors out of a DCP part folder one at a time, without a process group.

Each chunk DCP wrote is a ``torch.save`` of one local shard at ``(file, offset, length)``; this
reader seeks there, deserialises it with ``torch.load(weights_only=True)`` and, when a tensor was
saved in several chunks (FSDP shards from several ranks), copies the chunks into one tensor of the
global shape. Only the tensor being assembled is held in memory, which is what lets export run in
memory bounded by the largest tensor rather than the whole checkpoint.

Chunks saved in DCP's raw ``safetensors`` serialisation (exactly ``numel * itemsize`` bytes, no zip
header) are read directly. Chunks that went through a stream transform (compression) are refused.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from cosmos_tui.core.checkpoints.dcp_meta import BlobEntry, ChunkRef, TensorEntry

_ZIP_MAGIC = b"PK\x03\x04"


class ChunkReader:
    """Open storage files of one DCP part folder and read chunks, tensors and blobs from them."""

    def __init__(self, part_dir: Path) -> None:
        self.part_dir = Path(part_dir)
        self._files: dict[str, Any] = {}
        self.bytes_read = 0

    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every open storage file."""
        for f in self._files.values():
            f.close()
        self._files.clear()

    def _read(self, name: str, offset: int, length: int) -> bytearray:
        f = self._files.get(name)
        if f is None:
            f = self._files[name] = open(self.part_dir / name, "rb", buffering=0)  # noqa: SIM115
        buf = bytearray(length)
        view, got = memoryview(buf), 0
        while got < length:
            n = os.preadv(f.fileno(), [view[got:]], offset + got)
            if n <= 0:
                break
            got += n
        if got != length:
            raise OSError(f"{name}: wanted {length} bytes at offset {offset}, the file ends after {got}")
        self.bytes_read += length
        return buf

    def read_chunk(self, entry: TensorEntry, chunk: ChunkRef):
        """One saved chunk of ``entry`` as a CPU tensor of shape ``chunk.sizes``."""
        import torch  # deferred: torch

        if chunk.transformed:
            raise ValueError(
                f"{entry.fqn}: chunk was saved with a stream transform, which export cannot read"
            )
        buf = self._read(chunk.file, chunk.offset, chunk.length)
        if buf[:4] == _ZIP_MAGIC:
            tensor = torch.load(io.BytesIO(buf), map_location="cpu", weights_only=True)
        else:
            dtype = getattr(torch, entry.dtype)
            tensor = torch.frombuffer(buf, dtype=dtype).reshape(chunk.sizes)
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != tuple(chunk.sizes):
            shape = tuple(getattr(tensor, "shape", ()))
            raise ValueError(
                f"{entry.fqn}: chunk at {chunk.offsets} has shape {shape}, expected {chunk.sizes}"
            )
        return tensor

    def read_blob(self, entry: BlobEntry) -> Any:
        """A non-tensor entry, loaded with ``torch.load(weights_only=True)`` that also allows
        ``io.BytesIO`` (a module's ``_extra_state``, e.g. TransformerEngine's; DCP ``torch.save``s
        it); raises when it would need arbitrary unpickling."""
        import torch  # deferred: torch

        buf = self._read(entry.file, entry.offset, entry.length)
        with torch.serialization.safe_globals([io.BytesIO]):
            return torch.load(io.BytesIO(buf), map_location="cpu", weights_only=True)
