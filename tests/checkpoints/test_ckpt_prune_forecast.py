"""Prune never removes what it must keep; the disk forecast counts the saves still to come."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from ckpt_writers import write_dcp_checkpoint, write_pt_set
from hypothesis import given, settings
from hypothesis import strategies as st

from cosmos_tui.core.checkpoints.forecast import forecast_disk, saves_remaining
from cosmos_tui.core.checkpoints.pins import set_pinned
from cosmos_tui.core.checkpoints.prune import apply_prune, confirmed_plan, plan_prune
from cosmos_tui.core.checkpoints.scan import CheckpointInfo, scan_checkpoints
from cosmos_tui.core.errors import UsageError


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.utime(os.path.join(root, name), (t, t))
    os.utime(path, (t, t))


def test_prune_dcp_keeps_latest_pinned_recent_every_and_in_progress(ckpt_dir: Path) -> None:
    for it in (100, 200, 300, 400, 500, 600):
        write_dcp_checkpoint(ckpt_dir, it, latest=it == 300)  # pointer lags behind (resumed run)
    write_dcp_checkpoint(ckpt_dir, 700, parts=("model",), latest=False)  # being written right now
    write_dcp_checkpoint(ckpt_dir, 50, parts=("model",), latest=False)  # a dead, old partial save
    _age(ckpt_dir / "iter_000000050", 3600)
    set_pinned(ckpt_dir, 100, True)

    plan = plan_prune(scan_checkpoints(ckpt_dir), keep_last=2, keep_every=400)
    reasons = {d.checkpoint.iteration: (d.keep, d.reason) for d in plan.decisions}
    assert reasons == {
        50: (False, "incomplete"),
        100: (True, "pinned"),
        200: (False, "older than the last 2"),
        300: (True, "latest"),
        400: (True, "every 400"),
        500: (True, "last 2"),
        600: (True, "last 2"),
        700: (True, "being written"),
    }
    assert plan.bytes_freed == sum(c.size_bytes for c in plan.to_delete)
    apply_prune(plan)
    assert [c.iteration for c in scan_checkpoints(ckpt_dir)] == [100, 300, 400, 500, 600, 700]
    assert not (ckpt_dir / "iter_000000200").exists()


def test_prune_pt_sets_removes_every_file(ckpt_dir: Path) -> None:
    for it in (200, 400, 600):
        write_pt_set(ckpt_dir, it)
    plan = plan_prune(scan_checkpoints(ckpt_dir), keep_last=1)
    assert [c.iteration for c in plan.to_delete] == [200, 400]
    apply_prune(plan)
    assert sorted(p.name for p in ckpt_dir.glob("iter_*")) == [
        "iter_000000600.pt",
        "iter_000000600_ema_model.pt",
        "iter_000000600_optim.pt",
        "iter_000000600_reg_model.pt",
    ]


def test_prune_rejects_bad_policy() -> None:
    with pytest.raises(UsageError):
        plan_prune([], keep_last=0)


def _info(it: int, *, complete: bool, latest: bool, pinned: bool, age: float) -> CheckpointInfo:
    return CheckpointInfo(
        it, Path(f"/x/iter_{it:09d}"), "dcp", complete, latest, 10, time.time() - age, pinned, False
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=12),
    st.integers(1, 5),
    st.one_of(st.none(), st.integers(1, 4)),
    st.data(),
)
def test_prune_invariants(flags, keep_last, keep_every, data) -> None:
    latest_at = data.draw(st.integers(0, len(flags) - 1))
    infos = [
        _info(i + 1, complete=c, latest=i == latest_at, pinned=p, age=5 if recent else 7200)
        for i, (c, p, recent, _) in enumerate(flags)
    ]
    corrupt = {i + 1 for i, (_, _, _, bad) in enumerate(flags) if bad}

    def fake_verify(c: CheckpointInfo) -> str | None:  # a test double for verify_checkpoint
        return "model/__0_0.distcp is truncated" if c.iteration in corrupt else None

    plan = plan_prune(infos, keep_last=keep_last, keep_every=keep_every, verify=fake_verify)
    gone = {c.iteration for c in plan.to_delete}
    verified = [c for c in infos if c.complete and c.iteration not in corrupt]
    for c in infos:
        if c.is_latest or c.pinned or (not c.complete and c.mtime > time.time() - 60):
            assert c.iteration not in gone
    # the newest keep_last checkpoints that verify survive, whatever else is kept
    assert not gone & {c.iteration for c in verified[-keep_last:]}
    # a verified checkpoint goes only when keep_last newer verified ones stay
    for c in verified:
        if c.iteration in gone:
            newer_kept = [v for v in verified if v.iteration > c.iteration and v.iteration not in gone]
            assert len(newer_kept) >= keep_last
    # every complete checkpoint that fails verification is named as such in the plan
    complete = {c.iteration for c in infos if c.complete}
    assert {d.checkpoint.iteration for d in plan.unverified} == complete & corrupt
    for d in plan.unverified:
        assert "truncated" in d.reason


def test_saves_remaining() -> None:
    assert saves_remaining(0, 1000, 200) == 5
    assert saves_remaining(400, 1000, 200) == 3
    assert saves_remaining(0, 1050, 200) == 6  # the final save at 1050
    assert saves_remaining(1000, 1000, 200) == 0


def test_forecast_verdicts(ckpt_dir: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 200)
    write_dcp_checkpoint(ckpt_dir, 400)
    found = scan_checkpoints(ckpt_dir)
    size = sum(c.size_bytes for c in found) // 2
    ok = forecast_disk(
        ckpt_dir, max_iter=1000, save_iter=200, current_iter=400, checkpoints=found, free_bytes=size * 100
    )
    assert (ok.verdict, ok.saves_remaining, ok.needed_bytes) == ("ok", 3, size * 3)
    warn = forecast_disk(
        ckpt_dir,
        max_iter=1000,
        save_iter=200,
        current_iter=400,
        checkpoints=found,
        free_bytes=int(size * 3.3),
    )
    assert warn.verdict == "warn"
    fail = forecast_disk(
        ckpt_dir, max_iter=1000, save_iter=200, current_iter=400, checkpoints=found, free_bytes=size * 2
    )
    assert fail.verdict == "fail" and "will fill" in fail.message
    pruned = forecast_disk(
        ckpt_dir,
        max_iter=10_000,
        save_iter=200,
        current_iter=400,
        checkpoints=found,
        keep_last_n=3,
        free_bytes=size * 2,
    )
    assert pruned.needed_bytes == size * 2 and pruned.verdict == "warn"
    before = forecast_disk(ckpt_dir / "not-yet", max_iter=1000, save_iter=500, checkpoint_bytes=10)
    assert before.verdict == "ok" and before.needed_bytes == 20 and before.free_bytes > 0
    assert forecast_disk(ckpt_dir, max_iter=1000, save_iter=500).verdict == "unknown"


def test_confirmed_plan_deletes_only_what_was_shown_and_is_still_to_delete() -> None:
    old = [_info(it, complete=True, latest=it == 30, pinned=False, age=3600) for it in (10, 20, 30)]
    shown = plan_prune(old, keep_last=1, verify=lambda c: None)
    assert [c.iteration for c in shown.to_delete] == [10, 20]
    now = [  # since: 20 was pinned, 40 saved and made the latest, so 30 is no longer kept
        _info(10, complete=True, latest=False, pinned=False, age=3600),
        _info(20, complete=True, latest=False, pinned=True, age=3600),
        _info(30, complete=True, latest=False, pinned=False, age=3600),
        _info(40, complete=True, latest=True, pinned=False, age=3600),
    ]
    fresh = plan_prune(now, keep_last=1, verify=lambda c: None)
    assert [c.iteration for c in fresh.to_delete] == [10, 30]
    agreed = confirmed_plan(shown, fresh)
    assert [c.iteration for c in agreed.to_delete] == [10]
    assert {d.checkpoint.iteration: d.reason for d in agreed.decisions}[30] == "not in the confirmed plan"


def test_prune_of_a_symlinked_checkpoint_frees_only_the_link(ckpt_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "other-disk"
    elsewhere.mkdir()
    write_dcp_checkpoint(elsewhere, 100, latest=False)
    (ckpt_dir / "iter_000000100").symlink_to(elsewhere / "iter_000000100")
    for it in (200, 300):
        write_dcp_checkpoint(ckpt_dir, it, latest=it == 300)
    plan = plan_prune(scan_checkpoints(ckpt_dir), keep_last=1)
    linked, real = sorted(plan.to_delete, key=lambda c: c.iteration)
    assert linked.size_bytes > 0  # listed with its target's size
    assert plan.bytes_freed == real.size_bytes  # but removing the link frees none of it
    apply_prune(plan)
    assert not (ckpt_dir / "iter_000000100").is_symlink()
    assert (elsewhere / "iter_000000100" / "model").is_dir()  # the target stays


def test_prune_keeps_what_a_live_reader_leases(ckpt_dir: Path) -> None:
    """A reader lease (the engine's background sampler, a samples job's supervisor) keeps its
    iterations in the plan, says who holds them, and is asked again just before deleting."""
    from cosmos_tui.core.checkpoints.leases import write_lease

    for it in (100, 200, 300):
        write_dcp_checkpoint(ckpt_dir, it, latest=it == 300)
    write_lease(ckpt_dir, [100], pid=os.getpid())
    plan = plan_prune(scan_checkpoints(ckpt_dir), keep_last=1, now=time.time() + 3600, in_use={})
    why = {d.checkpoint.iteration: (d.keep, d.reason) for d in plan.decisions}
    assert why[100] == (True, f"read by process {os.getpid()}") and not why[200][0]
    write_lease(ckpt_dir, [200], pid=os.getpid())  # the lease moved on after the plan was made
    removed = apply_prune(plan, ckpt_dir)
    assert [c.iteration for c in removed] == [] and (ckpt_dir / "iter_000000200").is_dir()
    write_lease(ckpt_dir, [], pid=os.getpid())
    assert [c.iteration for c in apply_prune(plan, ckpt_dir)] == [200]
