"""Read a DCP ``.metadata`` file safely and without importing torch.

``torch.distributed.checkpoint.FileSystemReader.read_metadata`` unpickles ``.metadata`` with plain
``pickle``, which runs whatever a crafted file asks for. This reader uses a restricted unpickler: only
the handful of classes a DCP save writes (the ``torch.distributed.checkpoint`` metadata dataclasses,
torch dtypes, ``torch.Size``, a path) are allowed, and each is replaced by an inert stand-in, so a
listing never loads torch and never executes code from the file.

What comes out is a plain description of the checkpoint part: every tensor with its dtype, global
shape and the chunks that make it up (which file, byte offset and length), and every non-tensor
entry with its byte range. Scanning, verifying and exporting all work from it.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosmos_tui.core.safeio import METADATA_CAP, read_bytes_capped

METADATA_FILE = ".metadata"

# dtype name (as torch spells the attribute) -> bytes per element
DTYPE_SIZES: dict[str, int] = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
    "complex64": 8,
    "complex128": 16,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "uint16": 2,
    "uint32": 4,
    "uint64": 8,
}


class MetadataError(Exception):
    """A ``.metadata`` file is missing, unreadable, or holds something a DCP save never writes."""


@dataclass(frozen=True)
class ChunkRef:
    """One saved piece of a tensor: where it sits in the global tensor and in which file."""

    offsets: tuple[int, ...]
    """Start index of the chunk in each dimension of the global tensor."""
    sizes: tuple[int, ...]
    """Extent of the chunk in each dimension."""
    file: str
    """Storage file, relative to the part folder (e.g. ``__0_0.distcp``)."""
    offset: int
    """Byte offset of the chunk's serialized data in ``file``."""
    length: int
    """Byte length of the chunk's serialized data."""
    transformed: bool = False
    """True when the chunk went through a stream transform (compression) on save."""


@dataclass(frozen=True)
class TensorEntry:
    """A tensor in the checkpoint's state dict."""

    fqn: str
    """State-dict key, e.g. ``net.blocks.0.attn.qkv.weight``."""
    dtype: str
    """torch dtype name, e.g. ``float32``."""
    size: tuple[int, ...]
    """Global (unsharded) shape."""
    chunks: tuple[ChunkRef, ...]
    """The saved pieces, covering the whole tensor."""

    @property
    def numel(self) -> int:
        """Number of elements of the global tensor."""
        n = 1
        for d in self.size:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        """Bytes of the global tensor in its stored dtype."""
        return self.numel * DTYPE_SIZES.get(self.dtype, 4)


@dataclass(frozen=True)
class BlobEntry:
    """A non-tensor entry (pickled Python object) in the checkpoint's state dict."""

    fqn: str
    file: str
    offset: int
    length: int


@dataclass(frozen=True)
class DcpMetadata:
    """What a DCP part folder's ``.metadata`` says it holds."""

    tensors: dict[str, TensorEntry]
    blobs: dict[str, BlobEntry]
    version: str | None

    @property
    def files(self) -> set[str]:
        """Storage files the metadata refers to."""
        out = {c.file for t in self.tensors.values() for c in t.chunks}
        out.update(b.file for b in self.blobs.values())
        return out

    @property
    def has_ema(self) -> bool:
        """True when the state dict holds EMA weights (``net_ema.*`` keys, as upstream names them)."""
        return any(k.startswith("net_ema.") for k in self.tensors)


