"""A restricted unpickler for embedding files: numpy arrays and plain containers, nothing else.

Embedding pickles come from other people's scripts, and a pickle can run any code when loaded.
This unpickler resolves only the globals that numpy needs to rebuild an array (``_reconstruct``,
``ndarray``, ``dtype``, ``_frombuffer``, ``scalar``); any other global - ``os.system``,
``builtins.eval``, a torch class - raises :class:`UnsafePickle` before anything is called.
Plain containers (lists, tuples, dicts, strings, numbers) need no globals and load as usual.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from cosmos_tui.core.safeio import PICKLE_CAP, read_bytes_capped

_NUMPY_MODULES = (
    "numpy.core.multiarray",
    "numpy._core.multiarray",
    "numpy.core.numeric",
    "numpy._core.numeric",
    "numpy",
)
_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    [(m, n) for m in _NUMPY_MODULES for n in ("_reconstruct", "scalar", "_frombuffer")]
    + [("numpy", "ndarray"), ("numpy", "dtype")]
    + [("numpy.dtypes", n) for n in ("Float32DType", "Float16DType", "Float64DType")]
)


def _latin1(text: str, encoding: str) -> bytes:
    """What protocol-2 pickles call to rebuild bytes (``_codecs.encode(text, "latin1")``), and only that."""
    if encoding != "latin1":
        raise UnsafePickle("_codecs", f"encode(..., {encoding!r})")
    return text.encode("latin1")


class UnsafePickle(pickle.UnpicklingError):
    """The pickle asks for a global that is not part of a numpy array; nothing was executed."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"pickle references {module}.{name}, which is not allowed in an embedding file")
        self.module = module
        self.name = name


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        raise UnsafePickle(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickle("<persistent id>", repr(pid)[:40])


def loads_arrays(data: bytes) -> Any:
    """Unpickle ``data`` allowing only numpy arrays and plain containers.

    Raises :class:`UnsafePickle` for any other global (before it is called) and
    :class:`pickle.UnpicklingError` for a damaged pickle, whatever the unpickler tripped on.
    """
    try:
        return _ArrayUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError:  # UnsafePickle too: already says what is wrong
        raise
    except MemoryError:
        # A damaged length field (BINBYTES8, BINUNICODE8) makes the unpickler allocate what it
        # declares before reading; a size the whole file cannot hold means the file is damaged.
        raise pickle.UnpicklingError(
            f"pickle declares an object larger than memory in a {len(data)}-byte file"
        ) from None
    except Exception as exc:
        # Damaged opcodes and lengths raise nearly anything (EOFError, OverflowError for a FRAME
        # length, KeyError for a missing memo entry, RecursionError, ...): all mean a damaged file.
        raise pickle.UnpicklingError(f"damaged pickle: {type(exc).__name__}: {exc}") from None


def load_arrays(path: str | Path, *, cap: int = PICKLE_CAP) -> Any:
    """Read the file at ``path`` (a regular file of at most ``cap`` bytes, else
    :class:`~cosmos_tui.core.safeio.ReadRefused`, an ``OSError``) and unpickle it with
    :func:`loads_arrays`."""
    return loads_arrays(read_bytes_capped(path, cap, what="embedding pickle"))
