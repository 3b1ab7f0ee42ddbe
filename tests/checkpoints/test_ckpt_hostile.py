"""`cosmos-tui ckpt` against damaged and hostile checkpoint folders: prune verifies what it keeps,
a bad pointer file never gives a traceback or a hang, and nothing is written or deleted outside
the folder the command owns."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ckpt_writers import write_dcp_checkpoint
from typer.testing import CliRunner

from cosmos_tui.cli.app import app

pytestmark = pytest.mark.timeout(120)  # a pointer read that blocks or never ends fails here


def _run(*args: str):
    return CliRunner().invoke(app, ["ckpt", *args])


def _truncate_a_shard(step: Path) -> None:
    shard = max((step / "model").glob("*.distcp"), key=lambda p: p.stat().st_size)
    with open(shard, "r+b") as f:
        f.truncate(shard.stat().st_size // 2)


@pytest.mark.parametrize("pointer", ["truncated", "none"])
def test_prune_keeps_the_only_verified_checkpoint_over_a_truncated_one(ckpt_dir: Path, pointer: str) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    _truncate_a_shard(write_dcp_checkpoint(ckpt_dir, 200))  # complete-looking, latest, truncated
    if pointer == "none":
        (ckpt_dir / "latest_checkpoint.txt").unlink()
    res = _run("prune", str(ckpt_dir), "--keep-last", "1", "--yes", "--json")
    assert res.exit_code == 0, res.output
    decisions = {d["iteration"]: d for d in json.loads(res.stdout)["decisions"]}
    assert decisions[100]["keep"] and decisions[100]["reason"] == "last 1"
    assert "truncated" in decisions[200]["unverified"]
    assert (ckpt_dir / "iter_000000100").is_dir()  # the only checkpoint that verifies survives
    if pointer == "truncated":
        assert decisions[200]["keep"] and decisions[200]["reason"].startswith("latest; unverified:")
    else:  # a broken checkpoint nobody points at takes no place of the --keep-last
        assert not decisions[200]["keep"] and not (ckpt_dir / "iter_000000200").exists()


def test_prune_plan_says_which_are_unverified_and_why(ckpt_dir: Path) -> None:
    for it in (100, 200):
        write_dcp_checkpoint(ckpt_dir, it, latest=False)
    _truncate_a_shard(ckpt_dir / "iter_000000200")
    res = _run("prune", str(ckpt_dir), "--keep-last", "1")
    assert res.exit_code == 0, res.output
    assert next(ln for ln in res.stdout.splitlines() if " 100 " in f" {ln} ").startswith("keep")
    line = next(ln for ln in res.stdout.splitlines() if " 200 " in f" {ln} ")
    assert line.startswith("would delete") and "unverified" in line and "the metadata needs" in line
    assert "fail verification" in res.stderr
    assert (ckpt_dir / "iter_000000200").exists()  # a dry run deletes nothing


def test_prune_removes_a_symlinked_step_folder_as_a_link(ckpt_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    write_dcp_checkpoint(elsewhere, 50, latest=False)
    (ckpt_dir / "iter_000000050").symlink_to(elsewhere / "iter_000000050")
    for it in (100, 200):
        write_dcp_checkpoint(ckpt_dir, it)
    res = _run("prune", str(ckpt_dir), "--keep-last", "1", "--yes")
    assert res.exit_code == 0, res.output
    assert not os.path.lexists(ckpt_dir / "iter_000000050")
    assert (elsewhere / "iter_000000050" / "model" / ".metadata").is_file()  # the target is untouched


@pytest.mark.parametrize("kind", ["binary", "dev-zero", "fifo", "folder", "loop"])
def test_a_bad_pointer_file_is_one_sentence_in_every_ckpt_command(
    ckpt_dir: Path, tmp_path: Path, kind
) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    write_dcp_checkpoint(ckpt_dir, 200)
    pointer = ckpt_dir / "latest_checkpoint.txt"
    pointer.unlink()
    if kind == "binary":
        pointer.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00" * 8)
    elif kind == "dev-zero":
        pointer.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(pointer)
    elif kind == "folder":
        pointer.mkdir()
    else:
        pointer.symlink_to(pointer)
    (ckpt_dir.parent / "config.yaml").write_text("trainer:\n  max_iter: 500\ncheckpoint:\n  save_iter: 100\n")
    results = {
        "list": _run("list", str(ckpt_dir)),
        "verify": _run("verify", str(ckpt_dir)),
        "export": _run("export", str(ckpt_dir), "--out", str(tmp_path / "o"), "--dtype", "bf16"),
        "convert": _run("convert", str(ckpt_dir), "--dry-run"),
        "forecast": _run("forecast", str(ckpt_dir)),
        "prune": _run("prune", str(ckpt_dir), "--keep-last", "1", "--yes"),
    }
    for name, res in results.items():
        assert "Traceback" not in res.output, (name, res.output)
        assert res.exception is None or isinstance(res.exception, SystemExit), (name, res.output)
        assert "latest_checkpoint.txt" in res.stderr, (name, res.stderr)
    for name in ("list", "verify", "export", "convert", "forecast"):  # the newest complete one stands in
        assert results[name].exit_code == 0, (name, results[name].output)
        assert "warning:" in results[name].stderr
    assert (tmp_path / "o" / "model.pt").is_file()
    # prune refuses: the pointer protects the latest checkpoint, so nothing is deleted blind
    assert results["prune"].exit_code == 1 and results["prune"].stderr.startswith("error: ")
    assert "nothing was deleted" in results["prune"].stderr
    assert (ckpt_dir / "iter_000000100").is_dir() and (ckpt_dir / "iter_000000200").is_dir()


def test_export_never_writes_through_a_planted_link(ckpt_dir: Path, tmp_path: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    out, precious = tmp_path / "export", tmp_path / "precious.bin"
    out.mkdir()
    precious.write_bytes(b"keep me")
    (out / ".model.pt.partial").symlink_to(precious)  # where the export stages model.pt
    res = _run("export", str(ckpt_dir), "--out", str(out), "--dtype", "bf16")
    assert res.exit_code == 0, res.output
    assert precious.read_bytes() == b"keep me"
    assert (out / "model.pt").is_file() and not (out / "model.pt").is_symlink()


def test_export_refuses_an_output_name_that_links_outside(ckpt_dir: Path, tmp_path: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    out, precious = tmp_path / "export", tmp_path / "precious.bin"
    out.mkdir()
    precious.write_bytes(b"keep me")
    (out / "model_ema_bf16.pt").symlink_to(precious)
    res = _run("export", str(ckpt_dir), "--out", str(out), "--dtype", "bf16", "--yes")
    assert res.exit_code == 1 and "error: refusing to touch" in res.stderr
    assert "outside the export folder" in res.stderr
    assert precious.read_bytes() == b"keep me"


def test_a_binary_or_device_pin_file_is_a_sentence(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    pins = ckpt_dir / ".cosmos-tui-pins.json"
    pins.write_bytes(b"\xff\xfe\x00")
    res = _run("prune", str(ckpt_dir), "--keep-last", "1")
    assert res.exit_code == 1 and "pin file" in res.stderr and "UTF-8" in res.stderr
    pins.unlink()
    pins.symlink_to("/dev/zero")
    res = _run("list", str(ckpt_dir))
    assert res.exit_code == 1 and "character device" in res.stderr and "Traceback" not in res.output


def test_a_step_folder_linked_to_the_root_of_the_disk_is_not_walked_or_followed(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100)
    (ckpt_dir / "iter_000000001").symlink_to("/")
    res = _run("list", str(ckpt_dir), "--json")  # sizes are counted within a bound, not over all of /
    assert res.exit_code == 0, res.output
    assert [r["iteration"] for r in json.loads(res.stdout)] == [1, 100]
    res = _run("prune", str(ckpt_dir), "--keep-last", "1", "--yes")
    assert res.exit_code == 0, res.output
    assert Path("/etc").is_dir() and (ckpt_dir / "iter_000000100").is_dir()
