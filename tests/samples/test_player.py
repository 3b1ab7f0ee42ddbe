"""Opening a sample's mp4: the argv is the opener and the resolved file (a list, no shell), a
missing opener or file is said in one sentence with the command to run, and a launcher that
cannot start is reported, not raised. The launcher is a recorder (a test double): no player starts."""

from __future__ import annotations

from pathlib import Path

from cosmos_tui.core.player import OPENERS, open_file, opener_argv


def test_the_argv_is_the_opener_and_the_resolved_file(tmp_path: Path) -> None:
    clip = tmp_path / "a b;rm -rf ~" / "000_seed0.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"\0")
    link = tmp_path / "link.mp4"
    link.symlink_to(clip)
    started: list[list[str]] = []
    done = open_file(link, launch=started.append, which=lambda name: f"/usr/bin/{name}")
    assert started == [[f"/usr/bin/{OPENERS[0]}", str(clip)]] and done.argv == tuple(started[0])
    assert "'" in done.message  # the path with a space and a semicolon is shown quoted


def test_without_an_opener_the_command_to_run_is_shown(tmp_path: Path) -> None:
    clip = tmp_path / "x.mp4"
    clip.write_bytes(b"\0")
    started: list = []
    done = open_file(clip, launch=started.append, which=lambda name: None)
    assert started == [] and done.argv is None
    assert opener_argv(clip, which=lambda name: None) is None
    assert f"{OPENERS[0]} {clip}" in done.message


def test_a_missing_file_or_a_launcher_that_fails_is_said(tmp_path: Path) -> None:
    gone = open_file(tmp_path / "gone.mp4", launch=lambda argv: None, which=lambda n: "/bin/true")
    assert gone.argv is None and "not there" in gone.message
    clip = tmp_path / "x.mp4"
    clip.write_bytes(b"\0")

    def refuses(argv) -> None:
        raise PermissionError(13, "Permission denied")

    failed = open_file(clip, launch=refuses, which=lambda n: "/usr/bin/xdg-open")
    assert failed.argv is None and "Permission denied" in failed.message
