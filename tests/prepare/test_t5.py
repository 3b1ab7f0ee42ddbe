"""T5 embeddings with a tiny randomly initialised T5 and a word-level tokenizer saved on disk."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from extras_support import tiny_t5

from cosmos_tui.core.datasets.embeddings import check_embedding
from cosmos_tui.core.datasets.layouts import P1_VIEWS, EmbeddingSpec, get_layout
from cosmos_tui.core.datasets.pickles import load_arrays
from cosmos_tui.core.datasets.prepare import t5
from cosmos_tui.core.errors import UserError

DIM = 16
SPEC = EmbeddingSpec(dim=DIM)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_t5(tmp_path_factory.mktemp("t5"), d_model=DIM)


@pytest.fixture(scope="module")
def encoder(model_dir: Path) -> t5.T5Encoder:
    return t5.T5Encoder(t5.locate_t5(model_dir), "cpu", dim=DIM)


def test_encode_gives_real_tokens_float32(encoder: t5.T5Encoder) -> None:
    texts = ["a car", "the camera is facing forward and slightly to the left", "video"]
    out = encoder.encode(texts, batch_size=2)
    # word-level tokens plus the </s> the tokenizer appends, as T5TokenizerFast does
    assert [a.shape for a in out] == [(3, DIM), (11, DIM), (2, DIM)]
    assert all(a.dtype == np.float32 and a.flags.c_contiguous for a in out)
    assert all(np.isfinite(a).all() and np.abs(a).sum() > 0 for a in out)


def test_padding_to_the_batch_matches_padding_to_max_len_like_upstream(encoder: t5.T5Encoder) -> None:
    import torch

    texts = ["a car", "the camera is facing forward and slightly to the left"]
    ours = encoder.encode(texts, batch_size=2)
    alone = encoder.encode(texts[:1], batch_size=1)[0]
    # create_t5_embed.py: padding="max_length" (512), then cut to attention_mask.sum()
    enc = encoder.tokenizer(texts, return_tensors="pt", truncation=True, padding="max_length", max_length=512)
    with torch.no_grad():
        hidden = encoder.model(**{k: enc[k] for k in ("input_ids", "attention_mask")}).last_hidden_state
    for row, n, got in zip(hidden.numpy(), enc["attention_mask"].sum(1).tolist(), ours, strict=True):
        np.testing.assert_allclose(got, row[:n], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(alone, ours[0], rtol=1e-4, atol=1e-5)


def test_truncates_to_max_len(encoder: t5.T5Encoder) -> None:
    (a,) = encoder.encode([" ".join(["car"] * 40)], max_len=8)
    assert a.shape == (8, DIM)


def test_clip_and_prefix_files_pass_the_validator(tmp_path: Path, encoder: t5.T5Encoder) -> None:
    clips = {
        "seg_0": "a car is facing forward",
        "seg_1": {"pinhole_front": "video", "pinhole_side_left": "car"},
    }
    rep = t5.write_clip_embeddings(
        tmp_path, clips, ("pinhole_front", "pinhole_side_left"), encoder=encoder, batch_size=3, spec=SPEC
    )
    assert len(rep.written) == 4 and not rep.skipped
    pre = t5.write_prefix_embeddings(tmp_path, P1_VIEWS, encoder=encoder, spec=SPEC)
    assert len(pre.written) == 5
    for view in ("pinhole_front", "pinhole_side_left"):
        for clip in clips:
            path = tmp_path / "t5_xxl" / view / f"{clip}.pkl"
            assert check_embedding(path, clip, "clip", SPEC).findings == []
            obj = load_arrays(path)
            assert isinstance(obj, list) and len(obj) == 1 and obj[0].dtype == np.float32
            assert obj[0].ndim == 2 and obj[0].shape[1] == DIM
    layout = get_layout("predict1-waymo")
    for view in layout.views:
        path = tmp_path / "cache" / f"prefix_{view}.pkl"
        assert check_embedding(path, view, "prefix", SPEC).findings == []
        arr = load_arrays(path)
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float32 and arr.shape[1] == DIM
    # the per-view caption went to its view
    side = load_arrays(tmp_path / "t5_xxl" / "pinhole_side_left" / "seg_1.pkl")[0]
    np.testing.assert_allclose(side, encoder.encode(["car"])[0], rtol=1e-4, atol=1e-5)
    # the prefix texts are upstream's: pinhole_front's is 18 words + </s> (tiny vocab: unknown words -> <unk>)
    assert load_arrays(tmp_path / "cache" / "prefix_pinhole_front.pkl").shape[0] == len(
        encoder.tokenizer(t5.PREFIX_PROMPTS["pinhole_front"])["input_ids"]
    )


def test_loader_steps_accept_the_files(tmp_path: Path, encoder: t5.T5Encoder) -> None:
    """The Predict1 loader's own steps on the pickles: [0], from_numpy, cat with a zero pad."""
    import torch

    t5.write_clip_embeddings(tmp_path, {"c": "a car"}, encoder=encoder, spec=SPEC)
    t5.write_prefix_embeddings(tmp_path, ["pinhole_front"], encoder=encoder, spec=SPEC)
    with open(tmp_path / "t5_xxl" / "pinhole_front" / "c.pkl", "rb") as f:
        emb = pickle.load(f)[0]  # our own file, just written: what the loader does
    with open(tmp_path / "cache" / "prefix_pinhole_front.pkl", "rb") as f:
        prefix = pickle.load(f)
    both = torch.from_numpy(np.concatenate([prefix, emb], axis=0))
    padded = torch.cat([both, torch.zeros(512 - both.shape[0], DIM)], dim=0)
    assert padded.shape == (512, DIM) and padded.dtype == torch.float32


