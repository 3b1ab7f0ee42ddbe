"""Following a growing log from a stored offset into a bounded buffer, and the backwards tail."""

from __future__ import annotations

import os
from pathlib import Path

from monitor_upstream_lines import P1_SPEED, T25_HIT, TRAINER_START, UNSTABLE

from cosmos_tui.core.monitor.logtail import (
    LogTail,
    chunks_from_end,
    last_lines,
    read_from,
    read_new_lines,
    tail_lines,
)


def _write(path: Path, text: str, mode: str = "a") -> None:
    with open(path, mode, encoding="utf-8") as f:
        f.write(text)


def test_tail_lines_reads_only_the_end(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    _write(path, "".join(f"line {i}\n" for i in range(100_000)), "w")
    assert tail_lines(path, 3) == ["line 99997", "line 99998", "line 99999"]
    _write(path, "partial")
    assert tail_lines(path, 2) == ["line 99999", "partial"]
    assert tail_lines(path, 0) == []
    small = tmp_path / "small.log"
    _write(small, "a\nb\n", "w")
    assert tail_lines(small, 10) == ["a", "b"]


def test_follow_partial_lines_and_ring_bound(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    _write(path, "old 1\nold 2\n", "w")
    tail = LogTail(path, max_lines=5, backfill=1)
    assert tail.lines() == ["old 2"]
    _write(path, TRAINER_START + "\n" + T25_HIT[:40])
    up = tail.poll()
    assert up.new_lines == 1 and tail.lines() == ["old 2", TRAINER_START]
    _write(path, T25_HIT[40:] + "\n")
    up = tail.poll()
    assert up.new_lines == 1 and up.chunk == (T25_HIT + "\n").encode()
    assert tail.lines()[-1] == T25_HIT
    _write(path, "".join(f"n{i}\n" for i in range(20)))
    tail.poll()
    assert tail.lines() == [f"n{i}" for i in range(15, 20)]
    assert tail.total_lines == 1 + 2 + 20 and tail.first_seq == 18
    assert tail.consumed == path.stat().st_size


def test_resume_from_stored_offset_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    _write(path, "a\nb\n", "w")
    first = LogTail(path, start="begin")
    first.poll()
    stored = first.consumed
    _write(path, "c\n")
    again = LogTail(path, start=stored)
    again.poll()
    assert again.lines() == ["c"]
    _write(path, "x\n", "w")  # truncated and rewritten (a restarted run)
    up = again.poll()
    assert up.reset and again.lines()[-1] == "x"
    os.replace(tmp_path / "console.log", tmp_path / "old.log")
    _write(path, "fresh 1\nfresh 2\n", "w")  # a new file under the same name
    up = again.poll()
    assert up.reset and again.lines()[-2:] == ["fresh 1", "fresh 2"]


def test_missing_file_then_created(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    tail = LogTail(path)
    assert tail.poll().new_lines == 0 and tail.lines() == []
    _write(path, "hello\n", "w")
    assert tail.poll().new_lines == 1 and tail.lines() == ["hello"]


def test_view_filters_and_ansi(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    _write(path, "\n".join([TRAINER_START, "\x1b[31m" + UNSTABLE + "\x1b[0m", P1_SPEED, "plain"]) + "\n", "w")
    tail = LogTail(path, start="begin")
    tail.poll()
    assert tail.lines()[1] == UNSTABLE
    assert [ln.text for _, ln in tail.view(min_level="critical")] == [UNSTABLE]
    assert [s for s, _ in tail.view(query="ITER_SPEED")] == [2]
    assert [s for s, _ in tail.view(rank=3)] == [1]
    assert [ln.text for _, ln in tail.view(last=2)] == [P1_SPEED, "plain"]


def test_last_lines_are_capped_and_skip_blanks_and_non_files(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    _write(path, "".join(f"line {i}  \n\n" for i in range(10_000)), "w")
    assert last_lines(path, 2) == ["line 9998", "line 9999"]
    assert len(last_lines(path, 10_000, max_bytes=100)) < 20  # only the last 100 bytes are read
    assert last_lines(tmp_path / "absent.log") == []
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert last_lines(fifo) == []  # a FIFO neither blocks nor counts as a log


def test_read_new_lines_takes_capped_chunks_of_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    assert read_new_lines(path, 0) == ([], 0)  # not there yet
    _write(path, "one\ntwo\nthr", "w")
    assert read_new_lines(path, 0) == (["one", "two"], 8)
    assert read_new_lines(path, 0, max_bytes=6) == (["one"], 4)  # the rest comes on the next call
    assert read_new_lines(path, 8) == ([], 8)  # a partial line waits for its newline
    _write(path, "ee\n")
    assert read_new_lines(path, 8) == (["three"], 14)
    assert read_new_lines(path, 0, max_bytes=2) == (["on"], 2)  # a line over the cap is cut
    _write(path, "new\n", "w")  # replaced by a shorter file: read again from its top
    assert read_from(path, 14) == (b"new\n", 0)
    assert read_new_lines(path, 14) == (["new"], 4)


def test_chunks_from_end_are_whole_lines_back_to_the_top(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    text = "".join(f"line {i}\n" for i in range(1000)) + "x" * 300 + "\nlast"
    _write(path, text, "w")
    pieces = list(chunks_from_end(path, chunk=64))
    assert b"".join(reversed(pieces)) == text.encode()  # every byte once, in order
    assert pieces[0].endswith(b"last") and all(p.endswith(b"\n") for p in pieces[1:])
    assert all(p.startswith((b"line", b"x")) for p in pieces[1:])  # each starts a line
    assert any(len(p) > 300 for p in pieces)  # the long line came whole
    assert list(chunks_from_end(tmp_path / "absent.log")) == []
