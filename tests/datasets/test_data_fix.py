"""--fix: only safe mechanical fixes, new files beside the old, originals never removed."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
from data_helpers import dump, emb

from cosmos_tui.core.datasets.fix import apply_fixes, plan_fixes
from cosmos_tui.core.datasets.validate import validate

Make = Callable[[str], Path]
P1 = "predict1-waymo"
T5 = "t5_xxl/pinhole_front"


def _check(root: Path):
    return validate(root, P1, experiment="s2mv_text2world_tiny", workers=1)


def _load(path: Path):
    with open(path, "rb") as f:
        return pickle.load(f)


def test_clean_dataset_needs_no_fix(dataset: Make) -> None:
    assert plan_fixes(dataset(P1), P1) == []


def test_squeeze_batch_dim_in_place_keeps_the_original(dataset: Make) -> None:
    root = dataset(P1)
    original = [np.arange(20 * 1024, dtype=np.float32).reshape(1, 20, 1024)]
    dump(root / T5 / "clip_0000.pkl", original)
    before = (root / T5 / "clip_0000.pkl").read_bytes()
    actions = plan_fixes(root, P1)
    assert [(a.findings, a.source.name, a.backup.name) for a in actions] == [
        (("embedding-batch-dim",), "clip_0000.pkl", "clip_0000.pkl.orig")
    ]
    assert (root / T5 / "clip_0000.pkl").read_bytes() == before  # planning writes nothing
    apply_fixes(actions)
    fixed = _load(root / T5 / "clip_0000.pkl")
    assert isinstance(fixed, list) and fixed[0].shape == (20, 1024)
    assert np.array_equal(fixed[0], original[0][0])
    assert (root / T5 / "clip_0000.pkl.orig").read_bytes() == before
    assert _check(root).findings == ()
    assert plan_fixes(root, P1) == []  # a second run has nothing left to do


def test_rename_pickle_and_prefix_writes_new_files_beside_the_old(dataset: Make) -> None:
    root = dataset(P1)
    os.rename(root / T5 / "clip_0001.pkl", root / T5 / "clip_0001.pickle")
    prefix = root / "cache/prefix_pinhole_front.pkl"
    dump(root / "cache/prefix_t5_embeddings_pinhole_front.pkl", emb(9)[None])  # wrong name AND batch dim
    prefix.unlink()
    actions = plan_fixes(root, P1)
    assert sorted(a.findings for a in actions) == [
        ("embedding-batch-dim", "wrong-prefix-name"),
        ("wrong-pickle-ext",),
    ]
    assert all(a.backup is None for a in actions)
    apply_fixes(actions)
    assert (root / T5 / "clip_0001.pickle").is_file() and (root / T5 / "clip_0001.pkl").is_file()
    assert (root / "cache/prefix_t5_embeddings_pinhole_front.pkl").is_file()
    assert _load(prefix).shape == (9, 1024)
    assert _check(root).findings == ()


def test_rewrap_container(dataset: Make) -> None:
    root = dataset(P1)
    dump(root / T5 / "clip_0000.pkl", emb(5))
    dump(root / "cache/prefix_pinhole_side_left.pkl", [emb(6)])
    apply_fixes(plan_fixes(root, P1))
    assert _load(root / T5 / "clip_0000.pkl")[0].shape == (5, 1024)
    assert _load(root / "cache/prefix_pinhole_side_left.pkl").shape == (6, 1024)
    assert _check(root).findings == ()


def test_not_mechanical_is_not_touched(dataset: Make) -> None:
    root = dataset(P1)
    dump(root / T5 / "clip_0000.pkl", [emb(5, 768)[None]])  # batch dim, but the width is wrong too
    dump(root / T5 / "clip_0001.pkl", [emb(5, dtype=np.float64)])
    assert plan_fixes(root, P1) == []


def test_existing_backup_is_never_overwritten(dataset: Make) -> None:
    root = dataset(P1)
    dump(root / T5 / "clip_0000.pkl", [emb()[None]])
    (root / T5 / "clip_0000.pkl.orig").write_bytes(b"earlier backup")
    assert plan_fixes(root, P1) == []
    assert (root / T5 / "clip_0000.pkl.orig").read_bytes() == b"earlier backup"


def test_layouts_without_embeddings_have_nothing_to_fix(dataset: Make) -> None:
    assert plan_fixes(dataset("predict25-video2world"), "predict25-video2world") == []