def test_resume_skips_good_files_and_redoes_a_damaged_one(tmp_path: Path, encoder: t5.T5Encoder) -> None:
    clips = {f"clip{i}": "a car" for i in range(3)}
    t5.write_clip_embeddings(tmp_path, clips, encoder=encoder, spec=SPEC)
    paths = [tmp_path / "t5_xxl" / "pinhole_front" / f"clip{i}.pkl" for i in range(3)]
    before = [p.stat().st_mtime_ns for p in paths]
    paths[1].write_bytes(b"\x80\x04truncated")
    rep = t5.write_clip_embeddings(tmp_path, clips, encoder=encoder, spec=SPEC)
    assert rep.skipped == [paths[0], paths[2]] and rep.redone == [paths[1]] and rep.written == [paths[1]]
    assert [paths[0].stat().st_mtime_ns, paths[2].stat().st_mtime_ns] == [before[0], before[2]]
    assert check_embedding(paths[1], "clip1", "clip", SPEC).findings == []
    # a file of the wrong width (another model's) is redone too
    with open(paths[2], "wb") as f:
        pickle.dump([np.zeros((3, DIM + 1), np.float32)], f)
    assert t5.write_clip_embeddings(tmp_path, clips, encoder=encoder, spec=SPEC).redone == [paths[2]]
    # nothing to do: no encoder needed (a missing model would raise otherwise)
    rep = t5.write_clip_embeddings(tmp_path, clips, model_dir=tmp_path / "no-model", spec=SPEC)
    assert len(rep.skipped) == 3 and not rep.written
    assert not list(tmp_path.rglob("*.tmp"))


def test_wrong_width_model_is_refused(model_dir: Path) -> None:
    with pytest.raises(UserError, match="16-wide embeddings, the loader needs 1024"):
        t5.T5Encoder(model_dir, "cpu", dim=1024)


