"""Dataset readers on real synthesized mp4s: shapes per layout, skipping corrupt clips, clear
errors for missing data, the numpy-only unpickler and the resumable sampler."""

from __future__ import annotations

import logging
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cosmos_engine.compose import compose_config
from cosmos_engine.datasets import ClipDataset, blur, edges
from cosmos_engine.errors import DataError
from cosmos_engine.sampler import ResumableSampler
from cosmos_engine.video import load_embedding_pickle, read_frames

from cosmos_tui.core.datasets.synth import synthesize


def _dataset(experiment: str, root: Path, *extra: str) -> ClipDataset:
    cfg = compose_config([f"experiment={experiment}", f"dataloader_train.dataset.dataset_dir={root}", *extra])
    return ClipDataset(cfg.dataloader_train.dataset, seed=0)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("layouts")
    return {
        name: synthesize(base / name, name, clips=2, frames=9, workers=2)
        for name in ("transfer25-singleview", "transfer25-multiview-hdmap")
    }


def test_waymo_items_follow_the_upstream_loader(waymo_data: Path) -> None:
    ds = _dataset("s2mv_text2world_tiny", waymo_data, "dataloader_train.dataset.start_frame_interval=2")
    assert len(ds) == 3 * 3  # 3 clips x windows of 8 frames starting at 0, 2, 4 in 12 frames
    item = ds[4]
    assert item["video"].shape == (2, 8, 3, 64, 96)
    assert item["video"].dtype == torch.uint8  # a quarter of float's bytes through workers and H2D
    assert item["video"].max() > item["video"].min()
    assert item["view_ids"][0] == 0  # the front view is always in
    caption = load_embedding_pickle(waymo_data / "t5_xxl" / "pinhole_front" / "clip_0001.pkl")[0]
    n = min(len(caption), 32)
    assert torch.equal(item["text"][:n], torch.from_numpy(caption[:n]))
    assert item["text_mask"].sum() == min(32, len(caption) + 12 + 12 + int(item["view_ids"][1]))
    again = ds[4]
    assert torch.equal(again["video"], item["video"]) and torch.equal(again["view_ids"], item["view_ids"])


def test_transfer_layouts_give_video_and_control(layouts: dict[str, Path]) -> None:
    for control in ("edge", "vis", "depth", "seg"):
        item = _dataset(f"transfer_singleview_{control}_tiny", layouts["transfer25-singleview"])[0]
        assert item["video"].shape == item["control"].shape == (1, 8, 3, 64, 96)
        assert item["control"].dtype == torch.uint8
        assert not torch.equal(item["video"], item["control"])
    item = _dataset("transfer_multiview_hdmap_tiny", layouts["transfer25-multiview-hdmap"])[1]
    assert item["video"].shape == item["control"].shape == (2, 8, 3, 64, 96)
    assert item["text_mask"].any()


def test_edge_and_blur_controls() -> None:
    frame = -torch.ones(1, 3, 16, 16)
    frame[..., 4:12, 4:12] = 1.0
    e = edges(frame)
    assert e[0, 0, 8, 8] == -1 and e[0, 0, 8, 4] == 1  # flat inside, edge on the border
    b = blur(frame)
    assert b.shape == frame.shape and -1 < float(b[0, 0, 4, 8]) < 1


def test_uint8_pixels_map_to_the_float_range_and_back() -> None:
    from cosmos_engine.datasets import to_uint8
    from cosmos_engine.flow import pixels

    raw = torch.arange(256, dtype=torch.uint8)
    x = pixels(raw)
    assert x.dtype == torch.float32 and float(x[0]) == -1.0 and float(x[-1]) == 1.0
    assert torch.equal(to_uint8(x), raw)
    assert pixels(x) is x  # float frames pass through


