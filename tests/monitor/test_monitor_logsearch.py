"""Whole-file search: counts lines like grep -c, keeps the first hits, stays correct at chunk edges."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from monitor_upstream_lines import P1_SPEED, P25_SPEED, T25_HIT, UNSTABLE

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor import bytescan
from cosmos_tui.core.monitor.logline import shown_line
from cosmos_tui.core.monitor.logsearch import search_file


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "console.log"
    lines = [T25_HIT, P25_SPEED, "\x1b[31m" + UNSTABLE + "\x1b[0m", P1_SPEED, "Loss: nan twice Loss: nan"]
    path.write_text("\n".join(lines * 40) + "\n")
    return path


@pytest.mark.parametrize("chunk", [1, 5000, 1 << 20])
def test_counts_match_grep(log: Path, chunk: int) -> None:
    for query in ["iter_speed", "Loss: nan", "RANK 3", "zzz"]:
        got = search_file(log, query, window=chunk, max_hits=7)
        expected = sum(query in line for line in log.read_text().splitlines())
        assert got.count == expected
        assert len(got.hits) == min(7, expected) and got.truncated == (expected > 7)
        if shutil.which("grep"):
            grep = subprocess.run(["grep", "-c", "-F", query, str(log)], capture_output=True, text=True)
            assert int(grep.stdout) == got.count


def test_hits_carry_offsets_and_clean_text(log: Path) -> None:
    got = search_file(log, "unstable LOSS", ignore_case=True, max_hits=2)
    data = log.read_bytes()
    for hit in got.hits:
        assert data[hit.offset :].startswith(b"\x1b[31m")
        assert hit.line == UNSTABLE
    assert got.count == 40


def test_regex_and_bad_input(log: Path) -> None:
    got = search_file(log, r"Loss: -\d", regex=True)
    assert got.count == 40 and got.hits[0].line == P1_SPEED
    with pytest.raises(UserError, match="not a valid regular expression"):
        search_file(log, "(", regex=True)
    with pytest.raises(UserError, match="empty"):
        search_file(log, "")


def test_range(log: Path) -> None:
    data = log.read_bytes()
    start = data.index(b"\n", len(data) // 2) + 1
    expected = sum(b"Loss: -0" in line for line in data[start:].split(b"\n"))
    assert 0 < expected < 40
    assert search_file(log, "Loss: -0", start=start).count == expected
    assert search_file(log, "Loss: -0", end=start).count == 40 - expected


# Bytes the case fold could confuse: "*" with newline, NUL with space, control bytes with digits and
# punctuation, "[" with "{", "@" with "`", CR, and non-ASCII bytes that differ by 0x20.
TRICKY = b"aAbBzZ09 *\x00\x10\x19[{@`\r\t-|\\_\x7f\xc3\xa9\xe3\x89\xdf\xff\xe0"


def _tricky(raw: bytes) -> bytes:
    return bytes(TRICKY[x % len(TRICKY)] for x in raw)


def _reference(data: bytes, needle: bytes, ignore_case: bool) -> list[int]:
    """Offsets of the lines holding ``needle``, by splitting the file into lines in Python."""
    fold = (lambda b: b.lower()) if ignore_case else (lambda b: b)
    offsets, pos = [], 0
    for line in data.split(b"\n"):
        if fold(needle) in fold(line):
            offsets.append(pos)
        pos += len(line) + 1
    return offsets


@pytest.mark.parametrize(("piece", "sparse"), [(7, 0), (64, 1), (1 << 18, 32)])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.binary(max_size=30).map(_tricky), max_size=40),
    needle=st.text(TRICKY[:-7].decode("ascii"), min_size=1, max_size=4),
    ignore_case=st.booleans(),
    window=st.sampled_from([1, 50, 1 << 20]),
    max_hits=st.sampled_from([0, 3, 1000]),
)
def test_literal_search_matches_a_line_split_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int, sparse: int, lines: list[bytes], needle: str,
    ignore_case: bool, window: int, max_hits: int,
) -> None:  # fmt: skip
    """Exact counts and hit offsets whatever the bytes around the needle, the window and piece
    sizes, and whichever loop (one ``find`` per hit, or ``findall``) counts."""
    for name, value in [("PIECE", piece), ("PLAIN_PIECE", piece), ("SPARSE", sparse)]:
        monkeypatch.setattr(bytescan, name, value)
    path = tmp_path / "mixed.log"
    data = b"\n".join(lines)
    path.write_bytes(data)
    got = search_file(path, needle, ignore_case=ignore_case, window=window, max_hits=max_hits)
    expected = _reference(data, needle.encode(), ignore_case)
    assert got.count == len(expected)
    assert [h.offset for h in got.hits] == expected[:max_hits]
    assert got.truncated == (len(expected) > max_hits)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([b"MOOV atom * moov ATOM", b"mOOV*ATOM", b"Moov Atom", b"plain"], 2),  # "*" folds like "\n"
        ([b"moov\x00atom", b"Moov Atom", b"MOOV\x00ATOM moov atom"], 2),  # NUL folds like " "
        ([b"moov{atom", b"moov[atom", b"MOOV ATOM"], 1),  # "{" folds like "["
        ([b"Moov Atom", b"plain"], 1),  # nothing to confuse: the fast fold
    ],
)
def test_ignore_case_with_fold_partners(tmp_path: Path, rows: list[bytes], expected: int) -> None:
    """Pieces holding bytes the fast fold would confuse with the needle or a newline count exactly."""
    path = tmp_path / "console.log"
    path.write_bytes(b"\n".join(rows * 3000) + b"\n")
    query = "moov[atom" if b"moov[atom" in rows else "moov atom"
    got = search_file(path, query, ignore_case=True, max_hits=3)
    assert got.count == expected * 3000 and got.truncated
    want = [shown_line(r.decode()) for r in rows * 3 if query.encode() in r.lower()][:3]
    assert [h.line for h in got.hits] == want  # the hit as shown: a NUL as its escape


def test_line_break_in_query_is_a_user_error(log: Path) -> None:
    with pytest.raises(UserError, match="line break"):
        search_file(log, "Loss\nIteration")
