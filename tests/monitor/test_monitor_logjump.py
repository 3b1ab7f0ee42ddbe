"""Whole-log navigation: buffered lines located by byte offset, context read around an offset, and
the first error found by the log grammar (real files, no mocks)."""

from __future__ import annotations

from pathlib import Path

from cosmos_tui.core.monitor.logjump import context_at, first_error, index_in, is_error, line_starts
from cosmos_tui.core.monitor.logsearch import search_file


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "console.log"
    path.write_bytes("".join(f"{ln}\n" for ln in lines).encode())
    return path


def test_line_starts_are_the_offsets_of_the_last_lines(tmp_path: Path) -> None:
    lines = [f"line {i} " + "x" * (i % 7) for i in range(5000)]
    path = _write(tmp_path, lines)
    data = path.read_bytes()
    every = [0] + [i + 1 for i, b in enumerate(data[:-1]) if b == 0x0A]
    assert line_starts(path, len(data), 10) == every[-10:]
    assert line_starts(path, len(data), 10**6) == every  # the whole file, from its first byte
    # ending earlier (what a view had buffered when it asked), across read blocks
    end = every[3000]
    assert line_starts(path, end, 2500) == every[500:3000]
    assert line_starts(path, 0, 5) == []


def test_a_hit_maps_to_its_buffered_line_or_to_none(tmp_path: Path) -> None:
    lines = [f"step {i}" for i in range(100)] + ["needle here"] + [f"step {i}" for i in range(100, 200)]
    path = _write(tmp_path, lines)
    hit = search_file(path, "needle").hits[0]
    starts = line_starts(path, path.stat().st_size, 150)  # the buffer: the last 150 lines
    assert index_in(starts, hit.offset) == 150 - 101
    starts = line_starts(path, path.stat().st_size, 50)
    assert index_in(starts, hit.offset) is None


def test_context_around_an_offset(tmp_path: Path) -> None:
    lines = [f"\x1b[32mline {i}\x1b[0m" for i in range(1000)]
    path = _write(tmp_path, lines)
    hit = search_file(path, "line 500\x1b").hits[0]
    ctx = context_at(path, hit.offset, before=5, after=3)
    assert ctx.lines == tuple(f"line {i}" for i in range(495, 504))
    assert ctx.lines[ctx.hit] == "line 500"
    assert path.read_bytes()[ctx.first_offset :].startswith(b"\x1b[32mline 495")
    top = context_at(path, 3, before=5, after=1)  # near the top: fewer lines before
    assert top.lines == ("line 0", "line 1") and top.hit == 0 and top.first_offset == 0


def test_first_error_uses_the_log_grammar(tmp_path: Path) -> None:
    noise = [
        f"[01-01 12:00:{i % 60:02d}|INFO|engine/trainer.py:1:train] ErrorRate fine {i}" for i in range(500)
    ]
    path = _write(
        tmp_path,
        [
            *noise,
            "[rank1]: Traceback (most recent call last):",
            '[rank1]:   File "train.py", line 3',
            "[rank1]: RuntimeError: boom",
        ],
    )
    hit = first_error(path, batch=50)  # past ten batches of lines that only mention errors
    assert hit is not None and hit.line == "[rank1]: Traceback (most recent call last):"
    assert first_error(_write(tmp_path, noise)) is None
    assert is_error("[01-01 12:00:00|ERROR|a.py:1:f] CUDA out of memory")
    assert is_error("error: dataset_dir is not set")
    assert not is_error("[01-01 12:00:00|INFO|a.py:1:f] no Error: here")


def test_compact_prefix_keeps_time_level_rank_and_module() -> None:
    from cosmos_tui.core.monitor.logline import compact_text, parse_line

    raw = (
        "[rank1]:[01-01 12:00:07|INFO|cosmos_engine/trainer.py:212:train] "
        "Iteration 7: Hit counter: 7/10 | Loss: 0.6543 | Time: 0.420s"
    )
    short = compact_text(parse_line(raw))
    assert short == "12:00:07 I r1 trainer:212 Iteration 7: Hit counter: 7/10 | Loss: 0.6543 | Time: 0.420s"
    assert len(raw) - len(short) >= 35
    assert compact_text(parse_line("[rank3]: RuntimeError: boom")) == "r3 RuntimeError: boom"
    assert compact_text(parse_line("plain torchrun line")) == "plain torchrun line"
