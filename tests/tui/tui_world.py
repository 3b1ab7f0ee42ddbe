"""The fixed world of the TUI tests: a clock, runs written through the real registry, the NVML
test double, shared by the conftest and the test modules (imported as ``tui_world``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from support.fake_nvml import FakeNvml, fake_device

from cosmos_tui.core.runs import registry
from cosmos_tui.core.runs.record import RunRecord

NOW = 1_767_270_000.0  # 2026-01-01 12:20:00 UTC, the fixed "now" of every test image
RUN_OK = "20260101-120000-s2mv-text2world-tiny-a1b2"
RUN_FAILED = "20260101-113000-s2mv-video2world-tiny-c3d4"


FREE_DISK = 500 * 10**9
"""What the injected free-space probe reports (so flags and forecasts are the same everywhere)."""


def fake_gpus(count: int = 2) -> FakeNvml:
    """``FakeNvml`` (the NVML test double) with ``count`` H100s at fixed readings."""
    return FakeNvml(
        devices=[
            fake_device(i, name="NVIDIA H100 80GB HBM3", util=68.0 + 5 * i, mem_used=(40 + 2 * i) << 30)
            for i in range(count)
        ]
    )


def _loguru(
    i: int, message: str, level: str = "INFO", src: str = "cosmos_engine/trainer.py:212:train"
) -> str:
    return f"[01-01 12:{i // 60:02d}:{i % 60:02d}|{level}|{src}] {message}"


def _touch_tree(path: Path, when: float) -> None:
    for p in sorted(path.rglob("*"), reverse=True):
        os.utime(p, (when, when))
    os.utime(path, (when, when))


def write_run(
    run_id: str,
    *,
    status: str,
    iters: int,
    max_iter: int,
    exit_code: int | None,
    reason: str | None = None,
    experiment: str = "s2mv_text2world_tiny",
    checkpoints: tuple[int, ...] = (),
    started: float = NOW - 1200,
) -> RunRecord:
    """A run as the registry writes it, with its console log, metrics and checkpoints."""
    job_dir = (
        Path(os.environ["IMAGINAIRE_OUTPUT_ROOT"]) / "cosmos_engine" / experiment.rsplit("_", 1)[0] / run_id
    )
    preset = {
        "model": {"id": "builtin-tiny"},
        "experiment": {
            "name": experiment,
            "overrides": [f"trainer.max_iter={max_iter}", "trainer.logging_iter=1"],
        },
        "launch": {"nproc_per_node": 2},
        "wandb": {"mode": "offline"},
    }
    argv = ("torchrun", "--nproc_per_node=2", "-m", "cosmos_engine.train", "--", f"experiment={experiment}")
    record = RunRecord(
        id=run_id,
        run_dir=registry.run_dir_for(run_id),
        preset=preset,
        argv=argv,
        shell="cd /work\n" + " ".join(argv),
        cwd="/work",
        status=status,  # type: ignore[arg-type]
        reason=reason,
        exit_code=exit_code,
        created_at=started - 2,
        started_at=started,
        ended_at=None if exit_code is None else started + 600,
        job_dir=str(job_dir),
        world_size=2,
        experiment=experiment,
    )
    registry.create(record)
    job_dir.mkdir(parents=True, exist_ok=True)
    lines, metrics = [], []
    for i in range(1, iters + 1):
        loss = 1.2 * (0.93**i) + 0.05 * ((i * 7919) % 13) / 13
        metrics.append({"iteration": i, "loss": loss, "lr": 1e-4, "sec_per_iter": 0.42, "samples_per_s": 9.5})
        lines.append(
            _loguru(i, f"Iteration {i}: Hit counter: {min(i, 10)}/10 | Loss: {loss:.4f} | Time: 0.420s")
        )
    lines.insert(
        3, _loguru(3, "Saving checkpoint to iter_000000005", src="cosmos_engine/checkpoint.py:88:save")
    )
    if status == "failed":
        lines.append(_loguru(iters + 1, "CUDA out of memory while saving", level="ERROR"))
        lines.append("Traceback (most recent call last):")
        lines.append("RuntimeError: rank 1 exited with code 1")
    (record.run_dir / "console.log").write_text("\n".join(lines) + "\n")
    (job_dir / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    ck = job_dir / "checkpoints"
    for it in checkpoints:
        step = ck / f"iter_{it:09d}"
        for part in ("model", "optim", "scheduler", "trainer"):
            (step / part).mkdir(parents=True)
            (step / part / "__0_0.distcp").write_bytes(b"\0" * (4096 * (3 if part == "model" else 1)))
            (step / part / ".metadata").write_bytes(b"")
        _touch_tree(step, started + 30 * it)
    if checkpoints:
        (ck / "latest_checkpoint.txt").write_text(f"iter_{checkpoints[-1]:09d}\n")
    return record


JOB_RUNS = (
    "20260101-100000-s2mv-text2world-tiny-j001",
    "20260101-103000-s2mv-text2world-tiny-j002",
    "20260101-110000-s2mv-text2world-tiny-j003",
)


def write_job_of_three_runs() -> Path:
    """One job folder and three runs on it, as the registry and the supervisor record them: a
    fresh run to 20 (checkpoints 10, 20), a resume of it stopped at 30, and a resume of that to 40.
    Their lines share one ``metrics.jsonl``; each record holds its byte range."""
    job_dir = Path(os.environ["IMAGINAIRE_OUTPUT_ROOT"]) / "cosmos_engine" / "s2mv_text2world" / "shared"
    job_dir.mkdir(parents=True, exist_ok=True)
    metrics = job_dir / "metrics.jsonl"
    spans = ((0, 20, (10, 20), "finished"), (20, 30, (30,), "stopped"), (30, 40, (40,), "finished"))
    parent = None
    for n, (run_id, (start, last, saved, status)) in enumerate(zip(JOB_RUNS, spans, strict=True)):
        offset = metrics.stat().st_size if metrics.exists() else 0
        with open(metrics, "a") as f:
            for i in range(start + 1, last + 1):
                loss = 1.2 * (0.95**i) + (0.15 if n == 1 else 0.0)
                f.write(json.dumps({"iteration": i, "loss": loss, "sec_per_iter": 0.4}) + "\n")
        for it in saved:
            step = job_dir / "checkpoints" / f"iter_{it:09d}"
            for part in ("model", "optim", "scheduler", "trainer"):
                (step / part).mkdir(parents=True, exist_ok=True)
                (step / part / ".metadata").write_bytes(b"")
        began = NOW - 7200 + 1800 * n
        record = RunRecord(
            id=run_id,
            run_dir=registry.run_dir_for(run_id),
            preset={"experiment": {"name": "s2mv_text2world_tiny"}},
            status=status,  # type: ignore[arg-type]
            exit_code=0,
            created_at=began - 1,
            started_at=began,
            ended_at=began + 900,
            job_dir=str(job_dir),
            world_size=2,
            experiment="s2mv_text2world_tiny",
            parent=parent,
            origin="resume" if parent else "run",
            start_iteration=start,
            resumed_from=(
                {"run": parent, "iteration": start, "checkpoint": f"iter_{start:09d}"} if parent else None
            ),
            metrics_offset=offset,
            metrics_end=metrics.stat().st_size,
            checkpoints=tuple(f"iter_{it:09d}" for it in saved),
            last_iteration=last,
        )
        registry.create(record)
        parent = run_id
    (job_dir / "checkpoints" / "latest_checkpoint.txt").write_text("iter_000000040\n")
    return job_dir