class _Inert:
    """Stand-in for an allowed metadata class: keeps its constructor args and pickled state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        if (
            isinstance(state, tuple)
            and len(state) == 2
            and all(part is None or isinstance(part, dict) for part in state)
        ):  # (dict state, slots state)
            merged: dict[str, Any] = {}
            for part in state:
                if part:
                    merged.update(part)
            state = merged
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:  # e.g. TensorProperties pickles (dtype, layout, requires_grad, memory_format, pin)
            self.state = state


def _make_inert(name: str) -> type:
    return type(name, (_Inert,), {})


_DCP_CLASSES = {
    ("torch.distributed.checkpoint.metadata", n)
    for n in (
        "Metadata",
        "TensorStorageMetadata",
        "BytesStorageMetadata",
        "ChunkStorageMetadata",
        "TensorProperties",
        "MetadataIndex",
        "StorageMeta",
    )
} | {("torch.distributed.checkpoint.filesystem", "_StorageInfo")}


def _identity(*args: Any) -> Any:
    return args[0] if len(args) == 1 else args


class _Dtype(str):
    """A torch dtype, held by name."""


class _SafeUnpickler(pickle.Unpickler):
    """Allows only what a DCP ``.metadata`` contains; everything else is refused."""

    _inert: dict[tuple[str, str], type] = {key: _make_inert(key[1]) for key in _DCP_CLASSES}

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in self._inert:
            return self._inert[key]
        if module == "torch" and name in DTYPE_SIZES:
            return _Dtype(name)
        if key in {
            ("torch", "Size"),
            ("torch.serialization", "_get_layout"),
            ("torch.distributed.checkpoint.metadata", "_MEM_FORMAT_ENCODING"),
            ("pathlib", "PosixPath"),
            ("pathlib", "WindowsPath"),
            ("pathlib", "PurePosixPath"),
        }:
            return _identity
        if module in ("collections",) and name == "OrderedDict":
            return dict
        if module == "builtins" and name in ("set", "frozenset", "tuple", "list", "dict"):
            return {"set": set, "frozenset": frozenset, "tuple": tuple, "list": list, "dict": dict}[name]
        raise pickle.UnpicklingError(f"unexpected object {module}.{name}")


def _tuple(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, _Inert):  # should not happen, but be explicit
        value = value.args[0] if value.args else ()
    return tuple(int(v) for v in value)


def parse_metadata_bytes(data: bytes) -> DcpMetadata:
    """Parse the bytes of a DCP ``.metadata`` file with the restricted unpickler."""
    try:
        raw = _SafeUnpickler(io.BytesIO(data)).load()
    except Exception as e:
        raise MetadataError(f"not a readable DCP metadata file ({type(e).__name__}: {e})") from None
    if type(raw).__name__ != "Metadata" or not hasattr(raw, "state_dict_metadata"):
        raise MetadataError("not a DCP metadata file (no state_dict_metadata)")
    storage: dict[tuple[str, tuple[int, ...]], Any] = {}
    for index, info in (getattr(raw, "storage_data", None) or {}).items():
        fqn = getattr(index, "fqn", None)
        storage[(fqn, _tuple(getattr(index, "offset", None)))] = info
    tensors: dict[str, TensorEntry] = {}
    blobs: dict[str, BlobEntry] = {}
    try:
        for fqn, md in raw.state_dict_metadata.items():
            kind = type(md).__name__
            if kind == "BytesStorageMetadata":
                info = storage.get((fqn, ()))
                if info is None:
                    raise MetadataError(f"entry {fqn!r} has no storage record")
                blobs[fqn] = BlobEntry(fqn, str(info.relative_path), int(info.offset), int(info.length))
                continue
            props = md.properties
            dtype = str(props.state[0] if hasattr(props, "state") else props.dtype)
            chunks = []
            for ch in md.chunks:
                offsets = _tuple(ch.offsets)
                info = storage.get((fqn, offsets))
                if info is None:
                    raise MetadataError(f"chunk {offsets} of {fqn!r} has no storage record")
                chunks.append(
                    ChunkRef(
                        offsets=offsets,
                        sizes=_tuple(ch.sizes),
                        file=str(info.relative_path),
                        offset=int(info.offset),
                        length=int(info.length),
                        transformed=bool(getattr(info, "transform_descriptors", None)),
                    )
                )
            tensors[fqn] = TensorEntry(fqn, dtype, _tuple(md.size), tuple(chunks))
    except AttributeError as e:
        raise MetadataError(f"DCP metadata has an unexpected shape ({e})") from None
    return DcpMetadata(tensors=tensors, blobs=blobs, version=getattr(raw, "version", None))


def read_dcp_metadata(part_dir: Path) -> DcpMetadata:
    """Read ``part_dir/.metadata`` (a DCP part folder such as ``iter_000000500/model``) safely.

    Raises :class:`MetadataError` when the file is missing, truncated or holds anything but DCP
    metadata.
    """
    path = Path(part_dir) / METADATA_FILE
    try:
        data = read_bytes_capped(path, METADATA_CAP, what="checkpoint metadata")
    except OSError as e:
        raise MetadataError(f"cannot read {path} ({e.strerror or e})") from None
    return parse_metadata_bytes(data)
