"""The run record and the registry: atomic writes, locking under concurrency, id lookup."""

from __future__ import annotations

import json
import multiprocessing
import re
import time
from pathlib import Path

import pytest

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.runs import registry
from cosmos_tui.core.runs.record import ProcRef, RunRecord, new_run_id, redact_env


def _record(run_id: str, **kw) -> RunRecord:
    return RunRecord(id=run_id, run_dir=registry.run_dir_for(run_id), preset={}, created_at=time.time(), **kw)


def test_run_ids_are_sortable_and_readable() -> None:
    rid = new_run_id("s2mv_text2world_tiny", time.mktime((2026, 11, 22, 14, 30, 5, 0, 0, -1)))
    assert re.fullmatch(r"20261122-143005-s2mv-text2world-tiny-[0-9a-f]{4}", rid)
    assert new_run_id("a", 1000.0) < new_run_id("a", 2000.0)


def test_record_round_trips_through_json() -> None:
    rec = _record(
        "20260101-000000-x-abcd",
        agent=ProcRef(12, 3.5, "agent"),
        procs=(ProcRef(13, 4.0, "rank"),),
        argv=("torchrun", "-m", "x"),
        status="running",
        versions={"python": "3.11"},
    )
    registry.create(rec)
    back = registry.read(rec.run_dir)
    assert back == rec
    data = json.loads((rec.run_dir / "run.json").read_text())
    assert data["status"] == "running" and data["agent"] == {"pid": 12, "create_time": 3.5, "role": "agent"}
    assert "run_dir" not in data


def test_secrets_are_redacted_from_the_env_diff() -> None:
    assert redact_env({"HF_TOKEN": "hf_x", "WANDB_API_KEY": "k", "HF_HOME": "/h"}) == {
        "HF_TOKEN": "***",
        "WANDB_API_KEY": "***",
        "HF_HOME": "/h",
    }


def _append_notes(run_dir: str, tag: str, n: int) -> None:
    for i in range(n):
        registry.update(Path(run_dir), lambda r, i=i: r.replace(notes=(*r.notes, f"{tag}{i}")))


def test_concurrent_writers_never_lose_an_update() -> None:
    rec = registry.create(_record("20260101-000000-conc-0001"))
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_append_notes, args=(str(rec.run_dir), t, 25)) for t in "abcd"]
    for w in workers:
        w.start()
    # A reader in parallel always sees a whole, valid record.
    seen = 0
    while any(w.is_alive() for w in workers):
        seen = max(seen, len(registry.read(rec.run_dir).notes))
    for w in workers:
        w.join(10)
        assert w.exitcode == 0
    notes = registry.read(rec.run_dir).notes
    assert len(notes) == 100 and len(set(notes)) == 100
    assert not list(rec.run_dir.glob(".*.tmp"))


def test_ids_resolve_by_prefix_latest_and_close_match() -> None:
    for rid in ("20260101-000000-alpha-0001", "20260102-000000-beta-0002", "20260102-000001-beta-0003"):
        registry.create(_record(rid))
    assert registry.resolve_id("20260101") == "20260101-000000-alpha-0001"
    assert registry.resolve_id("alpha") == "20260101-000000-alpha-0001"
    assert registry.resolve_id("latest") == "20260102-000001-beta-0003"
    with pytest.raises(UserError, match="matches 2 runs"):
        registry.resolve_id("beta")
    with pytest.raises(UserError, match="did you mean 20260101-000000-alpha-0001"):
        registry.resolve_id("20260101-000000-alpha-0009")


def test_a_corrupt_record_is_a_user_error() -> None:
    rec = registry.create(_record("20260101-000000-bad-0001"))
    (rec.run_dir / "run.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        registry.read(rec.run_dir)
