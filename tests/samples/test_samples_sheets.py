"""Contact sheets of the mp4s an upstream inference script writes: frames spread over the clip,
tiled with PyAV's PNG encoder, big frames scaled down, a damaged video one sentence (never a
crash of the samples job)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.replay_engine.inference import _mp4

from cosmos_tui.core.sampling.sheets import TILE_WIDTH, spread, write_contact_sheet


def _pixels(path: Path):
    import av

    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def test_spread_takes_first_and_last() -> None:
    assert spread(24, 8) == [0, 3, 7, 10, 13, 16, 20, 23]
    assert spread(3, 8) == [0, 1, 2] and spread(1, 8) == [0] and spread(0, 8) == []


def test_a_long_clip_gives_eight_frames_spread_over_it(tmp_path: Path) -> None:
    video = tmp_path / "s.mp4"
    _mp4(video, frames=24)  # grey 40*t mod 200
    png = write_contact_sheet(video, tmp_path / "s.png", tmp_path)
    sheet = _pixels(png)
    assert sheet.shape == (2 * 32 + 2, 4 * 32 + 3 * 2, 3)  # 8 frames, 4 to a row
    greys = [int(sheet[r * 34 + 4, k * 34 + 4, 0]) for r in range(2) for k in range(4)]
    expected = [(40 * t) % 200 for t in spread(24, 8)]
    assert all(abs(a - b) <= 12 for a, b in zip(greys, expected, strict=True)), (greys, expected)


def test_wide_frames_are_scaled_down(tmp_path: Path) -> None:
    video = tmp_path / "wide.mp4"
    _mp4(video, frames=2, width=1280, height=704)
    sheet = _pixels(write_contact_sheet(video, tmp_path / "wide.png", tmp_path))
    assert sheet.shape[1] == 2 * TILE_WIDTH + 2 and sheet.shape[0] == 210  # 704 * 384 / 1280, made even


def test_a_damaged_video_is_a_value_error_and_nothing_is_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 100)
    with pytest.raises(ValueError, match=r"bad\.mp4"):
        write_contact_sheet(bad, tmp_path / "bad.png", tmp_path)
    assert not (tmp_path / "bad.png").exists()


def test_a_sheet_is_never_written_outside_the_samples_folder(tmp_path: Path) -> None:
    from cosmos_tui.core.errors import UserError

    video = tmp_path / "out" / "s.mp4"
    _mp4(video)
    (tmp_path / "out" / "s.png").symlink_to(tmp_path / "victim.png")
    with pytest.raises(UserError):
        write_contact_sheet(video, tmp_path / "out" / "s.png", tmp_path / "out")
    assert not (tmp_path / "victim.png").exists()


def test_the_samples_job_skips_a_sheet_it_cannot_make_and_says_why(tmp_path: Path, capsys) -> None:
    """An undecodable mp4 or a link planted at the sheet's name: no sheet, one log line, and the
    job goes on to write its index (the sample still counts)."""
    from cosmos_tui.core.sampling.upstream import _sheet

    out = tmp_path / "out"
    (out / "seed0").mkdir(parents=True)
    (out / "seed0" / "0.mp4").write_bytes(b"not a video")
    assert _sheet(out / "seed0" / "0.mp4", out / "000_seed0.png", out) is None
    _mp4(out / "1.mp4")
    (out / "001_seed1.png").symlink_to(tmp_path / "victim.png")
    assert _sheet(out / "1.mp4", out / "001_seed1.png", out) is None
    assert not (tmp_path / "victim.png").exists()
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith("no contact sheet for seed0/0.mp4: 0.mp4 cannot be decoded")
    assert said[1].startswith("no contact sheet for 1.mp4: refusing to touch")
    _mp4(out / "2.mp4")
    assert _sheet(out / "2.mp4", out / "002_seed2.png", out) == "002_seed2.png"
