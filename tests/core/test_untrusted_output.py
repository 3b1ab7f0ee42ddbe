"""Untrusted names never drive the terminal (issue 19, item 7): a file or folder whose name holds a
newline, a carriage return, an escape sequence or Rich markup prints as its escapes, on its own
line, in every CLI reader that shows names from disk or from a user (real files, CliRunner)."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest
from click.testing import Result
from support.waymo import synth_waymo
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.display import markup_safe, printable
from cosmos_tui.core.runs import registry
from cosmos_tui.core.runs.record import RunRecord

pytestmark = pytest.mark.timeout(120)

FAKE = "valid: the loader will open this dataset"
HOSTILE = f"evil\n{FAKE}\x1b[2J\r[red]x\u202e"


def _cli(*args: str) -> Result:
    # A wide terminal, so that every column (the note, the experiment) is printed and checked.
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def _assert_tame(result: Result) -> None:
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    for raw in ("\x1b", "\r", "\u202e"):
        assert raw not in text, (raw, text[-2000:])
    assert not any(line.lstrip().startswith(FAKE) for line in text.splitlines()), text[-2000:]
    assert "evil\\n" in text, text[-2000:]


def test_printable_and_markup_safe() -> None:
    assert printable("a\nb\x1b[2J\r\t\x00\x7f\x9b\u202e\u2028z") == (
        "a\\nb\\x1b[2J\\r\\t\\x00\\x7f\\x9b\\u202e\\u2028z"
    )
    assert printable("é 中 [x] ok") == "é 中 [x] ok"
    assert markup_safe("[bold]x[/]") == "\\[bold]x\\[/]"


def test_data_validate_escapes_hostile_file_names(tmp_path: Path) -> None:
    root = synth_waymo(tmp_path / "ds", clips=1, frames=12)
    (root / "videos" / "pinhole_front" / f"{HOSTILE}.mp4").write_bytes(b"not a video")
    result = _cli("data", "validate", str(root), "--layout", "predict1-waymo")
    assert result.exit_code == 1
    _assert_tame(result)
    assert "[red]x" in result.stdout  # markup shown as written, not applied


def test_ckpt_list_and_errors_escape_a_hostile_folder(tmp_path: Path) -> None:
    job = tmp_path / HOSTILE
    (job / "checkpoints").mkdir(parents=True)
    _assert_tame(_cli("ckpt", "list", str(job)))
    _assert_tame(_cli("ckpt", "list", str(tmp_path / f"missing-{HOSTILE}")))


def test_preset_errors_escape_a_hostile_path(tmp_path: Path) -> None:
    path = tmp_path / f"{HOSTILE}.toml"
    path.write_text("[launch]\nnproc_per_node = 0\n")
    for args in (("preset", "validate", str(path)), ("preset", "render", str(path))):
        result = _cli(*args)
        assert result.exit_code == 1
        _assert_tame(result)


def test_runs_list_and_show_escape_a_hostile_record() -> None:
    run_id = "20260101-000000-evil-0001"
    registry.create(
        RunRecord(
            id=run_id,
            run_dir=registry.run_dir_for(run_id),
            preset={},
            shell=f"cd /work\ntorchrun {shlex.quote(HOSTILE)}",
            status="failed",
            reason=HOSTILE,
            exit_code=1,
            created_at=time.time() - 10,
            started_at=time.time() - 9,
            ended_at=time.time() - 1,
            job_dir=f"/tmp/{HOSTILE}",
            experiment=HOSTILE,
        )
    )
    for args in (("runs", "list"), ("runs", "show", run_id)):
        result = _cli(*args)
        assert result.exit_code == 0, result.output
        _assert_tame(result)
