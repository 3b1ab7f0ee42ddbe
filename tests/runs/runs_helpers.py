"""Helpers for the runs tests: launching real torchrun runs of the test worker script."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cosmos_tui.core.engines.base import LaunchSpec
from cosmos_tui.core.presets import Preset
from cosmos_tui.core.runs import RunRecord, launch_prepared
from cosmos_tui.core.runs.targets import Prepared

SCRIPT = Path(__file__).with_name("torchrun_test_script.py")


def script_spec(args: list[str], cwd: Path, nproc: int = 2) -> LaunchSpec:
    """A real torchrun command running the test worker script."""
    argv = (
        "torchrun",
        f"--nproc_per_node={nproc}",
        "--standalone",
        str(SCRIPT),
        *args,
    )
    return LaunchSpec(argv=argv, cwd=cwd, env={"OMP_NUM_THREADS": "1"}, python=sys.executable)


@pytest.fixture
def launch_script(tmp_path: Path) -> Callable[..., RunRecord]:
    """Launch the test worker script under torchrun as a real run (record + supervisor)."""

    def launch(*args: str, nproc: int = 2) -> RunRecord:
        spec = script_spec([*args, "--out", str(tmp_path)], tmp_path, nproc)
        prepared = Prepared(Preset(), spec, tmp_path / "job", "adapter", ())
        return launch_prepared(prepared)

    return launch


def wait_for_line(record: RunRecord, text: str, timeout: float = 30.0) -> None:
    """Wait until ``text`` appears in the run's console.log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if text in record.console_log.read_text(errors="replace"):
                return
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {record.console_log}")
