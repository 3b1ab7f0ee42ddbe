"""`cosmos-tui data` on hostile trees: symlink loops, FIFOs, devices, huge files and unreadable
folders are findings or one sentence (never a traceback or a hang), and `--fix` / `synth` write
nothing outside the dataset folder, not even through a link planted where they write."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from data_helpers import dump
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.datasets.validate import validate

pytestmark = pytest.mark.timeout(120)  # a FIFO or /dev/zero that is read blocks or never ends

Make = Callable[[str], Path]
P1, P25 = "predict1-waymo", "predict25-video2world"
T5 = "t5_xxl/pinhole_front"


def run(*args: str):
    return CliRunner().invoke(app, ["data", *args])


def _clean(res) -> None:
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output


def test_a_symlink_loop_in_a_dataset_is_a_finding(dataset: Make) -> None:
    root = dataset(P25)
    (root / "videos/a").symlink_to("b")
    (root / "videos/b").symlink_to("a")
    (root / "videos/clip_0009.mp4").symlink_to("clip_0009.mp4")
    (root / "metas/clip_0000.txt").unlink()
    (root / "metas/clip_0000.txt").symlink_to("clip_0000.txt")
    res = run("validate", str(root), "--json")  # the layout is guessed, through the loops too
    _clean(res)
    assert res.exit_code == 1
    import json

    found = {f["id"]: f for f in json.loads(res.stdout)["findings"]}
    assert found["symlink-loop"]["count"] == 4
    assert "videos/clip_0009.mp4" in found["symlink-loop"]["examples"]
    assert "symlink loop" in found["symlink-loop"]["title"]


def test_the_wizard_validator_gets_findings_not_an_exception(dataset: Make) -> None:
    root = dataset(P1)
    (root / T5 / "clip_0000.pkl").unlink()
    (root / T5 / "clip_0000.pkl").symlink_to("clip_0000.pkl")
    (root / "videos/pinhole_front/loop").symlink_to("loop")
    report = validate(root, P1, experiment="s2mv_text2world_tiny", workers=1)  # what the wizard calls
    assert report.get("symlink-loop").count == 2


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "sparse"])
def test_fifo_device_and_huge_files_are_findings_never_reads(dataset: Make, kind: str) -> None:
    root = dataset(P1)
    targets = [
        root / "videos/pinhole_front/clip_0000.mp4",
        root / T5 / "clip_0001.pkl",
        root / "cache/prefix_pinhole_front.pkl",
    ]
    for t in targets:
        t.unlink()
        if kind == "fifo":
            os.mkfifo(t)
        elif kind == "dev-zero":
            t.symlink_to("/dev/zero")
        else:
            with open(t, "wb") as f:
                f.truncate(10 << 30)  # 10 GiB, sparse
    report = validate(root, P1, experiment="s2mv_text2world_tiny", workers=2)
    assert not report.ok
    examples = [e for f in report.findings for e in f.examples]
    for t in targets:
        rel = str(t.relative_to(root))
        assert any(e.startswith(rel) for e in examples), (rel, report.findings)
    if kind == "sparse":  # the pickles are refused from their size; the video is no mp4
        too_large = report.get("file-too-large")
        assert too_large.count == 2 and all("larger than the 256 MiB" in e for e in too_large.examples)
    else:  # the listed video and pickle are named for what they are (the prefix is looked up by name)
        assert report.get("not-a-regular-file").count == 2


def test_a_fifo_caption_is_never_opened(dataset: Make) -> None:
    root = dataset(P25)
    (root / "metas/clip_0000.txt").unlink()
    os.mkfifo(root / "metas/clip_0000.txt")
    res = run("validate", str(root), "-l", P25)
    _clean(res)
    assert "not-a-regular-file" in res.stdout and "metas/clip_0000.txt: a FIFO" in res.stdout


# ---- permissions: tests run as root, so the CLI runs as nobody in a subprocess -------------------

NOBODY = 65534


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temp folder nobody can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="cosmos-tui-perm-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for dirpath, dirnames, _ in os.walk(path):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(path)


def _as_nobody(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as an unprivileged user, so permission bits count (root reads whatever the mode)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run the CLI as an unprivileged user")
    env = {**os.environ, "COSMOS_TUI_HOME": str(home), "HOME": str(home)}
    code = "import sys; from cosmos_tui.cli.app import main; sys.exit(main(sys.argv[1:]))"
    drop = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(
        [*drop, sys.executable, "-c", code, *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=90,
    )


def _home(base: Path) -> Path:
    home = base / "home"
    home.mkdir()
    home.chmod(0o777)
    return home


def test_permission_denied_on_a_dataset_folder_is_a_finding(dataset: Make, shared_tmp: Path) -> None:
    root = shutil.copytree(dataset(P25), shared_tmp / "ds")
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    (root / "metas").chmod(0)
    res = _as_nobody(_home(shared_tmp), "data", "validate", str(root), "--layout", P25)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 1
    assert "permission-denied" in res.stdout and "metas/" in res.stdout
    (root / "videos").chmod(0o311)  # enterable, not listable: the layout guess fails
    res = _as_nobody(_home(shared_tmp / "ds"), "data", "validate", str(root))
    assert "Traceback" not in res.stderr and res.returncode == 1
    assert res.stderr.startswith("error: cannot use ") and "permission denied" in res.stderr


def test_fix_yes_without_write_permission_is_one_sentence(dataset: Make, shared_tmp: Path) -> None:
    root = shutil.copytree(dataset(P1), shared_tmp / "ds")
    dump(root / T5 / "clip_0000.pkl", [np.zeros((1, 10, 1024), np.float32)])  # fixable: batch dim
    for p in [root, *root.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    before = (root / T5 / "clip_0000.pkl").read_bytes()
    res = _as_nobody(_home(shared_tmp), "data", "validate", str(root), "-l", P1, "--fix", "--yes")
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot use ") and "permission denied" in last and "pinhole_front" in last
    assert (root / T5 / "clip_0000.pkl").read_bytes() == before


# ---- containment: --fix and synth stay inside the dataset folder ---------------------------------


def test_fix_never_writes_through_planted_links(dataset: Make, tmp_path: Path) -> None:
    root = dataset(P1)
    precious = tmp_path / "precious.bin"
    precious.write_bytes(b"keep me")
    dump(root / T5 / "clip_0000.pkl", [np.zeros((1, 10, 1024), np.float32)])  # in-place fix
    for planted in (".clip_0000.pkl.tmp", f".clip_0000.pkl.{os.getpid()}.tmp"):
        (root / T5 / planted).symlink_to(precious)
    dump(root / T5 / "clip_0001.pkl", [np.zeros((1, 10, 1024), np.float32)])
    (root / T5 / "clip_0001.pkl.orig").symlink_to(tmp_path / "new-outside-file")  # dangling, outside
    res = run("validate", str(root), "-l", P1, "-e", "s2mv_text2world_tiny", "--fix", "--yes")
    _clean(res)
    assert precious.read_bytes() == b"keep me"
    assert not (tmp_path / "new-outside-file").exists()
    assert "clip_0001.pkl: not fixed" in res.stderr and "outside the dataset folder" in res.stderr
    assert "fixed: t5_xxl/pinhole_front/clip_0000.pkl" in res.stderr


def test_fix_refuses_a_symlinked_embedding_that_leads_out_of_the_dataset(
    dataset: Make, tmp_path: Path
) -> None:
    root = dataset(P1)
    outside = dump(tmp_path / "shared" / "clip_0000.pkl", [np.zeros((1, 10, 1024), np.float32)])
    before = outside.read_bytes()
    (root / T5 / "clip_0000.pkl").unlink()
    (root / T5 / "clip_0000.pkl").symlink_to(outside)
    res = run("validate", str(root), "-l", P1, "--fix", "--yes", "--json")
    _clean(res)
    import json

    (fix,) = json.loads(res.stdout)["fixes"]
    assert fix["applied"] is False and "outside the dataset folder" in fix["refused"]
    assert outside.read_bytes() == before and (root / T5 / "clip_0000.pkl").is_symlink()


def test_synth_rerun_never_writes_outside_through_links(tmp_path: Path) -> None:
    root, outside = tmp_path / "ds", tmp_path / "outside"
    assert (
        run("synth", str(root), "-l", P25, "--clips", "1", "--frames", "4", "--size", "16x16").exit_code == 0
    )
    outside.mkdir()
    (outside / "keep.txt").write_text("keep me")
    (root / "metas/clip_0000.txt").unlink()
    (root / "metas/clip_0000.txt").symlink_to(outside / "keep.txt")
    res = run("synth", str(root), "-l", P25, "--clips", "1", "--frames", "4", "--size", "16x16")
    _clean(res)
    assert res.exit_code == 1 and "outside the dataset folder" in res.stderr
    assert (outside / "keep.txt").read_text() == "keep me"
    (root / "metas/clip_0000.txt").unlink()
    shutil.rmtree(root / "videos")
    (root / "videos").symlink_to(outside)
    res = run("synth", str(root), "-l", P25, "--clips", "1", "--frames", "4", "--size", "16x16")
    _clean(res)
    assert res.exit_code == 1 and "outside the dataset folder" in res.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]


def test_each_file_system_error_has_its_finding() -> None:
    from cosmos_tui.core.datasets.walk import fs_finding
    from cosmos_tui.core.safeio import ReadRefused

    assert fs_finding(OSError(errno.ELOOP, "x", "/d/a"), "videos/a") == ("symlink-loop", "videos/a")
    assert fs_finding(PermissionError(errno.EACCES, "x"), "metas/")[0] == "permission-denied"
    assert (
        fs_finding(ReadRefused(errno.EINVAL, "is a FIFO", "/d/a", "caption"), "a")[0] == "not-a-regular-file"
    )
    assert fs_finding(ReadRefused(errno.EFBIG, "is larger", "/d/a", "caption"), "a")[0] == "file-too-large"
    fid, example = fs_finding(OSError(errno.EIO, "Input/output error", "/d/a"), "videos/a.mp4")
    assert (
        fid == "fs-error" and example == "videos/a.mp4: an I/O error (the disk or network file system failed)"
    )
