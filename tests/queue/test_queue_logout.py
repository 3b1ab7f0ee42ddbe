"""The queue outlives the terminal that filled it: two tiny runs queued from a shell in a real
terminal (tmux) with one slot; the terminal is then killed (its processes get the SIGHUP a logout
or a dropped SSH connection sends) while the first run trains and the second waits. The
dispatcher and the runs live in sessions of their own, so both entries still start, each once, and
both runs finish."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

import pytest
from queue_helpers import runs_of, stop_all, tiny_sets, wait_runs_done
from support.tmux import Tmux

from cosmos_tui.core.queue import store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(autouse=True)
def stop_what_runs():
    yield
    stop_all()


def test_the_queue_outlives_the_terminal_that_filled_it(queue_data: Path, term: Tmux, tmp_path: Path) -> None:
    store.set_paused(False)
    keys = ("COSMOS_TUI_HOME", "HF_HOME", "WANDB_MODE", "WANDB_DIR", "WANDB_SILENT", "IMAGINAIRE_OUTPUT_ROOT")
    env = {k: os.environ[k] for k in keys if k in os.environ}
    env.update(OMP_NUM_THREADS="1", PATH=os.environ["PATH"], HOME=str(tmp_path), TERM="xterm")
    adds = [
        shlex.join(
            [sys.executable, "-m", "cosmos_tui", "queue", "add", "builtin-demo", *tiny_sets(queue_data, name)]
        )
        for name in ("logout-a", "logout-b")
    ]
    term.start(["sh", "-c", " && ".join([*adds, "echo QUEUED"])], env)
    term.wait_for("QUEUED", 60)
    entries = {e.id: e for e in store.list_entries()}
    assert len(entries) == 2
    assert any(e.state == "queued" for e in entries.values())  # the second waits for the slot
    term.close()  # the terminal goes: its processes are hung up
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and any(store.read(e).state != "started" for e in entries):
        time.sleep(0.5)
    wait_runs_done(120)
    for entry_id in entries:
        runs = runs_of(entry_id)
        assert len(runs) == 1 and runs[0].status == "finished", [(r.status, r.reason) for r in runs]
        assert store.read(entry_id).state == "started"
