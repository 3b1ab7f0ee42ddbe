"""Check one T5 embedding pickle against what the Predict1 loader reads.

The check follows the loader's own steps (cosmos_predict1/diffusion/training/datasets/
dataset_multiview.py): a per-clip file (``t5_xxl/<view>/<clip>.pkl``) is read as
``pickle.load(f)[0]``, so whatever that indexing yields is the embedding (the first array of a list
of several, or the first row of a ``(N, L, 1024)`` array, is read as well as ``[array]``); a prefix
file (``cache/prefix_<view>.pkl``) is used as it is. The embedding then goes through
``torch.from_numpy`` (native byte order only) and is padded with a ``(512 - L, 1024)`` zero block.
Known mismatches are named: a leading batch dimension ``(1, L, 1024)``, the wrong container, a
wrong dtype, non-native byte order, NaN or Inf values, more than 512 tokens. Files are read with the
restricted unpickler only.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cosmos_tui.core.datasets.layouts import EmbeddingSpec
from cosmos_tui.core.datasets.pickles import UnsafePickle, load_arrays
from cosmos_tui.core.datasets.walk import fs_finding

Role = Literal["clip", "prefix"]


@dataclass
class EmbeddingCheck:
    """Findings for one embedding file, and its array when one could be found."""

    findings: list[tuple[str, str]] = field(default_factory=list)
    """``(finding id, example)`` pairs."""
    array: Any = None
    """The array the loader would use (before any fix), or None."""
    wrapped: bool = False
    """The array sat inside a list or tuple."""


def check_embedding(path: str | Path, rel: str, role: Role, spec: EmbeddingSpec) -> EmbeddingCheck:
    """Read ``path`` safely and check it as a ``role`` embedding; ``rel`` names it in examples."""
    import numpy as np  # deferred: numpy, only for embeddings and frames

    out = EmbeddingCheck()
    try:
        if os.stat(path).st_size == 0:
            out.findings.append(("empty-file", rel))
            return out
        obj = load_arrays(path)
    except UnsafePickle as e:
        out.findings.append(("unsafe-pickle", f"{rel}: wants {e.module}.{e.name}"))
        return out
    except FileNotFoundError:
        out.findings.append(("broken-symlink", f"{rel} -> {_target(path)}"))
        return out
    except OSError as e:  # permission, loop, FIFO, over the size cap: say which
        out.findings.append(fs_finding(e, rel))
        return out
    except pickle.UnpicklingError as e:
        out.findings.append(("unreadable-pickle", f"{rel}: {str(e)[:100]}"))
        return out

    out.wrapped = isinstance(obj, (list, tuple))
    array, container = embedding_array(obj, role == "clip" and spec.clip_is_list)
    if container:
        out.findings.append(("embedding-wrong-container", f"{rel}: {container}"))
    if not isinstance(array, np.ndarray):
        out.findings.append(("embedding-not-array", f"{rel}: holds {_describe(obj)}"))
        return out
    out.array = array
    shape = tuple(array.shape)
    if len(shape) == 3 and shape[0] == 1 and shape[2] == spec.dim:
        out.findings.append(("embedding-batch-dim", f"{rel}: shape {shape}"))
        shape = shape[1:]
    elif len(shape) != 2 or shape[1] != spec.dim or shape[0] < 1:
        out.findings.append(("embedding-bad-shape", f"{rel}: shape {shape}, expected (L, {spec.dim})"))
    if len(shape) == 2 and shape[0] > spec.max_len:
        out.findings.append(("embedding-too-long", f"{rel}: {shape[0]} tokens > {spec.max_len}"))
    if array.dtype.name not in spec.dtypes:
        out.findings.append(("embedding-bad-dtype", f"{rel}: {array.dtype.name}"))
    out.findings.extend(value_problems(array, rel, spec))
    return out


def embedding_array(obj: Any, indexed: bool) -> tuple[Any, str | None]:
    """The array in the unpickled ``obj`` as the loader would use it, and a container mismatch.

    ``indexed``: the loader takes ``obj[0]`` (per-clip files); otherwise it uses ``obj`` itself.

    The array is what the loader's own steps give (``obj[0]`` for a per-clip file, see
    :func:`loader_reads`), except where the container is wrong but the array is plainly there
    (a bare ``(L, 1024)`` per-clip array, a ``[array]`` prefix): then it is that array and the
    second item says what is wrong (``--fix`` rewraps it).
    """
    import numpy as np  # deferred: numpy, only for embeddings and frames

    if indexed and isinstance(obj, np.ndarray) and obj.ndim <= 2:
        # the loader's [0] would take the first row of the (L, 1024) array, a (1024,) vector
        return obj, f"array {obj.shape}, loader expects [array]"
    if not indexed and isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], np.ndarray):
        return obj[0], f"[array {obj[0].shape}], loader expects a bare array"
    return loader_reads(obj, indexed), None


def loader_reads(obj: Any, indexed: bool) -> Any:
    """What the loader gets from the unpickled ``obj``: ``obj[0]`` when ``indexed``, else ``obj``.

    Mirrors Python indexing for the types the restricted unpickler can produce: a non-empty list or
    tuple gives its first item, a dict its key ``0``, a non-empty array its first row. Anything whose
    ``[0]`` would fail is returned as it is (the caller names the mismatch).
    """
    import numpy as np  # deferred: numpy, only for embeddings and frames

    if not indexed:
        return obj
    if isinstance(obj, (list, tuple)):
        return obj[0] if obj else obj
    if isinstance(obj, dict):
        return obj.get(0, obj)
    if isinstance(obj, np.ndarray) and obj.ndim >= 1 and obj.shape[0] >= 1:
        return obj[0]
    return obj


def value_problems(array: Any, rel: str, spec: EmbeddingSpec) -> list[tuple[str, str]]:
    """Findings about the values the loader would hand to ``torch.from_numpy``: byte order, NaN/Inf."""
    import numpy as np  # deferred: numpy, only for embeddings and frames

    out: list[tuple[str, str]] = []
    dtype = array.dtype
    if not dtype.isnative:
        order = {">": "big-endian", "<": "little-endian"}.get(dtype.byteorder, dtype.byteorder)
        out.append(("embedding-byte-order", f"{rel}: {order} {dtype.name} ({dtype.str})"))
    if dtype.kind in "fc" and array.size:
        finite = np.isfinite(array)
        if not finite.all():
            nan = int(np.isnan(array).sum())
            inf = int(array.size - finite.sum()) - nan
            first = np.unravel_index(int(np.argmin(finite)), array.shape)
            where = f"first at index {tuple(int(i) for i in first)}"
            out.append(
                ("embedding-not-finite", f"{rel}: {nan} NaN, {inf} Inf of {array.size} values, {where}")
            )
    return out


def _describe(obj: Any) -> str:
    if isinstance(obj, (list, tuple)):
        return f"a {type(obj).__name__} of {len(obj)} item(s)"
    return f"a {type(obj).__name__}"


def _target(path: str | Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "missing"
