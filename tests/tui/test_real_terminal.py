"""The app in a real terminal (tmux), driven by keystrokes and read back with ``capture-pane``:
from the empty runs list through the wizard to a launched run (real torchrun, 2 CPU ranks), a
resize while it trains, a stop, quitting, and reattaching from a new app."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.runs import measured_on
from support.tmux import Tmux

from cosmos_tui.core.runs.lifecycle import list_runs

APP = [sys.executable, "-m", "cosmos_tui"]
_ITER = re.compile(r"iter (\d+)/400")


def _env(home: Path) -> dict[str, str]:
    keys = ("COSMOS_TUI_HOME", "HF_HOME", "WANDB_MODE", "WANDB_DIR", "WANDB_SILENT", "IMAGINAIRE_OUTPUT_ROOT")
    env = {k: os.environ[k] for k in keys}
    return {**env, "OMP_NUM_THREADS": "1", "PATH": os.environ["PATH"], "HOME": str(home), "TERM": "xterm"}


def _iteration(screen: str) -> int:
    m = _ITER.search(screen)
    return int(m.group(1)) if m else -1


def test_without_a_terminal_the_app_says_so_and_exits_2(isolated_home: Path) -> None:
    res = subprocess.run(APP, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stdout == ""  # nothing drawn into the pipe
    assert "needs a terminal" in res.stderr and "cosmos-tui --help" in res.stderr


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_wizard_launch_resize_stop_and_reattach_in_tmux(isolated_home: Path, term: Tmux) -> None:
    env = _env(isolated_home)
    term.start(APP, env)
    term.wait_for("No runs yet", 60)
    term.send("n")
    term.wait_for("models · ", 30)  # the catalog is read (typing before goes nowhere)
    term.type("s2mv tiny")
    term.wait_for(lambda s: "builtin-s2mv-tiny" in s and "builtin-s2mv-small" not in s, 20)
    term.send("C-Right")
    assert "no Hugging Face weights" in term.wait_for("2 · Hugging Face")
    term.send("C-Right")
    term.wait_for("3 · Data")
    # The folder field has the focus; Tab x5 (Layout, Raw videos, Validate, Prepare from raw
    # videos) reaches "Make a synthetic set here".
    term.type(str(isolated_home / "data"))
    term.send("Tab", "Tab", "Tab", "Tab", "Tab", "Enter")
    screen = term.wait_for("valid:", 90)
    assert "4 clips" in screen
    assert f"Folder          {isolated_home / 'data'}" in screen  # the label beside its field
    term.send("C-Right")
    # The form starts from the model's shipped preset (what `preset render` prints for it).
    term.wait_for(lambda s: "4 · Setup" in s and "builtin-demo (shipped)" in s and "trainer.max_iter=" in s)
    time.sleep(0.5)  # the step puts the focus on Overrides (`--set` items) after it is drawn
    term.type("trainer.max_iter=400 checkpoint.save_iter=5 trainer.logging_iter=1")
    screen = term.wait_for("trainer.max_iter=400 \\")  # the command preview follows the field
    assert "torchrun --nproc_per_node=2" in screen
    assert "cosmos-tui run builtin-demo --set data.root=" in screen
    term.send("C-n")  # ctrl+n: Next where the terminal takes ctrl+arrows (macOS)
    term.wait_for("Ready", 120)
    term.send("Enter")  # the Launch button has the focus once preflight passes
    screen = term.wait_for(lambda s: "RUNNING" in s and _iteration(s) >= 2, 150)
    run_id = next(r.id for r in list_runs(reconcile=False))
    assert run_id in screen

    # A resize while it trains: the dashboard redraws at 80x24 and keeps following the run.
    before = _iteration(screen)
    term.resize(80, 24)
    screen = term.wait_for(lambda s: _iteration(s) > before + 2, 90)
    assert all(len(line) <= 80 for line in screen.splitlines())
    assert "RUNNING" in screen and "console.log" in screen
    term.resize(120, 36)

    term.send("s")
    term.wait_for(lambda s: f"Stop {run_id}?" in s and "The engine saves" in s, 20)
    term.send("y")
    screen = term.wait_for("STOPPED", 120)
    stopped_at = _iteration(screen)
    record = next(r for r in list_runs(reconcile=False) if r.id == run_id)
    assert record.status == "stopped" and record.last_iteration == stopped_at
    term.wait_for("checkpoint saved", 30)  # the engine's own line, in the log panel
    term.send("Escape")
    term.wait_for("1 run", 20)
    term.send("q")
    term.wait_for("[exited 0]", 30)

    # A new app finds the run on disk and reattaches to it.
    term.start(APP, env)
    # The row appears first, its progress once the run's files are read (on a loaded machine, later).
    term.wait_for(lambda s: run_id in s and "stopped" in s and f"{stopped_at}/400" in s, 60)
    term.send("Enter")
    term.wait_for(lambda s: "STOPPED" in s and f"iter {stopped_at}/400" in s, 30)
    # The checkpoints panel names the checkpoint the stop saved; it is scanned (and verified) off
    # the UI thread, so on a loaded machine it fills in after the header.
    term.wait_for("latest", 30)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_runs_dashboard_help_and_back_read_whole_in_tmux(
    isolated_home: Path, term: Tmux, size: tuple[int, int]
) -> None:
    """A finished run (written as the registry writes one) read in a real terminal at the smallest
    and a large size: the runs list shows the run id whole, the dashboard and the help open and
    close, and no row runs past the terminal's edge."""
    from tui_world import RUN_OK, write_run

    write_run(RUN_OK, status="finished", iters=40, max_iter=40, exit_code=0, checkpoints=(10, 20, 30, 40))
    width, height = size
    term.width, term.height = width, height  # the session starts at this size
    term.start(APP, _env(isolated_home))

    def fits(screen: str) -> bool:
        return all(len(line) <= width for line in screen.splitlines())

    def row_whole(screen: str) -> bool:  # the id whole, with its progress on the same row
        return any(RUN_OK in line and "40/40" in line for line in screen.splitlines())

    screen = term.wait_for(row_whole, 60)
    assert fits(screen)
    term.send("Enter")
    # The checkpoints panel is scanned off the UI thread: on a loaded machine 'latest' comes later.
    screen = term.wait_for(lambda s: "FINISHED" in s and "iter 40/40" in s and "latest" in s, 30)
    assert fits(screen)
    term.send("?")
    screen = term.wait_for(lambda s: "Runs (home)" in s and "Post-train Cosmos" in s, 20)
    assert fits(screen)
    term.send("Escape")
    screen = term.wait_for(lambda s: "Runs (home)" not in s and "FINISHED" in s, 20)
    term.send("Escape")
    screen = term.wait_for(lambda s: "1 run" in s and RUN_OK in s, 20)
    assert fits(screen)
    term.send("q")
    term.wait_for("[exited 0]", 30)


