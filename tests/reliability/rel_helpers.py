"""Helpers of the reliability suite: real runs of the builtin engine through the run layer, with the
``fault_site`` test double on ``PYTHONPATH`` to hold a run at a chosen moment, and checks on what a
run left behind (record, pointer, checkpoints, metrics)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.runs import stop_leftovers as stop_leftovers  # re-exported for the tests

from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.presets import Preset, apply_sets, load_preset, resolve_preset
from cosmos_tui.core.runs import RunRecord, launch_prepared, prepare

FAULT_SITE = Path(__file__).with_name("fault_site")
FAST = ["wandb.mode=disabled", "dataloader_train.num_workers=0", "trainer.logging_iter=1"]
PARTS = ("model", "optim", "scheduler", "trainer")
_ENV_LOCK = threading.Lock()
"""Launches from several threads take turns: each changes this process's environment briefly."""


def job_sets(data: Path, name: str, *, nproc: int, max_iter: int, save_iter: int) -> list[str]:
    """The ``--set`` items of a small tiny-model job named ``name``."""
    return [
        f"data.root={data}",
        *FAST,
        f"launch.nproc_per_node={nproc}",
        f"trainer.max_iter={max_iter}",
        f"checkpoint.save_iter={save_iter}",
        f"job.name={name}",
    ]


def demo_preset() -> Preset:
    """The shipped ``builtin-demo`` preset."""
    return load_preset(resolve_preset("builtin-demo"))


@contextmanager
def fault_env(fault: str = "", markers: Path | None = None, **extra: str) -> Iterator[None]:
    """This process's environment (which a launch passes on) with the fault hooks switched on."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(FAULT_SITE))
        mp.setenv("COSMOS_REL_FAULT", fault)
        if markers is not None:
            mp.setenv("COSMOS_REL_MARKERS", str(markers))
        for key, value in extra.items():
            mp.setenv(key, value)
        yield


def launch(
    sets: list[str], *, fault: str = "", markers: Path | None = None, force: bool = False, **extra: str
) -> RunRecord:
    """Start a real run of ``builtin-demo`` with ``sets`` (record + supervisor + torchrun), the
    job folder reckoned from the preset (no engine dry run, to save a torch start-up)."""
    base = apply_sets(demo_preset(), sets)
    with _ENV_LOCK, fault_env(fault, markers, **extra):
        prepared = prepare(base, dryrun=False)
        return launch_prepared(prepared, base=base, sets=sets, force=force)


def wait_file(path: Path, timeout: float = 90.0) -> str:
    """Wait for ``path`` to exist; returns its text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            time.sleep(0.05)
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def iterations(job_dir: Path) -> list[int]:
    """Iterations logged to the job's metrics.jsonl, in file order."""
    path = Path(job_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line)["iteration"] for line in path.read_text().splitlines() if line.strip()]


def pointer_target(job_dir: Path) -> int | None:
    """The iteration ``latest_checkpoint.txt`` names, after checking every part of it is complete."""
    ckpts = Path(job_dir) / "checkpoints"
    pointer = ckpts / "latest_checkpoint.txt"
    if not pointer.exists():
        return None
    name = pointer.read_text().strip()
    for part in PARTS:
        assert (ckpts / name / part / ".metadata").is_file(), (
            f"the pointer names {name}, but {part} is missing"
        )
    infos = {i.iteration: i for i in scan_checkpoints(ckpts)}
    iteration = int(name.removeprefix("iter_"))
    assert infos[iteration].complete and infos[iteration].is_latest
    return iteration


def record_file_is_whole(record: RunRecord) -> dict:
    """``run.json`` parses as JSON (no torn write)."""
    return json.loads((record.run_dir / "run.json").read_text())


def rank_pid(markers: Path, what: str, rank: int, timeout: float = 90.0) -> int:
    """The pid a ``fault_site`` marker recorded for ``rank``."""
    return int(wait_file(markers / f"{what}.{rank}", timeout))


def env_for_subprocess(**extra: str) -> dict[str, str]:
    """This process's environment plus ``extra``."""
    return {**os.environ, **extra}
