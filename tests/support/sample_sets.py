"""Sample sets for tests, written by the engine's own writer (``cosmos_engine.generate.
write_samples``: real mp4s through PyAV, real PNG contact sheets, the real ``index.json``), from
frames of one flat colour per set instead of a model's samples, so a test can tell sets apart."""

from __future__ import annotations

from pathlib import Path

from cosmos_engine.generate import Request, write_samples

PROMPTS = ("a red car turns left", "rain on an empty street")


def write_sample_set(
    job_dir: Path,
    iteration: int | None,
    colour: tuple[float, float, float],
    *,
    seeds: tuple[int, ...] = (0,),
    prompts: tuple[str | None, ...] = PROMPTS,
    frames: int = 4,
    size: tuple[int, int] = (16, 24),
) -> Path:
    """``JOB/samples/base`` (``iteration`` None) or ``JOB/samples/iter_%09d`` holding one sample per
    prompt and seed: frames of ``colour`` (RGB in [-1, 1]) with a white square moving left to right
    (the seed moves it down); returns the set's folder."""
    import torch

    label = "base" if iteration is None else f"iter_{iteration:09d}"
    out = job_dir / "samples" / label
    out.mkdir(parents=True, exist_ok=True)
    h, w = size
    side = max(2, h // 3)

    def clip(seed: int) -> torch.Tensor:
        video = torch.tensor(colour, dtype=torch.float32).view(1, 1, 3, 1, 1).repeat(1, frames, 1, h, w)
        top = (seed * side // 2) % (h - side + 1)
        for t in range(frames):
            left = t * (w - side) // max(1, frames - 1)
            video[0, t, :, top : top + side, left : left + side] = 1.0
        return video

    drawn = [(Request(p, s, None), clip(s), 0.01) for p in prompts for s in seeds]
    meta = {
        "engine": "cosmos_engine",
        "checkpoint": {"kind": "base" if iteration is None else "iteration", "iteration": iteration},
        "ema": False,
        "steps": 2,
        "device": "cpu",
        "started_at": 0.0,
    }
    write_samples(out, drawn, meta)
    return out


def write_sample_record(job_dir: Path, job_id: str, status: str = "running") -> None:
    """A samples job's record as ``start_samples`` leaves it, its supervisor this test process
    (alive, so it reads as ``running`` until it ends), drawing ``iter_000000004`` of ``job_dir``."""
    import os
    import time

    from cosmos_tui.core.paths import samples_root
    from cosmos_tui.core.runs import procs
    from cosmos_tui.core.sampling.jobs import SampleJob, write_job

    folder = samples_root() / job_id
    folder.mkdir()
    write_job(
        SampleJob(
            id=job_id,
            folder=folder,
            job_dir=str(job_dir),
            engine_kind="builtin",
            targets=("iter_000000004",),
            outputs=(str(job_dir / "samples" / "iter_000000004"),),
            commands=(("python", "-m", "cosmos_engine.generate"),),
            samples=1,
            steps=2,
            ema=None,
            status=status,  # type: ignore[arg-type]
            created_at=time.time(),
            supervisor=procs.ref_of(os.getpid(), "supervisor"),
        )
    )
