"""Unit tests of the pure parts: the log follower, the braille chart, formatting."""

from __future__ import annotations

import math
from pathlib import Path

from cosmos_tui.tui.log_source import LogFollower
from cosmos_tui.tui.widgets.format import duration, progress, size
from cosmos_tui.tui.widgets.gpu_panel import spark
from cosmos_tui.tui.widgets.loss_chart import render_chart


def test_follower_starts_at_the_tail_and_reads_only_complete_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(b"".join(b"old line %06d\n" % i for i in range(100_000)))  # ~1.7 MB
    f = LogFollower(log, backlog_bytes=4096)
    first = f.read_new()
    assert 0 < len(first) <= 4096 // 16 + 1
    assert first[-1].text == "old line 099999"
    assert all(ln.text.startswith("old line ") and len(ln.text) == 15 for ln in first)  # no torn first line
    with open(log, "ab") as fh:
        fh.write(b"[01-01 12:00:01|ERROR|x.py:1:f] boom\npartial")
    new = f.read_new()
    assert [ln.level for ln in new] == ["ERROR"] and new[0].message == "boom"
    with open(log, "ab") as fh:
        fh.write(b" end\n")
    assert [ln.text for ln in f.read_new()] == ["partial end"]
    assert f.read_new() == []


def test_follower_skips_a_burst_larger_than_a_batch_and_counts_it(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(b"")
    f = LogFollower(log, max_batch_bytes=1000)
    assert f.read_new() == []
    log.write_bytes(b"".join(b"line %05d\n" % i for i in range(1000)))  # 11,000 bytes
    lines = f.read_new()
    assert f.skipped_bytes == 10_000
    assert lines[-1].text == "line 00999" and len(lines) < 100


def test_follower_starts_over_when_the_file_is_replaced(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("a\nb\nc\n")
    f = LogFollower(log)
    assert [ln.text for ln in f.read_new()] == ["a", "b", "c"]
    log.write_text("x\n")
    assert [ln.text for ln in f.read_new()] == ["x"]


def test_chart_has_the_asked_size_and_skips_non_finite_points() -> None:
    pts = [(i, 1.0 / (i + 1)) for i in range(200)] + [(200, math.nan), (201, math.inf)]
    text = render_chart({"run": pts}, width=40, height=6)
    lines = text.plain.split("\n")
    assert len(lines) == 6
    assert all(len(line) == 40 for line in lines[:-1])
    assert lines[0].strip().startswith("1│")
    assert lines[-1].strip().endswith("it 199")
    assert any(ch != "\u2800" and 0x2800 <= ord(ch) <= 0x28FF for ch in lines[-2])  # the tail is low


def test_chart_empty_state() -> None:
    assert render_chart({}, 40, 6, empty="nothing").plain == "nothing"
    assert render_chart({"a": [(1, math.nan)]}, 40, 6).plain == "no data yet"


def test_formatting() -> None:
    assert duration(3725) == "1h02m" and duration(65) == "1m05s" and duration(None) == "–"
    assert progress(120, 500) == "120/500 (24%)" and progress(None, 10) == "–"
    assert size(1536) == "1.5 KiB" and size(12) == "12 B"
    assert spark([0, 50, 100], 3) == "▁▄█"
