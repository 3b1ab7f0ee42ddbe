"""An engine's log never drives the terminal (issue 23, item 4): escape sequences that are not a
log's own formatting, C0/C1 controls and bidirectional overrides in console.log reach the screen
as their visible escapes, in `runs logs` (tail, --follow on an ended run, --grep) and in the
parsed lines every reader shares (``shown_line``). The dashboard's log panel:
tests/tui/test_dashboard_log.py."""

from __future__ import annotations

import re

import pytest
from support.runs import add_ended_run
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.display import UNPRINTABLE, printable_line
from cosmos_tui.core.monitor.logline import parse_line, shown_line

pytestmark = pytest.mark.timeout(120)

RUN = "20260101-000000-hostile-0001"

HOSTILE = {
    "loss 0.5 \x1bc": "\\x1bc",  # ESC c: a full terminal reset (no CSI/OSC: not a colour code)
    "bell\x07 then an 8-bit CSI \x9b2J": "\\x9b2J",
    "name \u202egnp.exe": "\\u202e",  # reads backwards
    "isolate \u2066x\u2069 end": "\\u2066x\\u2069",
    "embedding \u202a and \u202b": "\\u202a",
    "a lone ESC at the end \x1b": "\\x1b",
    "backspace \x08\x08 over": "\\x08\\x08",
    "nul \x00 byte": "\\x00",
}
STRIPPED = {
    "\x1b[2J\x1b[H cleared": " cleared",  # CSI: formatting a log carries, dropped
    "\x1b]52;c;ZXZpbA==\x07 clipboard": " clipboard",  # OSC 52 (write the clipboard): dropped
    "\x1b[31mred\x1b[0m loss": "red loss",
}
KEPT = "a\ttab stays"

ALL = [*HOSTILE, *STRIPPED, KEPT]
RAW = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What must never reach the terminal from a log line (a tab may)."""


def test_shown_line_escapes_what_drives_a_terminal() -> None:
    for line, visible in HOSTILE.items():
        shown = shown_line(line)
        assert not RAW.search(shown), repr(shown)
        assert visible in shown, (visible, shown)
        assert parse_line(line).text == shown
    for line, shown in STRIPPED.items():
        assert shown_line(line) == shown
    assert shown_line(KEPT) == KEPT
    assert shown_line("form feed \x0c, vt \x0b") == "form feed \\x0c, vt \\x0b"  # (readers split there)
    assert printable_line("plain é 中 [x]") == "plain é 中 [x]"  # printable text unchanged
    assert not UNPRINTABLE.search(printable_line("".join(map(chr, range(0x20)))).replace("\t", ""))


def _run_with_log() -> None:
    record = add_ended_run(RUN)
    record.console_log.write_text("".join(f"{ln}\n" for ln in ALL))


def _assert_safe(text: str) -> None:
    bad = [(m.group(), text[max(0, m.start() - 20) : m.end() + 20]) for m in RAW.finditer(text)]
    assert not [b for b in bad if b[0] != "\n"], bad
    for visible in HOSTILE.values():
        assert visible in text, (visible, text)


@pytest.mark.parametrize(
    "args",
    [["runs", "logs", RUN, "-n", "100"], ["runs", "logs", RUN, "-f", "-n", "100"]],
    ids=["tail", "follow"],
)
def test_runs_logs_shows_escapes_not_controls(args: list[str]) -> None:
    _run_with_log()
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    _assert_safe(result.stdout)
    assert "tab stays" in result.stdout


def test_runs_logs_grep_shows_escapes_not_controls() -> None:
    _run_with_log()
    result = CliRunner().invoke(app, ["runs", "logs", RUN, "--grep", " "], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    _assert_safe(result.stdout)