def test_missing_weights_name_the_download_command(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cosmos-tui hf download predict1-7b-s2mv-text2world --inference"):
        t5.locate_t5(checkpoint_dir=tmp_path)
    with pytest.raises(UserError, match=r"no config\.json, weights"):
        t5.locate_t5(tmp_path)
    assert t5.locate_t5() == "google-t5/t5-11b"
    with pytest.raises(UserError, match=r"Cannot load the T5 encoder.*hf download"):
        t5.T5Encoder(tmp_path / "nothing-here", "cpu")


def test_checkpoint_dir_layout_is_found(tmp_path: Path, model_dir: Path) -> None:
    folder = tmp_path / "google-t5" / "t5-11b"
    folder.parent.mkdir(parents=True)
    os.symlink(model_dir, folder)
    assert t5.locate_t5(checkpoint_dir=tmp_path) == str(folder)


def test_hostile_names_and_unknown_prefix_view(tmp_path: Path, encoder: t5.T5Encoder) -> None:
    with pytest.raises(UserError, match="cannot be a file name"):
        t5.write_clip_embeddings(tmp_path, {"../escape": "a car"}, encoder=encoder, spec=SPEC)
    with pytest.raises(UserError, match="not a usable view"):
        t5.write_clip_embeddings(tmp_path, {"c": "a car"}, ["../x"], encoder=encoder, spec=SPEC)
    with pytest.raises(UserError, match="No prefix text for view"):
        t5.write_prefix_embeddings(tmp_path, ["fisheye"], encoder=encoder, spec=SPEC)
    with pytest.raises(UserError, match="no caption for view 'pinhole_front_left'"):
        t5.write_clip_embeddings(
            tmp_path, {"c": {"pinhole_front": "car"}}, P1_VIEWS[:4], encoder=encoder, spec=SPEC
        )
    assert not (tmp_path.parent / "escape.pkl").exists()
    # a planted symlink at the target is replaced, never written through
    outside = tmp_path.parent / f"{tmp_path.name}-outside.pkl"
    outside.write_bytes(b"keep")
    link = tmp_path / "t5_xxl" / "pinhole_front" / "l.pkl"
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, link)
    with pytest.raises(UserError, match="outside"):
        t5.write_clip_embeddings(tmp_path, {"l": "a car"}, encoder=encoder, spec=SPEC)
    assert outside.read_bytes() == b"keep"


def test_data_validate_accepts_a_predict1_dataset_embedded_here(
    tmp_path: Path, encoder: t5.T5Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole `data validate` pass on predict1-waymo, its embeddings replaced by ours (width 16)."""
    import dataclasses
    import shutil

    from cosmos_tui.core.datasets import layouts
    from cosmos_tui.core.datasets.synth import synthesize
    from cosmos_tui.core.datasets.validate import validate

    narrow = dataclasses.replace(layouts.LAYOUTS["predict1-waymo"], embeddings=SPEC)
    monkeypatch.setitem(layouts.LAYOUTS, "predict1-waymo", narrow)
    root = synthesize(tmp_path / "ds", "predict1-waymo", clips=3, frames=8, size=(16, 16), workers=1)
    shutil.rmtree(root / "t5_xxl")
    shutil.rmtree(root / "cache")
    clips = {p.stem: f"a car {p.stem}" for p in (root / "videos" / "pinhole_front").glob("*.mp4")}
    assert len(clips) == 3
    t5.write_clip_embeddings(root, clips, encoder=encoder, spec=SPEC)
    t5.write_prefix_embeddings(root, narrow.views, encoder=encoder, spec=SPEC)
    report = validate(root, "predict1-waymo", min_frames=8, workers=1)
    assert report.ok, [(f.id, f.examples) for f in report.findings]
    assert report.embeddings == 3  # the per-clip files it read (prefixes are checked apart)
    # and the check is real: a prefix, then a clip file, of the wrong width fails it
    prefix = root / "cache" / "prefix_pinhole_side_left.pkl"
    good = prefix.read_bytes()
    prefix.write_bytes(pickle.dumps(np.zeros((3, DIM * 2), np.float32)))
    assert not validate(root, "predict1-waymo", min_frames=8, workers=1).ok
    prefix.write_bytes(good)
    with open(root / "t5_xxl" / "pinhole_front" / f"{next(iter(clips))}.pkl", "wb") as f:
        pickle.dump([np.zeros((3, DIM * 2), np.float32)], f)
    assert not validate(root, "predict1-waymo", min_frames=8, workers=1).ok
