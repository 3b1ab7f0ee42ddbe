"""Whole-file search: counts lines like grep -c, keeps the first hits, stays correct at chunk edges."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from monitor_upstream_lines import P1_SPEED, P25_SPEED, T25_HIT, UNSTABLE

from cosmos_tui.core.errors import UserError
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
