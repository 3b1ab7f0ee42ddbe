"""The exit-code convention of README's CLI reference, command by command: 0 ok, 1 the thing
checked is bad (a preset, also one a --set makes), the thing named (a run, a preset, a path)
does not exist, or the
run failed, 2 the command line is wrong
(unknown option, missing argument, a --set that is not key=value, options that exclude each
other, a value outside an option's fixed choices)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.runs import add_ended_run
from typer.testing import CliRunner

from cosmos_tui.cli.app import app

RUN = "20260101-000000-codes-0001"

# (command, situation, expected exit code)
TABLE: list[tuple[list[str], str, int]] = [
    (["--help"], "help", 0),
    (["models", "list"], "a reader", 0),
    (["models", "show", "nosuch"], "an unknown model", 1),
    (["models", "list", "--bogus"], "an unknown option", 2),
    (["preset", "list", "--json"], "a reader", 0),
    (["preset", "show", "nosuch"], "an unknown preset", 1),
    (["preset", "validate", "builtin-demo"], "a valid preset", 0),
    (["preset", "validate", "{tmp}/missing.toml"], "a preset file that is not there", 1),
    (["preset", "render", "builtin-demo", "--target", "moon"], "a value outside the choices", 2),
    (["preset", "render", "builtin-demo", "--set", "noequals"], "a malformed --set", 2),
    (
        ["preset", "show", "builtin-demo", "--set", "launch.nproc_per_node=abc"],
        "a --set the preset refuses",
        1,
    ),
    (["run", "nosuch", "--dry-run"], "an unknown preset", 1),
    (["run", "builtin-demo", "--dry-run", "--set", "data.root={tmp}/none"], "a failing check", 1),
    (["run", "builtin-demo", "--dry-run", "--resume", "--fresh"], "options that exclude each other", 2),
    (["run", "builtin-demo", "--dry-run", "--target", "moon"], "a value outside the choices", 2),
    (["run", "builtin-demo", "--dry-run", "--set", "noequals"], "a malformed --set", 2),
    (["run"], "a missing argument", 2),
    (["fit"], "a missing argument", 2),
    (["fit", "nosuch"], "an unknown preset", 1),
    (["fit", "builtin-demo", "--set", "noequals"], "a malformed --set", 2),
    (["fit", "builtin-demo", "--timeout", "0"], "a value below the minimum", 2),
    (["runs", "list"], "no runs yet", 0),
    (["runs", "show", "nosuch"], "an unknown run", 1),
    (["runs", "show", RUN], "a run", 0),
    (["runs", "logs", RUN], "a run's log", 0),
    (["runs", "logs", RUN, "--grep", "hello"], "a match", 0),
    (["runs", "logs", RUN, "--grep", "absent"], "no match", 1),
    (["runs", "logs", RUN, "--grep", "(", "--regex"], "a bad regex", 2),
    (["runs", "logs", RUN, "-C", "2"], "-C without --grep", 2),
    (["runs", "rm", RUN], "a delete without --yes", 1),
    (["runs", "rm", RUN, "--dry-run"], "a dry-run delete", 0),
    (["queue", "list"], "an empty queue", 0),
    (["queue", "cancel", "nosuch"], "an unknown entry", 1),
    (["queue", "add", "builtin-demo", "--target", "slurm"], "a Slurm run (Slurm queues it)", 2),
    (["queue", "add", "builtin-demo", "--gpus", "0-x"], "a malformed GPU set", 2),
    (["queue", "add", "nosuch"], "an unknown preset", 1),
    (["sweep", "builtin-demo"], "no --grid", 2),
    (["sweep", "builtin-demo", "--grid", "optimizer.lr=1,$(id)"], "a hostile grid value", 2),
    (["sweep", "show", "nosuch"], "an unknown sweep", 1),
    (["jobs", "list"], "a reader", 0),
    (["jobs", "show", "nosuch"], "an unknown job", 1),
    (["ckpt", "list", "{tmp}/none"], "a path that is not there", 1),
    (["ckpt", "verify", "{tmp}/none"], "a path that is not there", 1),
    (["ckpt", "forecast", "{tmp}/none"], "a path that is not there", 1),
    (["ckpt", "prune", "{tmp}/none", "--keep-last", "1"], "a path that is not there", 1),
    (["ckpt", "pin", "{tmp}/none", "10"], "a path that is not there", 1),
    (["ckpt", "export", "{tmp}/none", "--out", "{tmp}/x"], "a path that is not there", 1),
    (["ckpt", "convert", "{tmp}/none"], "a path that is not there", 1),
    (["data", "validate", "{tmp}/none"], "a path that is not there", 1),
    (["data", "validate", "{tmp}/none", "--json"], "a path that is not there", 1),
    (["data", "validate", "{tmp}/none", "--yes"], "--yes without --fix (before the path)", 2),
    (["data", "validate", "{tmp}/file"], "a file, not a dataset folder", 1),
    (["data", "synth", "{tmp}/file", "--layout", "predict1-waymo"], "a file where the set goes", 1),
    (
        ["data", "synth", "{tmp}/no/such/set", "--layout", "predict1-waymo"],
        "missing parents, no --parents",
        1,
    ),
    (["preset", "render", "{tmp}/missing.toml"], "a preset file that is not there", 1),
    (["run", "{tmp}/missing.toml", "--dry-run"], "a preset file that is not there", 1),
    (["ckpt", "export", RUN], "a missing --out", 2),
    (["data", "layouts"], "a reader", 0),
    (["data", "validate", "{tmp}", "--layout", "nosuch"], "a value outside the choices", 2),
    (["data", "validate", "{tmp}", "--yes"], "--yes without --fix", 2),
    (["hf", "whoami"], "not logged in", 1),
    (["hf", "logout"], "not logged in", 0),
    (["hf", "login"], "no terminal to ask on", 2),
    (["hf", "access", "nosuch"], "an unknown model", 1),
    (["gpus"], "no GPU", 0),
    (["demo", "--bogus"], "an unknown option", 2),
    ([], "the TUI without a terminal", 2),
]


@pytest.mark.parametrize(
    ("argv", "situation", "code"), TABLE, ids=[f"{' '.join(a[:3])}: {s}" for a, s, _ in TABLE]
)
def test_exit_code(tmp_path: Path, argv: list[str], situation: str, code: int) -> None:
    record = add_ended_run(RUN)
    record.console_log.write_text("hello\nworld\n")
    (tmp_path / "file").write_text("a file, not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code, f"{situation}: {result.output}"
    assert "Traceback" not in result.output
    if code == 2 and argv:
        assert result.stderr.strip(), "a usage error says what is wrong"


def test_dry_run_with_only_warnings_exits_0(tmp_path: Path) -> None:
    import json

    from cosmos_tui.core import demo

    data = tmp_path / "data"
    demo.synthesize(data, "predict1-waymo", clips=2, frames=demo.DEMO_FRAMES, size=demo.DEMO_SIZE)
    # the job folder lands under /tmp (pytest's tmp): a warning, not a failure
    result = CliRunner().invoke(
        app, ["run", "builtin-demo", "--dry-run", "--json", "--set", f"data.root={data}"]
    )
    levels = {c["level"] for c in json.loads(result.stdout)["checks"]}
    assert "fail" not in levels, result.output
    assert result.exit_code == 0, result.output
