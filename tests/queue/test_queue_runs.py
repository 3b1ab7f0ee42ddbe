"""The queue with real runs: tiny builtin-engine runs (1 process, 1 iteration) started by a real
dispatcher process. With one slot they run one after another in queue order, never two at once;
and the dispatcher killed with SIGKILL at each point of its state machine, then started again,
leaves every entry started exactly once (asserted on the run records), never twice."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from queue_helpers import add_paused, cli, dispatcher, runs_of, stop_all, tiny_sets, wait_exit, wait_runs_done

from cosmos_tui.core.queue import store
from cosmos_tui.core.queue.dispatch import KILL_AT_ENV

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(autouse=True)
def paused_queue():
    store.set_paused(True)
    yield
    stop_all()


def test_one_slot_runs_them_one_after_another_in_queue_order(queue_data: Path) -> None:
    a = add_paused(queue_data, "qa")
    b = add_paused(queue_data, "qb")
    c = add_paused(queue_data, "qc", "--priority", "5")
    d = add_paused(queue_data, "qd")
    cli("queue", "move", b, "--before", a)
    cli("queue", "cancel", d)
    store.set_paused(False)
    proc = dispatcher()
    assert wait_exit(proc, 120) == 0  # it exits once nothing waits
    wait_runs_done(60)
    by_entry = {e: runs_of(e) for e in (a, b, c, d)}
    assert [len(by_entry[e]) for e in (a, b, c)] == [1, 1, 1] and by_entry[d] == []
    order = sorted((r for e in (a, b, c) for r in by_entry[e]), key=lambda r: r.created_at)
    assert [r.queue_entry for r in order] == [c, b, a]
    assert all(r.status == "finished" for r in order), [(r.status, r.reason) for r in order]
    for first, second in itertools.pairwise(order):
        assert first.ended_at is not None and first.ended_at <= second.created_at  # never two at once
    for e in (a, b, c):
        entry = store.read(e)
        assert entry.state == "started" and entry.run_id == by_entry[e][0].id
    assert store.read(d).state == "cancelled"
    assert {Path(r.job_dir).name for r in order} == {"qa", "qb", "qc"}


@pytest.mark.parametrize("point", ["before-claim", "after-claim", "after-launch"])
def test_a_dispatcher_killed_at_each_point_starts_every_entry_exactly_once(
    queue_data: Path, point: str
) -> None:
    entry = add_paused(queue_data, f"k-{point}")
    store.set_paused(False)
    killed = dispatcher({KILL_AT_ENV: point})
    assert wait_exit(killed, 60) == -9  # it really died by SIGKILL at that point
    state = store.read(entry)
    expected = {"before-claim": "queued", "after-claim": "starting", "after-launch": "starting"}[point]
    assert state.state == expected
    assert len(runs_of(entry)) == (1 if point == "after-launch" else 0)
    again = dispatcher()
    assert wait_exit(again, 90) == 0
    made = runs_of(entry)
    assert len(made) == 1, [r.id for r in made]  # started exactly once, never twice
    final = store.read(entry)
    assert final.state == "started" and final.run_id == made[0].id
    assert final.attempts == (1 if point == "after-claim" else 0)
    # a third dispatcher finds nothing to do and starts nothing more
    assert wait_exit(dispatcher(), 30) == 0
    assert len(runs_of(entry)) == 1


def test_a_sweep_started_by_two_dispatchers_at_once_runs_each_point_once_and_show_compares_them(
    queue_data: Path, isolated_home: Path
) -> None:
    (isolated_home / "state" / "config.toml").write_text("[queue]\nslots = 2\n")  # both at once
    out = cli(
        "sweep", "builtin-demo", *tiny_sets(queue_data, "sw"), "--grid", "optimizer.lr=1e-4,3e-4", "--json"
    )
    data = json.loads(out)
    entries = [e["id"] for e in data["entries"]]
    store.set_paused(False)
    procs = [dispatcher(), dispatcher()]
    assert [wait_exit(p, 120) for p in procs] == [0, 0]
    wait_runs_done(60)
    assert [len(runs_of(e)) for e in entries] == [1, 1]
    shown = json.loads(cli("sweep", "show", data["sweep"], "--json"))["points"]
    assert [p["label"] for p in shown] == ["optimizer.lr=1e-4", "optimizer.lr=3e-4"]
    assert {Path(p["job_dir"]).name for p in shown} == {"sw-lr1e-4", "sw-lr3e-4"}
    for p in shown:
        assert p["status"] == "finished" and p["final_loss"] is not None and p["best_loss"] is not None
        assert p["sec_per_iter"] is not None and p["best_loss"] <= p["final_loss"]
    assert "optimizer.lr=3e-4" in cli("sweep", "show", data["sweep"])


def test_a_gpu_entry_starts_with_cuda_visible_devices_set_to_its_gpus(queue_data: Path) -> None:
    """The GPU branch of a start, on this CPU machine: the entry given GPU 1 launches an ordinary
    run whose environment and preset snapshot carry CUDA_VISIBLE_DEVICES=1 (torch on CPU ignores
    it), and the entry records what it was assigned."""
    from cosmos_tui.core.queue import dispatch
    from cosmos_tui.core.runs import procs

    entry_id = add_paused(queue_data, "qgpu")
    me = procs.ref_of(__import__("os").getpid(), "dispatcher")
    done = dispatch.start(store.read(entry_id), (1,), me)
    assert done.state == "started" and done.assigned == (1,)
    [run] = runs_of(entry_id)
    assert run.id == done.run_id and run.env.get("CUDA_VISIBLE_DEVICES") == "1"
    assert run.preset["env"]["extra"]["CUDA_VISIBLE_DEVICES"] == "1"
    [final] = [r for r in wait_runs_done(60) if r.id == run.id]
    assert final.status == "finished", final.reason
