"""The real fit probe: torchrun over 2 gloo ranks on CPU, its time limit, and a SIGKILLed parent.

Each test runs real processes (torchrun, two engine ranks); none leaves one behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core import fit
from cosmos_tui.core.presets import load_preset, resolve_preset

pytestmark = pytest.mark.slow  # real torchrun (each 4-17 s on an idle 2-core machine)

TINY = "builtin-tiny-cpu"
MARK = "COSMOS_FIT_TEST_MARK"


def _marked(mark: str) -> list[psutil.Process]:
    """Processes whose environment carries ``MARK=mark`` (the probe and everything below it)."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and p.environ().get(MARK) == mark:
                found.append(p)
        except psutil.Error:
            continue
    return found


def _scratch() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("cosmos-fit-*")}


def _gone(mark: str, within_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + within_s
    left = _marked(mark)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [p for p in _marked(mark) if p.status() != psutil.STATUS_ZOMBIE]
    return left


@pytest.fixture
def mark(monkeypatch: pytest.MonkeyPatch) -> str:
    value = uuid.uuid4().hex
    monkeypatch.setenv(MARK, value)
    return value


def test_the_probe_runs_two_real_steps_over_two_gloo_ranks(mark: str) -> None:
    probe = fit.run_probe(load_preset(resolve_preset(TINY)), timeout_s=120)
    assert probe["ok"] is True and probe["error"] is None
    assert probe["world_size"] == 2 and probe["device"] == "cpu"
    assert probe["memory_kind"] == "cpu_rss_growth"
    assert [r["rank"] for r in probe["ranks"]] == [0, 1]
    assert all(r["peak_mem_bytes"] > 0 and r["step_s"] > 0 for r in probe["ranks"])
    assert probe["steps"] == 2 and probe["step_s"] > 0 and probe["tokens_per_s"] > 0
    assert probe["params"] > 100_000 and probe["tokens_per_sample"] == 192  # 2 views x 4 x 4 x 6
    assert probe["mfu"] is None and probe["peak_source"] == "unknown on CPU"
    assert probe["shape"]["num_frames"] == 8 and probe["shape"]["world_size"] == 2
    assert _gone(mark, 5) == []


def test_a_probe_past_its_time_limit_is_killed_with_its_ranks(mark: str) -> None:
    preset = load_preset(resolve_preset(TINY))
    before = _scratch()
    began = time.monotonic()
    with pytest.raises(fit.ProbeFailed, match="did not finish in 4 s"):
        fit.run_probe(preset, timeout_s=4)
    assert time.monotonic() - began < 15
    assert _gone(mark, 5) == []
    assert _scratch() <= before  # the probe's scratch folder is removed


def _cli_with_probe_running() -> subprocess.Popen:
    """``cosmos-tui fit`` of the tiny preset, returned once both probe ranks are up."""
    cli = subprocess.Popen(
        [sys.executable, "-m", "cosmos_tui.cli.app", "fit", TINY, "--timeout", "120"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    mark = os.environ[MARK]
    deadline = time.monotonic() + 30
    ranks: list[psutil.Process] = []
    while time.monotonic() < deadline and len(ranks) < 2:
        time.sleep(0.3)
        ranks = [p for p in _marked(mark) if "cosmos_engine.fit" in " ".join(p.cmdline())]
        ranks = [p for p in ranks if "torch.distributed.run" not in " ".join(p.cmdline())]
    if len(ranks) < 2:
        cli.kill()
        pytest.fail("the probe's ranks never started")
    return cli


def test_sigterm_of_the_cli_kills_the_probe_tree(mark: str) -> None:
    cli = _cli_with_probe_running()
    try:
        os.kill(cli.pid, signal.SIGTERM)
        assert cli.wait(timeout=10) != 0
        assert _gone(mark, 3) == []
    finally:
        if cli.poll() is None:
            cli.kill()


def test_sigkill_of_the_cli_leaves_no_probe_process(mark: str) -> None:
    before = _scratch()
    cli = _cli_with_probe_running()
    try:
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait(timeout=5)
        assert _gone(mark, 10) == []
        time.sleep(0.5)
        assert _scratch() <= before  # the last rank out removed the killed manager's scratch folder
    finally:
        if cli.poll() is None:
            cli.kill()


def test_cli_json_does_not_fit_a_tiny_budget_and_orders_the_fixes(mark: str) -> None:
    result = CliRunner().invoke(app, ["fit", TINY, "--json", "--memory-gb", "0.1"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["fits"] is False and report["method"] == "probe"
    assert report["summary"].startswith("does not fit")
    fixes = report["fixes"]
    assert fixes and all(f["source"] == "derived" for f in fixes)
    fitting = [f for f in fixes if f["fits"]]
    assert fitting and fixes[: len(fitting)] == fitting  # those that fit come first
    same_run = [f for f in fitting if "frames instead" not in f["label"]]
    assert [f["step_cost"] for f in same_run] == sorted(f["step_cost"] for f in same_run)
    assert "on CPU, not measured" in report["fixes_source"]
    assert report["eta_s"] > 0 and report["iterations_left"] == 200
    assert "checkpoint" in report["disk"]
    # a probe against a made-up budget is not what preflight should remember
    assert fit.load_cached(load_preset(resolve_preset(TINY))) is None
    assert _gone(mark, 5) == []


def test_the_engine_probe_alone_writes_nothing_to_the_output_root(tmp_path) -> None:
    env = {**os.environ, "IMAGINAIRE_OUTPUT_ROOT": str(tmp_path / "out"), "OMP_NUM_THREADS": "1"}
    argv = [
        sys.executable,
        "-m",
        "cosmos_engine.fit",
        "--steps",
        "1",
        "--",
        "experiment=s2mv_text2world_tiny",
    ]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    probe = json.loads(proc.stdout.strip().splitlines()[-1])
    assert probe["ok"] and probe["world_size"] == 1 and probe["steps"] == 1 and probe["step_s"] > 0
    assert not (tmp_path / "out").exists()  # the probe's job folder was its own, and is gone
    bad = subprocess.run([*argv, "trainer.bogus=1"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown config key 'trainer.bogus'" in bad.stderr


def test_the_probe_step_leaves_out_the_time_its_synthetic_batch_took(tmp_path) -> None:
    """A real run's loader workers make batches beside the step; the probe makes them on the
    training thread, so its step time must not count them (on an H200 it did: +12% to +53%)."""
    slow = (
        "import sys, time\n"
        "import cosmos_engine.fit as fit\n"
        "make = fit.SyntheticClips.__getitem__\n"
        "fit.SyntheticClips.__getitem__ = lambda self, i: (time.sleep(0.6), make(self, i))[1]\n"
        "sys.exit(fit.main(['--json', '--steps', '2', '--', 'experiment=s2mv_text2world_tiny']))\n"
    )
    env = {**os.environ, "IMAGINAIRE_OUTPUT_ROOT": str(tmp_path / "out"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", slow], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    probe = json.loads(proc.stdout.strip().splitlines()[-1])
    rank = probe["ranks"][0]
    assert rank["batch_s"] >= 0.6
    assert probe["step_s"] < 0.5, probe  # a tiny CPU step is milliseconds; the 0.6 s sleep is left out
