"""The queue and sweep commands without starting runs: the queue is paused (or the request is
refused), so these take seconds. Order, priority, move, cancel, pause, refusals, sweep expansion
and hostile grid values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from queue_helpers import add_paused, cli, cli_err, tiny_sets
from support.runs import add_ended_run

from cosmos_tui.core.queue import dispatch, store, sweep
from cosmos_tui.core.queue.gpuset import parse_gpus
from cosmos_tui.core.queue.resources import Machine
from cosmos_tui.core.queue.store import QueueEntry
from cosmos_tui.core.runs import list_runs


@pytest.fixture(autouse=True)
def paused_queue() -> None:
    store.set_paused(True)


def _order() -> list[str]:
    return [e["id"] for e in json.loads(cli("queue", "list", "--json"))["entries"]]


def test_priority_and_move_and_cancel_set_the_order(queue_data: Path) -> None:
    a = add_paused(queue_data, "qa")
    b = add_paused(queue_data, "qb")
    c = add_paused(queue_data, "qc", "--priority", "5")
    assert _order() == [c, a, b]
    cli("queue", "move", b, "--before", c)
    assert _order() == [b, c, a]
    listed = json.loads(cli("queue", "list", "--json"))["entries"]
    assert [e["position"] for e in listed] == [1, 2, 3] and listed[0]["priority"] == 5
    assert all(e["wait"] == "queue paused" for e in listed)
    cli("queue", "cancel", c)
    assert _order() == [b, a]
    assert store.read(c).state == "cancelled"
    assert "already cancelled" in cli_err("queue", "cancel", c, code=1)
    assert "not waiting" in cli_err("queue", "move", c, "--before", a, code=1)
    assert list_runs() == []  # paused: nothing started


def test_pause_resume_flag_and_a_paused_dispatcher_exits_without_starting(queue_data: Path) -> None:
    entry = add_paused(queue_data, "qp")
    proc = dispatch_proc()
    assert proc.wait(timeout=30) == 0
    assert store.read(entry).state == "queued" and list_runs() == []
    cli("queue", "resume")
    assert not store.paused()
    cli("queue", "pause")
    assert store.paused()


def dispatch_proc():
    from queue_helpers import dispatcher

    return dispatcher()


def test_slurm_multinode_and_gpu_requests_on_a_cpu_machine_are_refused(queue_data: Path) -> None:
    sets = tiny_sets(queue_data, "qs")
    msg = cli_err("queue", "add", "builtin-demo", *sets, "--target", "slurm", code=2)
    assert "Slurm runs are not queued by cosmos-tui" in msg and "--target slurm" in msg
    msg = cli_err("queue", "add", "builtin-demo", *sets, "--set", "launch.target=slurm", code=2)
    assert "Slurm queues them itself" in msg
    msg = cli_err("queue", "add", "builtin-demo", *sets, "--gpus", "0-3", code=2)
    assert "no GPUs NVML can see" in msg and "--slots" in msg
    msg = cli_err("queue", "add", "builtin-demo", *sets, "--slots", "2", code=2)
    assert "has 1 slot(s)" in msg
    assert "expected GPU indices" in cli_err("queue", "add", "builtin-demo", *sets, "--gpus", "0;rm", code=2)
    assert store.entry_ids() == []


def test_slots_come_from_config_toml(queue_data: Path, isolated_home: Path) -> None:
    (isolated_home / "state" / "config.toml").write_text("[queue]\nslots = 3\n")
    entry = add_paused(queue_data, "qslots", "--slots", "2")
    assert store.read(entry).slots == 2
    (isolated_home / "state" / "config.toml").write_text("[queue]\nslotz = 3\n")
    assert "unknown key queue.slotz" in cli_err("queue", "list", code=1)


def test_gpu_sets_parse() -> None:
    assert parse_gpus("0-3", 4).devices == (0, 1, 2, 3)
    assert parse_gpus("0,2", 2).devices == (0, 2)
    assert parse_gpus("any", 2).text() == "any:2" and parse_gpus("any:3", 1).count == 3
    assert parse_gpus("4", 1).text() == "4"


def _entry(eid: str, order: int, gpus: str | None, nproc: int = 1, **kw) -> store.QueueEntry:
    return store.QueueEntry(
        id=eid, preset={"launch": {"nproc_per_node": nproc}}, order=order, gpus=gpus, **kw
    )


def test_choose_reserves_what_an_earlier_entry_waits_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "list_runs", lambda reconcile=False: [])
    machine = Machine((0, 1, 2, 3), 1, frozenset({0}), frozenset({3}), 0)
    big = _entry("q-1", 1, "0-1", 2)  # waits: GPU 0 is ours, busy
    small = _entry("q-2", 2, "1")  # would fit, but GPU 1 is reserved for the earlier entry
    other = _entry("q-3", 3, "any")  # GPU 2 is free and nobody before waits for it
    picked = dispatch.choose([big, small, other], machine)
    assert picked is not None and picked[0].id == "q-3" and picked[1] == (2,)
    foreign = _entry("q-4", 0, "3")  # GPU 3: another program holds its memory
    assert dispatch.choose([foreign], machine) is None


def test_max_parallel_holds_back_a_sweep_but_not_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "list_runs", lambda reconcile=False: [])
    machine = Machine((), 4, frozenset(), frozenset(), 0)
    running = _entry("q-1", 1, None, sweep="sw", max_parallel=1, state="starting")
    held = _entry("q-2", 2, None, sweep="sw", max_parallel=1)
    free = _entry("q-3", 3, None)
    picked = dispatch.choose([running, held, free], machine)
    assert picked is not None and picked[0].id == "q-3"
    assert dispatch.choose([held], machine) is not None  # alone, its sweep has room


def test_sweep_expands_to_distinct_job_names_and_show_lists_them(queue_data: Path) -> None:
    sets = tiny_sets(queue_data, "sw")
    out = cli(
        "sweep",
        "builtin-demo",
        *sets,
        "--grid",
        "optimizer.lr=1e-4,3e-4",
        "--grid",
        "model.dim=16,32",
        "--max-parallel",
        "1",
        "--json",
    )
    data = json.loads(out)
    entries = data["entries"]
    assert len(entries) == 4
    names = [next(s for s in e["sets"] if s.startswith("job.name=")) for e in entries[::-1]]
    names = [e["sets"][-1] for e in entries]
    assert len(set(names)) == 4 and all(n.startswith("job.name=sw-lr") for n in names), names
    assert {e["label"] for e in entries} == {
        f"optimizer.lr={a} model.dim={b}" for a in ("1e-4", "3e-4") for b in ("16", "32")
    }
    assert all(e["sweep"] == data["sweep"] and e["max_parallel"] == 1 for e in entries)
    shown = json.loads(cli("sweep", "show", data["sweep"], "--json"))
    assert [p["entry"] for p in shown["points"]] == [e["id"] for e in entries]
    assert all(p["state"] == "queued" and p["final_loss"] is None for p in shown["points"])
    table = cli("sweep", "show", "latest")
    assert "optimizer.lr=3e-4 model.dim=32" in table
    assert data["sweep"] in cli("sweep", "list")


@pytest.mark.parametrize("value", ["1e-4\nx", "1e-4;rm -rf ~", "$(touch pwned)", "`id`", "a b", "'q'"])
def test_hostile_grid_values_are_refused(queue_data: Path, value: str, tmp_path: Path) -> None:
    msg = cli_err(
        "sweep", "builtin-demo", *tiny_sets(queue_data, "h"), "--grid", f"optimizer.lr=1,{value}", code=2
    )
    assert "may not have" in msg or "not a setting key" in msg
    assert store.entry_ids() == []


def test_grid_keys_are_checked_against_the_preset_schema(queue_data: Path) -> None:
    sets = tiny_sets(queue_data, "k")
    assert "job" in cli_err("sweep", "builtin-demo", *sets, "--grid", "job.name=a,b", code=2)
    msg = cli_err("sweep", "builtin-demo", *sets, "--grid", "launch.nproc_per_node=1,zero", code=1)
    assert "nproc_per_node" in msg
    assert "not a setting key" in cli_err("sweep", "builtin-demo", *sets, "--grid", "a;b=1,2", code=2)
    assert store.entry_ids() == []


def test_survey_counts_foreign_memory_and_our_runs_gpus() -> None:
    from support.fake_nvml import FakeNvml, fake_device

    from cosmos_tui.core.monitor.gpus import GpuSampler
    from cosmos_tui.core.queue.resources import survey
    from cosmos_tui.core.runs.record import ProcRef, RunRecord

    gib = 1 << 30
    nvml = FakeNvml(
        devices=[
            fake_device(0, mem_used=20 * gib, processes=[(4242, 20 * gib)]),  # someone else's job
            fake_device(1, mem_used=30 * gib, processes=[(777, 30 * gib)]),  # our run's rank
            fake_device(2, mem_used=1 * gib, processes=[(5151, 1 * gib)]),  # a small foreign process
            fake_device(3, mem_used=0),
            fake_device(4, mem_used=9 * gib),  # NVML lists no process (a container): 11% is in use
        ]
    )
    ours = RunRecord(
        id="r1",
        run_dir=Path("/nonexistent"),
        preset={"launch": {"nproc_per_node": 1}},
        status="running",
        env={"CUDA_VISIBLE_DEVICES": "1"},
        procs=(ProcRef(777, None, "rank"),),
    )
    machine = survey([ours], [], slots=1, foreign_fraction=0.05, sampler=GpuSampler(nvml))
    assert machine.gpus == (0, 1, 2, 3, 4)
    assert machine.foreign_gpus == {0, 4}  # 25% of GPU 0; GPU 2's 1.25% is under the threshold
    assert machine.held_gpus == {1}  # our run's memory never counts as foreign
    assert machine.free_gpus == (2, 3)


def test_the_readme_queue_block_is_a_valid_config(tmp_path: Path) -> None:
    import re

    from cosmos_tui.core.notify_config import load_user_config

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [block] = [
        b for b in re.findall(r"^```toml\n(.*?)^```", readme, flags=re.S | re.M) if b.startswith("[queue]")
    ]
    (tmp_path / "config.toml").write_text(block)
    assert load_user_config(tmp_path / "config.toml").queue.slots == 2


def test_entries_are_private_and_keep_no_secret_names(
    queue_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    monkeypatch.setenv("MY_SETTING", "kept")
    entry = add_paused(queue_data, "priv")
    path = store.entries_dir() / f"{entry}.json"
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert "hf_secret_value" not in text and "HF_TOKEN" not in text
    assert store.read(entry).environ["MY_SETTING"] == "kept"


def test_damaged_or_planted_entry_files_are_named_and_skipped(queue_data: Path, tmp_path: Path) -> None:
    good = add_paused(queue_data, "good")
    entries = store.entries_dir()
    (entries / "q-bad.json").write_text("{not json")
    (entries / "q-list.json").write_text("[1, 2]")
    secret = tmp_path / "elsewhere.json"
    secret.write_text("{}")
    (entries / "q-link.json").symlink_to(secret)
    listed = json.loads(cli("queue", "list", "--json"))["entries"]
    assert [e["id"] for e in listed] == [good]
    result = cli_err("queue", "list", code=0)
    assert "q-bad.json cannot be read" in result and "q-list.json holds a JSON list" in result
    assert "q-link.json" in result
    assert "no queue entry" in cli_err("queue", "cancel", "../../runs/x", code=1)  # ids only
    assert "no queue entry" in cli_err("queue", "cancel", "q-nope", code=1)


def test_a_second_entry_on_the_same_job_is_warned_about(queue_data: Path) -> None:
    first = add_paused(queue_data, "same")
    msg = cli_err("queue", "add", "builtin-demo", *tiny_sets(queue_data, "same"), code=0)
    assert f"{first} waits for the same job folder" in msg
    assert "same job" not in cli_err("queue", "add", "builtin-demo", *tiny_sets(queue_data, "other"), code=0)


def test_a_dispatcher_facing_a_damaged_config_stops_and_says_why(
    queue_data: Path, isolated_home: Path
) -> None:
    from queue_helpers import dispatcher

    entry = add_paused(queue_data, "cfg")
    (isolated_home / "state" / "config.toml").write_text("[queue]\nslots = 0\n")
    store.set_paused(False)
    proc = dispatcher()
    assert proc.wait(timeout=30) == 1
    assert store.read(entry).state == "queued" and list_runs() == []
    assert "queue.slots" in cli_err("queue", "list", code=1)


def test_a_sweep_row_reads_its_run_s_share_of_the_metrics(tmp_path: Path) -> None:
    """Final and best loss, the last held-out loss and the mean s/iter of the run's own lines
    (another run's earlier lines and a torn last line are not its)."""
    earlier = json.dumps({"iteration": 9, "loss": 0.1, "sec_per_iter": 9.0}) + "\n"
    own = [
        {"iteration": 1, "loss": 2.0, "sec_per_iter": 1.0},
        {"iteration": 2, "loss": 1.0, "sec_per_iter": 3.0, "val_loss": 1.5},
        {"iteration": 3, "loss": 1.25, "sec_per_iter": 2.0},
    ]
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text(earlier + "".join(json.dumps(m) + "\n" for m in own) + '{"iteration": 4, "lo')
    add_ended_run("20260101-000000-sweep-abcd", job_dir=str(tmp_path), metrics_offset=len(earlier))
    row = sweep.row_of(QueueEntry(id="e1", preset={}, run_id="20260101-000000-sweep-abcd", label="lr=1"))
    assert (row.final_loss, row.best_loss, row.val_loss, row.sec_per_iter) == (1.25, 1.0, 1.5, 2.0)
    assert row.losses == ((1, 2.0), (2, 1.0), (3, 1.25)) and row.label == "lr=1"
