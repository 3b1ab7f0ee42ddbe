"""File-system errors are one sentence naming the path and what to do: a state root that is a
file or read-only, a run record or job config that is a device or FIFO, a file where a folder
should be, and the engine's own pointer reads. Never a traceback, never a hang."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.fserrors import describe_os_error
from cosmos_tui.core.paths import runs_root
from cosmos_tui.core.runs import registry

pytestmark = pytest.mark.timeout(120)


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _clean(res) -> None:
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output


def test_a_state_root_that_is_a_file_is_one_sentence(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "state").write_text("not a folder")
    for home in (tmp_path / "state", tmp_path / "state" / "below"):
        monkeypatch.setenv("COSMOS_TUI_HOME", str(home))
        res = _cli("runs", "list")
        _clean(res)
        assert res.exit_code == 1
        assert res.stderr.startswith(f"error: the cosmos-tui state folder {tmp_path / 'state'} is a file")
        assert "COSMOS_TUI_HOME" in res.stderr and res.stderr.count("\n") == 1


def test_a_read_only_state_root_is_one_sentence() -> None:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run the CLI as an unprivileged user")
    base = Path(tempfile.mkdtemp(prefix="cosmos-tui-ro-", dir="/tmp"))
    try:
        base.chmod(0o555)  # nobody can enter it but not create the state folder's runs/ in it
        env = {**os.environ, "COSMOS_TUI_HOME": str(base), "HOME": str(base)}
        code = "import sys; from cosmos_tui.cli.app import main; sys.exit(main(sys.argv[1:]))"
        drop = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        res = subprocess.run(
            [*drop, sys.executable, "-c", code, "runs", "list"],
            env=env,
            cwd="/",
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        base.chmod(0o755)
        shutil.rmtree(base)
    assert "Traceback" not in res.stderr and res.returncode == 1, res.stderr
    assert res.stderr.startswith(f"error: the cosmos-tui state folder {base}/runs cannot be created")
    assert "permission denied" in res.stderr and "COSMOS_TUI_HOME" in res.stderr


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "sparse"])
def test_a_run_record_that_is_a_device_fifo_or_huge_is_refused_at_once(kind: str) -> None:
    run_dir = runs_root() / "20260101-000000-x"
    run_dir.mkdir()
    path = run_dir / "run.json"
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        with open(path, "wb") as f:
            f.truncate(10 << 30)
    # The registry turns the refused read into one sentence (and `runs list` into an unreadable row).
    with pytest.raises(UserError) as e:
        registry.read(run_dir)
    text = e.value.message
    assert str(path) in text and "\n" not in text
    assert "regular file" in text or "larger" in text
    assert registry.read_or_unreadable(run_dir).status == "unreadable"


def test_a_file_where_a_folder_should_be_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    res = _cli("data", "synth", str(tmp_path / "afile" / "ds"), "-l", "predict25-video2world", "--clips", "1")
    _clean(res)
    assert res.exit_code == 1
    assert res.stderr.startswith(f"error: cannot use {tmp_path / 'afile' / 'ds'}")
    assert "a part of the path is a file, not a folder" in res.stderr


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_a_job_config_that_is_a_device_or_fifo_is_not_read(tmp_path: Path, kind: str) -> None:
    (tmp_path / "job" / "checkpoints").mkdir(parents=True)
    config = tmp_path / "job" / "config.yaml"
    if kind == "dev-zero":
        config.symlink_to("/dev/zero")
    else:
        os.mkfifo(config)
    res = _cli("ckpt", "forecast", str(tmp_path / "job"))
    _clean(res)
    assert res.exit_code == 2 and "--max-iter" in res.stderr  # as if there were no config.yaml


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ELOOP, "symlink loop"),
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "read-only"),
        (errno.ENOTDIR, "is a file, not a folder"),
        (errno.EISDIR, "is a folder, not a file"),
        (errno.ENOSPC, "disk is full"),
    ],
)
def test_each_errno_gets_a_cause_and_a_fix(code: int, words: str) -> None:
    e = OSError(code, os.strerror(code), "/data/x")
    text = describe_os_error(e, doing="write")
    assert text.startswith("cannot write /data/x: ") and words in text and ";" in text and text.endswith(".")


def test_the_engine_reads_its_pointer_bounded(tmp_path: Path) -> None:
    from cosmos_engine.checkpoint import latest_iteration, read_small_text

    ckpt = tmp_path / "checkpoints"
    (ckpt / "iter_000000005" / "model").mkdir(parents=True)
    for part in ("model", "optim", "scheduler", "trainer"):
        (ckpt / "iter_000000005" / part).mkdir(exist_ok=True)
        (ckpt / "iter_000000005" / part / ".metadata").write_bytes(b"x")
    pointer = ckpt / "latest_checkpoint.txt"
    for make in (
        lambda: pointer.write_bytes(b"\xff\xfe\x00\x01" * 4),
        lambda: pointer.symlink_to("/dev/zero"),
        lambda: os.mkfifo(pointer),
        lambda: pointer.open("wb").truncate(10 << 30),
    ):
        if os.path.lexists(pointer):
            pointer.unlink()
        make()
        assert read_small_text(pointer) is None
        assert latest_iteration(ckpt) == 5  # the newest complete checkpoint stands in
    pointer.unlink()
    pointer.write_text("iter_000000005\n")
    assert read_small_text(pointer) == "iter_000000005\n" and latest_iteration(ckpt) == 5
