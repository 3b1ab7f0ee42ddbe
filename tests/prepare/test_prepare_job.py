"""The data-prepare job: SRC never touched, OUT never inside SRC, dry runs write nothing, a kill
-9 resumes to a valid set with no partial file, other settings are refused, caption commands run."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prepare_helpers import FRAMES, SIZE, clip, tree_hash
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.datasets.prepare.job import JOB_DIR, PrepareOptions, prepare
from cosmos_tui.core.datasets.validate import validate
from cosmos_tui.core.errors import UsageError, UserError

runner = CliRunner()
ARGS = ["--layout", "transfer25-singleview", "--frames", str(FRAMES), "--size", "x".join(map(str, SIZE))]


def _opts(**kw) -> PrepareOptions:
    return PrepareOptions("transfer25-singleview", frames=FRAMES, size=SIZE, jobs=2, **kw)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_src_unchanged_and_rerun_resumes(raw_src: Path, captions_jsonl: Path, tmp_path: Path):
    before = tree_hash(raw_src)
    out = tmp_path / "out"
    first = prepare(raw_src, out, _opts(captions_file=captions_jsonl))
    assert first.ok and first.resumed == 0
    assert tree_hash(raw_src) == before
    files = _files(out)
    again = prepare(raw_src, out, _opts(captions_file=captions_jsonl))
    assert again.ok and again.resumed == again.sources == first.sources and again.clips == first.clips
    assert _files(out) == files
    assert tree_hash(raw_src) == before


def test_out_and_src_must_not_overlap(raw_src: Path, tmp_path: Path):
    with pytest.raises(UsageError, match="inside SRC"):
        prepare(raw_src, raw_src / "prepared", _opts())
    (tmp_path / "link").symlink_to(raw_src)
    with pytest.raises(UsageError, match="inside SRC"):
        prepare(raw_src, tmp_path / "link" / "x" / "..", _opts())
    with pytest.raises(UsageError, match="inside OUT"):
        prepare(raw_src, tmp_path, _opts())
    with pytest.raises(UsageError, match="inside SRC"):
        prepare(raw_src, raw_src, _opts())
    assert not (raw_src / "prepared").exists() and not (raw_src / JOB_DIR).exists()


def test_dry_run_writes_nothing(raw_src: Path, tmp_path: Path):
    out = tmp_path / "out"
    before = tree_hash(tmp_path)
    result = prepare(raw_src, out, _opts(), dry_run=True)
    assert tree_hash(tmp_path) == before and not out.exists()
    plan = {p.rel: p for p in result.plan}
    assert plan["long.mp4"].windows == 4 and plan["long.mp4"].files[:2] == [
        "videos/long_000.mp4",
        "captions/long_000.json",
    ]
    assert plan["short.mp4"].reason.startswith("too short") and plan["corrupt.mp4"].reason.startswith(
        "unreadable"
    )
    r = runner.invoke(app, ["data", "prepare", str(raw_src), str(out), *ARGS, "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "nothing was written" in r.output and "videos/long_003.mp4" in r.output
    assert tree_hash(tmp_path) == before


def test_other_settings_refused_fresh_starts_over(raw_src: Path, tmp_path: Path):
    out = tmp_path / "out"
    prepare(raw_src, out, _opts(), validate_result=False)
    with pytest.raises(UsageError, match=r"other settings.*frames"):
        prepare(raw_src, out, PrepareOptions("transfer25-singleview", frames=12, size=SIZE))
    (out / "videos" / "mine.mp4").write_bytes(b"x")  # in a folder the job writes: cleared by --fresh
    fresh = prepare(raw_src, out, PrepareOptions("transfer25-singleview", frames=12, size=SIZE), fresh=True)
    assert fresh.ok and fresh.resumed == 0 and not (out / "videos" / "mine.mp4").exists()
    assert not (out / "videos" / "long_003.mp4").exists()  # 42 frames: three windows of 12


def test_non_empty_out_without_job_refused(raw_src: Path, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    with pytest.raises(UserError, match="holds no data-prepare job"):
        prepare(raw_src, out, _opts())
    assert _files(out) == ["thesis.tex"]


def test_caption_command(raw_src: Path, tmp_path: Path):
    script = tmp_path / "cap.py"
    script.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "assert p.is_file() and p.suffix == '.mp4'\n"
        "if 'nocap' not in p.name: sys.exit('no idea')\n"
        "print(f'Captioned {p.name} of {pathlib.Path(sys.argv[2]).name}.')\n"
    )
    out = tmp_path / "out"
    cmd = f"{sys.executable} {script} {{clip}} {{src}}"
    result = prepare(raw_src, out, _opts(caption_command=cmd))
    assert result.ok
    cap = json.loads((out / "captions" / "nocap_001.json").read_text())["caption"]
    assert cap == "Captioned nocap_001.mp4 of nocap.mp4."
    # the hostile name has no caption: the command ran on its window, failed, and it was dropped
    failed = dict(result.dropped)["odd dir/a clip\nwith ..dots.mp4 window 0"]
    assert "exited 1: no idea" in failed
    assert not (out / "videos" / "odd-dir__a-clip-with-dots_000.mp4").exists()
    with pytest.raises(UsageError, match="names no"):
        prepare(raw_src, tmp_path / "o2", _opts(caption_command="echo hi"))
    missing = prepare(raw_src, tmp_path / "o3", _opts(caption_command="/no/such/captioner {clip}"))
    assert any("not found" in reason for _, reason in missing.dropped)


def test_kill_9_mid_job_then_resume(tmp_path: Path):
    src = tmp_path / "src"
    for i in range(24):
        clip(src / f"c{i:02d}.mp4", 60, size=(120, 180), seed=i)
        (src / f"c{i:02d}.txt").write_text(f"clip {i}")
    out = tmp_path / "out"
    argv = [
        sys.executable,
        "-m",
        "cosmos_tui",
        "data",
        "prepare",
        str(src),
        str(out),
        *ARGS[:4],
        "--size",
        "96x144",
        "--jobs",
        "1",
    ]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    done = out / JOB_DIR / "done"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(done.glob("*.json")) if done.is_dir() else []) < 3:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_done = len(list(done.glob("*.json")))
    assert 3 <= n_done < 24, "the kill came too late to test a resume"
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"({n_done} done by an earlier run)" in again.stdout or f"({n_done + 1} done" in again.stdout
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert len(list((out / "videos").glob("*.mp4"))) == 24 * 6 == len(list((out / "captions").glob("*.json")))
    assert validate(out, "transfer25-singleview", min_frames=FRAMES, deep=True).ok


def test_resume_sweeps_half_written_clip(raw_src: Path, tmp_path: Path):
    out = tmp_path / "out"
    prepare(raw_src, out, _opts(), validate_result=False)
    # as a kill mid-clip leaves it: long.mp4's marker gone, a temp file and a stale window
    (out / JOB_DIR / "done" / "long.json").unlink()
    (out / "videos" / ".long_001.mp4.tmp").write_bytes(b"half")
    (out / "videos" / "long_009.mp4").write_bytes(b"stale")
    result = prepare(raw_src, out, _opts())
    assert result.ok and result.resumed == result.sources - 1
    assert (
        not (out / "videos" / ".long_001.mp4.tmp").exists() and not (out / "videos" / "long_009.mp4").exists()
    )
    assert (out / "videos" / "long_003.mp4").is_file()


def test_cli_exit_codes_and_json(raw_src: Path, captions_jsonl: Path, tmp_path: Path):
    out = tmp_path / "out"
    r = runner.invoke(
        app, ["data", "prepare", str(raw_src), str(out), *ARGS, "--captions", str(captions_jsonl), "--json"]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["ok"] is True and data["clips"] == 10 and data["report"]["ok"] is True
    assert any(d[0] == "corrupt.mp4" and d[1].startswith("unreadable") for d in data["dropped"])
    r = runner.invoke(app, ["data", "prepare", str(raw_src), str(tmp_path / "o2"), "--layout", "nope"])
    assert r.exit_code == 2 and "Unknown dataset layout" in r.output
    r = runner.invoke(app, ["data", "prepare", str(raw_src), str(raw_src / "x"), *ARGS])
    assert r.exit_code == 2 and "inside SRC" in r.output
    empty = tmp_path / "empty"
    clip(empty / "tiny.mp4", 3)
    r = runner.invoke(app, ["data", "prepare", str(empty), str(tmp_path / "o3"), *ARGS])
    assert r.exit_code == 1 and "too short" in r.output and "invalid" in r.output
    r = runner.invoke(app, ["data", "prepare", str(raw_src), str(tmp_path / "a" / "b"), *ARGS])
    assert r.exit_code == 1 and "--parents" in r.output


def test_second_job_on_the_same_out_refused(raw_src: Path, tmp_path: Path):
    import fcntl

    out = tmp_path / "out"
    (out / JOB_DIR).mkdir(parents=True)
    fd = os.open(out / JOB_DIR / "lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running job holds it
        with pytest.raises(UserError, match="another data prepare is writing"):
            prepare(raw_src, out, _opts())
    finally:
        os.close(fd)
    assert prepare(raw_src, out, _opts()).ok  # the lock is gone with its holder


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path: Path):
    src = tmp_path / "src"
    for i in range(16):
        clip(src / f"c{i:02d}.mp4", 60, size=(120, 180), seed=i)
    out = tmp_path / "out"
    # a captioner that takes 0.5 s a clip: the job cannot end before the interrupt
    slow = shlex.join([sys.executable, "-c", "import time; time.sleep(0.5); print('a clip')", "{clip}"])
    argv = [sys.executable, "-m", "cosmos_tui", "data", "prepare", str(src), str(out), *ARGS, "--jobs", "2"]
    argv += ["--caption-command", slow]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as a terminal's foreground job: a suite started in the background (`nohup ... &`) hands
        # its children SIGINT ignored, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    done = out / JOB_DIR / "done"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(done.glob("*.json")) if done.is_dir() else []) < 2:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "run the same command again to resume" in stderr and "Traceback" not in stderr
    assert [p for p in out.rglob("*.tmp")] == []
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "done by an earlier run" in again.stdout


def test_names_that_collide_get_their_digest(tmp_path: Path):
    src = tmp_path / "src"
    for name in ("a b.mp4", "a-b.mp4", "a.b.mp4.mp4"):
        clip(src / name, FRAMES)
        (src / name).with_suffix(".txt").write_text(name)
    out = tmp_path / "out"
    result = prepare(src, out, _opts())
    assert result.ok and result.clips == 3
    stems = sorted(p.stem for p in (out / "videos").glob("*.mp4"))
    assert len(set(stems)) == 3 and all(".mp4" not in s and s.startswith("a-b") for s in stems)
