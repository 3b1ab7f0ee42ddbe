"""`cosmos-tui runs logs RUN --grep`: the whole console.log searched, numbered lines as grep -n
prints them, context, JSON, and grep's exit codes (0 a match, 1 none, 2 a bad pattern)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support.runs import add_ended_run
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.monitor.loggrep import line_numbers, with_context
from cosmos_tui.core.monitor.logsearch import search_file

RUN = "20260101-000000-grep-test-0001"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def log() -> Path:
    record = add_ended_run(RUN)
    lines = [f"step {i} loss {1 / (i + 1):.3f}" for i in range(3000)]
    lines[10] = "\x1b[31mERROR rank 1: CUDA out of memory\x1b[0m"
    lines[12] = "Traceback (most recent call last):"
    lines[2500] = "error: NaN loss at step 2500"
    record.console_log.write_text("\n".join(lines) + "\n")
    return record.console_log


def test_grep_prints_numbered_matches_from_the_whole_log(log: Path) -> None:
    result = invoke("runs", "logs", RUN, "--grep", "error", "-i")
    assert result.exit_code == 0, result.output
    # far beyond the 50-line tail, ANSI stripped, numbered like grep -n
    assert result.stdout.splitlines() == [
        "11:ERROR rank 1: CUDA out of memory",
        "2501:error: NaN loss at step 2500",
    ]
    if shutil.which("grep"):
        grep = subprocess.run(["grep", "-n", "-i", "error", str(log)], capture_output=True, text=True)
        assert len(grep.stdout.splitlines()) == 2 and grep.stdout.startswith("11:")


def test_grep_is_case_sensitive_without_i(log: Path) -> None:
    result = invoke("runs", "logs", RUN, "--grep", "error")
    assert result.stdout.splitlines() == ["2501:error: NaN loss at step 2500"]


def test_context_lines_and_merged_groups(log: Path) -> None:
    result = invoke("runs", "logs", RUN, "--grep", "ERROR|Traceback", "--regex", "-C", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "10-step 9 loss 0.100",
        "11:ERROR rank 1: CUDA out of memory",
        "12-step 11 loss 0.083",
        "13:Traceback (most recent call last):",
        "14-step 13 loss 0.071",
    ]
    if shutil.which("grep"):
        grep = subprocess.run(
            ["grep", "-n", "-E", "-C", "1", "ERROR|Traceback", str(log)], capture_output=True
        )
        assert len(grep.stdout.splitlines()) == 5


def test_context_separates_groups_like_grep(log: Path) -> None:
    result = invoke("runs", "logs", RUN, "--grep", "error", "-i", "-C", "2")
    lines = result.stdout.splitlines()
    assert (
        lines[lines.index("--") - 1] == "13-Traceback (most recent call last):"
        and lines[lines.index("--") + 1] == "2499-step 2498 loss 0.000"
    )
    assert lines[-1] == "2503-step 2502 loss 0.000"


def test_no_match_exits_1_and_says_so(log: Path) -> None:
    result = invoke("runs", "logs", RUN, "--grep", "segfault")
    assert result.exit_code == 1
    assert result.stdout == "" and "matches 'segfault'" in result.stderr


def test_bad_regex_is_one_sentence_and_exit_2(log: Path) -> None:
    result = invoke("runs", "logs", RUN, "--grep", "loss (", "--regex")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "not a valid regular expression" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--grep", ""],
        ["--grep", "x", "--follow"],
        ["-C", "2"],
        ["--regex"],
        ["--grep", "x", "-C", "-1"],
    ],
)
def test_misuse_is_a_usage_error(log: Path, args: list[str]) -> None:
    result = invoke("runs", "logs", RUN, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_max_count_truncates_and_says_how_many(log: Path) -> None:
    result = invoke("runs", "logs", RUN, "--grep", "loss", "-m", "3")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["1:step 0 loss 1.000", "2:step 1 loss 0.500", "3:step 2 loss 0.333"]
    assert "2998 lines match; the first 3 are shown" in result.stderr


def test_json_has_count_and_numbered_groups(log: Path) -> None:
    result = invoke("runs", "logs", RUN, "--grep", "out of memory", "-C", "1", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["count"] == 1 and not data["truncated"]
    assert data["groups"] == [
        [
            {"line": 10, "text": "step 9 loss 0.100", "match": False},
            {"line": 11, "text": "ERROR rank 1: CUDA out of memory", "match": True},
            {"line": 12, "text": "step 11 loss 0.083", "match": False},
        ]
    ]
    none = invoke("runs", "logs", RUN, "--grep", "nothing here", "--json")
    assert none.exit_code == 1 and json.loads(none.stdout)["count"] == 0


def test_a_run_without_output_yet_matches_nothing() -> None:
    add_ended_run(RUN)
    result = invoke("runs", "logs", RUN, "--grep", "x")
    assert result.exit_code == 1 and "no output yet" in result.stderr


def test_line_numbers_and_context_at_file_edges(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"a1\nb2\r\na3\nb4\na5")  # no final newline, one CRLF line
    found = search_file(path, "a", max_hits=10)
    assert line_numbers(path, [h.offset for h in found.hits]) == [1, 3, 5]
    groups = with_context(path, found.hits, 3)
    assert len(groups) == 1
    assert [(ln.number, ln.text, ln.match) for ln in groups[0]] == [
        (1, "a1", True),
        (2, "b2", False),
        (3, "a3", True),
        (4, "b4", False),
        (5, "a5", True),
    ]


def test_context_of_lines_longer_than_one_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cosmos_tui.core.monitor import loggrep

    monkeypatch.setattr(loggrep, "CONTEXT_READ", 4)
    path = tmp_path / "log"
    path.write_text("x" * 50 + "\nhit\n" + "y" * 30 + "\nz\n")
    found = search_file(path, "hit")
    [[before, hit, after]] = with_context(path, found.hits, 1)
    assert (before.number, before.text) == (1, "x" * 50)
    assert (hit.number, hit.match) == (2, True)
    assert (after.number, after.text) == (3, "y" * 30)
