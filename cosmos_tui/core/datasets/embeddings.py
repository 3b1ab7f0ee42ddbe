"""Check one T5 embedding pickle against what the Predict1 loader reads.

Per-clip files (``t5_xxl/<view>/<clip>.pkl``) hold ``[array (L, 1024)]`` (the loader takes
``pickle.load(f)[0]``); prefix files (``cache/prefix_<view>.pkl``) hold a bare ``(L, 1024)`` array.
Known mismatches are named: a leading batch dimension ``(1, L, 1024)``, the wrong container, a
wrong dtype, more than 512 tokens. Files are read with the restricted unpickler only.
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
    """The embedding array as stored (before any fix), or None."""
    wrapped: bool = False
    """The array sat inside a list or tuple."""


def check_embedding(path: str | Path, rel: str, role: Role, spec: EmbeddingSpec) -> EmbeddingCheck:
    """Read ``path`` safely and check it as a ``role`` embedding; ``rel`` names it in examples."""
    import numpy as np

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

    array = obj
    if isinstance(obj, (list, tuple)):
        out.wrapped = True
        array = obj[0] if len(obj) == 1 else None
    if not isinstance(array, np.ndarray):
        out.findings.append(("embedding-not-array", f"{rel}: holds {_describe(obj)}"))
        return out
    out.array = array
    want_wrapped = role == "clip" and spec.clip_is_list
    if out.wrapped != want_wrapped:
        expected = "[array]" if want_wrapped else "a bare array"
        found = f"[array {tuple(array.shape)}]" if out.wrapped else f"array {tuple(array.shape)}"
        out.findings.append(("embedding-wrong-container", f"{rel}: {found}, loader expects {expected}"))
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