def _with_val_loss_and_reference(record, tmp_path: Path) -> None:
    """Give ``record``'s run a held-out loss every third iteration and a preset whose reference
    was measured on its device (8x H200): the loss chart then draws three curves."""
    from cosmos_tui.core import reference

    measured = reference.Measurement(
        device="NVIDIA H200", world_size=8, sec_per_iter=0.4, loss=((1, 2.5), (40, 1.0))
    )
    measured_on(
        record,
        tmp_path / "mine.toml",
        device="NVIDIA H200",
        world_size=8,
        val_loss=lambda i: 2.0,
        references=(measured,),
    )


@pytest.mark.timeout(120)
def test_the_loss_charts_legend_reads_whole_at_80x24_in_tmux(
    isolated_home: Path, term: Tmux, tmp_path: Path
) -> None:
    """The dashboard's loss chart at the smallest size, with its three curves: every legend
    entry (reference, loss, val loss) is on screen, in the chart's box, none cut."""
    from tui_world import RUN_OK, write_run

    record = write_run(RUN_OK, status="finished", iters=40, max_iter=40, exit_code=0, checkpoints=(20, 40))
    _with_val_loss_and_reference(record, tmp_path)
    term.width, term.height = 80, 24
    term.start(APP, _env(isolated_home))
    term.wait_for(lambda s: RUN_OK in s, 60)
    term.send("Enter")
    legend = "■ ref x8 ■ loss ■ val"
    screen = term.wait_for(lambda s: "FINISHED" in s and legend in s, 30)
    (row,) = [line for line in screen.splitlines() if legend in line]
    box = row[row.index(legend) + len(legend) :]
    assert box.lstrip(" ").startswith("│"), row  # the whole legend, then the box's own edge
    assert all(len(line) <= 80 for line in screen.splitlines())
    term.send("q")
    term.wait_for("[exited 0]", 30)