def test_a_corrupt_clip_is_skipped_with_a_warning(tmp_path: Path, waymo_data: Path, caplog) -> None:
    root = tmp_path / "waymo"
    shutil.copytree(waymo_data, root)
    (root / "videos" / "pinhole_front_left" / "clip_0002.mp4").write_bytes(b"\x00not an mp4" * 50)
    with caplog.at_level(logging.WARNING, logger="cosmos_engine"):
        ds = _dataset("s2mv_text2world_tiny", root, "dataloader_train.dataset.sample_n_views=-1")
    assert {clip.name for clip, _ in ds.windows} == {"clip_0000", "clip_0001"}
    assert "Skipping clip clip_0002: cannot decode it" in caplog.text


def test_only_corrupt_videos_is_one_clear_error(tmp_path: Path, waymo_data: Path) -> None:
    root = tmp_path / "waymo"
    shutil.copytree(waymo_data, root)
    for mp4 in (root / "videos" / "pinhole_front").glob("*.mp4"):
        mp4.write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"no usable clip in .*: 3 found, 0 decodable"):
        _dataset("s2mv_text2world_tiny", root)


def test_missing_data_errors_name_what_to_fix(tmp_path: Path, waymo_data: Path) -> None:
    unset = compose_config(["experiment=s2mv_text2world_tiny"]).dataloader_train.dataset
    with pytest.raises(DataError, match="dataset_dir is not set"):
        ClipDataset(unset, seed=0)
    with pytest.raises(DataError, match=r"dataset folder .*nowhere does not exist"):
        _dataset("s2mv_text2world_tiny", tmp_path / "nowhere")
    root = tmp_path / "waymo"
    shutil.copytree(waymo_data, root)
    (root / "cache" / "prefix_pinhole_side_left.pkl").unlink()
    with pytest.raises(DataError, match=r"missing prefix embedding .*prefix_pinhole_side_left\.pkl"):
        _dataset("s2mv_text2world_tiny", root)
    with pytest.raises(DataError, match="at least 32 frames"):
        _dataset("s2mv_text2world_tiny", waymo_data, "dataloader_train.dataset.num_frames=32")


class _Boom:
    def __reduce__(self):
        return (print, ("pwned",))


def test_embedding_pickles_load_only_numpy(tmp_path: Path) -> None:
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps([np.ones((3, 4), np.float32)]))
    assert load_embedding_pickle(good)[0].shape == (3, 4)
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load builtins\.print"):
        load_embedding_pickle(bad)
    for damage, why in (
        (b"\x80\x04\x8e" + (2**62).to_bytes(8, "little"), "larger than memory"),
        (b"\x80\x04\x95" + (2**63).to_bytes(8, "little"), "OverflowError"),
        (b"\x80\x04", "EOFError"),
    ):
        bad.write_bytes(damage)
        with pytest.raises(pickle.UnpicklingError, match=f"bad.pkl is damaged: .*{why}"):
            load_embedding_pickle(bad)


def test_resumable_sampler_continues_the_same_stream() -> None:
    data = list(range(7))
    for rank in (0, 1):
        full = ResumableSampler(data, rank=rank, world_size=2, seed=5)
        stream = [i for i, _ in zip(full, range(20), strict=False)]
        for start in (0, 3, 4, 9):
            resumed = ResumableSampler(data, rank=rank, world_size=2, seed=5, start=start)
            assert [i for i, _ in zip(resumed, range(20 - start), strict=False)] == stream[start:]
    data = list(range(8))
    a = [i for i, _ in zip(ResumableSampler(data, rank=0, world_size=2, seed=5), range(4), strict=False)]
    b = [i for i, _ in zip(ResumableSampler(data, rank=1, world_size=2, seed=5), range(4), strict=False)]
    assert not set(a) & set(b)  # ranks read disjoint shards of an epoch


def test_a_window_late_in_a_video_matches_a_full_decode(tmp_path: Path) -> None:
    import av

    root = synthesize(tmp_path / "long", "transfer25-singleview", clips=1, frames=60, workers=1)
    path = root / "videos" / "clip_0000.mp4"
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24", width=48, height=32) for f in container.decode(video=0)]
    for start in (0, 1, 29, 52):
        assert np.array_equal(read_frames(path, start, 8, (32, 48)), np.stack(frames[start : start + 8]))
    with pytest.raises(ValueError, match="has only 60 frames, at least 61 are needed"):
        read_frames(path, 53, 8, (32, 48))
