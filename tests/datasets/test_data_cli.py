"""`cosmos-tui data`: exit codes 0/1/2, JSON on stdout, messages on stderr, --fix dry-run by default."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from data_helpers import dump, emb
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.datasets.layouts import LAYOUTS

Make = Callable[[str], Path]
P1 = "predict1-waymo"


def run(*args: str):
    return CliRunner().invoke(app, ["data", *args])


def test_validate_valid_dataset_exits_0(dataset: Make) -> None:
    r = run("validate", str(dataset(P1)), "--layout", P1, "--experiment", "s2mv_text2world_tiny")
    assert r.exit_code == 0, r.stderr
    assert "valid" in r.stdout and "checking clips" not in r.stderr  # no progress bar off a TTY


def test_validate_errors_exit_1_with_grouped_report(dataset: Make) -> None:
    r = run("validate", str(dataset(P1)), "--layout", P1)  # upstream default: 57 frames
    assert r.exit_code == 1
    assert "too-few-frames x10 in 2 clips" in r.stdout and "fix:" in r.stdout and "... and 8 more" in r.stdout


def test_every_bad_clip_is_named_in_json_and_text_examples_are_different_clips(tmp_path: Path) -> None:
    """7 clips x 5 views too short: --json names all 7 clips and 35 files; text shows 5 different clips."""
    from cosmos_tui.core.datasets.synth import synthesize

    root = synthesize(tmp_path / "ds", P1, clips=7, frames=4, size=(16, 16))
    r = run("validate", str(root), "-l", P1, "--frames", "5", "--json")
    assert r.exit_code == 1
    [f] = [f for f in json.loads(r.stdout)["findings"] if f["id"] == "too-few-frames"]
    assert f["count"] == 35 and f["clips"] == [f"clip_{i:04d}" for i in range(7)]
    assert len(f["items"]) == 35 and len(set(f["items"])) == 35
    assert "videos/pinhole_side_right/clip_0006.mp4: 4 frames < 5" in f["items"]
    text = run("validate", str(root), "-l", P1, "--frames", "5").stdout
    examples = [line for line in text.splitlines() if "e.g." in line and "frames < 5" in line]
    assert [e.split("/")[-1].split(".")[0] for e in examples] == [f"clip_{i:04d}" for i in range(5)]
    assert "too-few-frames x35 in 7 clips" in text and "... and 30 more (--json lists every one)" in text


def test_validate_json(dataset: Make) -> None:
    root = dataset(P1)
    dump(root / "t5_xxl/pinhole_front/clip_0000.pkl", [emb()[None]])
    r = run("validate", str(root), "-l", P1, "-e", "s2mv_text2world_tiny", "--json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["ok"] is False and data["layout"] == P1 and data["min_frames"] == 8
    [finding] = data["findings"]
    assert finding["id"] == "embedding-batch-dim" and finding["count"] == 1 and finding["fixable"] is True


def test_validate_guesses_the_layout(dataset: Make) -> None:
    r = run("validate", str(dataset(P1)), "--frames", "8")
    assert r.exit_code == 0 and "layout: predict1-waymo (guessed" in r.stderr


def test_usage_errors_exit_2_without_traceback(tmp_path: Path, dataset: Make) -> None:
    root = str(dataset(P1))
    (tmp_path / "empty").mkdir()
    cases = [
        ("validate", root, "--layout", "waymo"),
        ("validate", root, "--layout", P1, "--experiment", "no_such_experiment"),
        ("validate", str(tmp_path / "empty"), "--frames", "8"),  # nothing to guess from
        ("validate", root, "--yes"),
        ("synth", str(tmp_path / "s"), "--layout", P1, "--size", "big"),
    ]
    for args in cases:
        r = run(*args)
        assert r.exit_code == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    # A folder that is not there is the thing named missing, not a usage error (README's table).
    r = run("validate", str(tmp_path / "nope"), "--layout", P1)
    assert r.exit_code == 1 and "nope does not exist; pass the dataset root" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_fix_is_a_dry_run_unless_yes(dataset: Make) -> None:
    root = dataset(P1)
    path = root / "t5_xxl/pinhole_front/clip_0001.pkl"
    dump(path, [emb(4)[None]])
    before = path.read_bytes()
    r = run("validate", str(root), "-l", P1, "-e", "s2mv_text2world_tiny", "--fix")
    assert r.exit_code == 1 and "would fix" in r.stderr and "--fix --yes" in r.stderr
    assert path.read_bytes() == before and not path.with_name("clip_0001.pkl.orig").exists()
    r = run("validate", str(root), "-l", P1, "-e", "s2mv_text2world_tiny", "--fix", "--yes", "--json")
    assert r.exit_code == 0, r.stdout
    data = json.loads(r.stdout)
    assert data["ok"] and data["fixes"][0]["applied"] is True
    assert path.with_name("clip_0001.pkl.orig").read_bytes() == before


def test_layouts_lists_every_layout() -> None:
    r = run("layouts", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert [d["id"] for d in data] == list(LAYOUTS)  # the ids themselves: test_data_layouts.py
    assert data[0]["embeddings"]["dim"] == 1024
    assert "cache/prefix_{view}.pkl" in run("layouts").stdout


def test_synth_then_validate(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    r = run(
        "synth",
        str(root),
        "--layout",
        "transfer25-singleview",
        "--clips",
        "2",
        "--frames",
        "8",
        "--size",
        "32x48",
    )
    assert r.exit_code == 0 and r.stdout.strip() == str(root)
    r = run("validate", str(root), "--experiment", "transfer_singleview_seg_tiny", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["videos"] == 4


def test_synth_refuses_user_data(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    r = run("synth", str(tmp_path), "--layout", P1)
    assert r.exit_code == 1 and "not empty" in r.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_synth_creates_only_the_folder_named_unless_parents(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "er" / "new"
    r = run("synth", str(root), "--layout", P1, "--clips", "1", "--frames", "4", "--size", "16x16")
    assert r.exit_code == 1 and "pass --parents" in r.stderr and "Traceback" not in r.output
    assert "create " + str(tmp_path / "deep" / "er") + " first" in r.stderr
    assert not (tmp_path / "deep").exists()
    (tmp_path / "deep" / "er").mkdir(parents=True)  # the parent made: its own folder is created
    r = run("synth", str(root), "--layout", P1, "--clips", "1", "--frames", "4", "--size", "16x16")
    assert r.exit_code == 0 and root.is_dir(), r.output
    other = tmp_path / "a" / "b" / "set"
    r = run(
        "synth", str(other), "--layout", P1, "--clips", "1", "--frames", "4", "--size", "16x16", "--parents"
    )
    assert r.exit_code == 0 and other.is_dir(), r.output
    r = run("synth", str(tmp_path / "x" / "y"), "--layout", "nope")
    assert r.exit_code == 2 and not (tmp_path / "x").exists()  # the usage error comes first
