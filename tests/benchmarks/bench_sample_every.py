"""Builtin engine: what ``trainer.sample_every`` costs the training it runs beside.

Two real runs of the same experiment, data and seed through ``torchrun -m cosmos_engine.train``
(``--standalone``), one metrics record per iteration: the baseline with ``trainer.sample_every=0``,
the figure with ``trainer.sample_every=EVERY`` (a save every EVERY iterations, each followed by the
sampler in a process of its own on the same device). Printed: the median s/iter of the baseline,
of the figure's iterations that overlap a sampler's drawing (from each ``samples/iter_*/index.json``:
``started_at`` + ``seconds``, which leave out the sampler's interpreter start-up) and of the rest,
their ratios to the baseline, and the wall time of each run (the figure's until its last sample is
written). Needs only the engine's own dependencies (torch, PyAV, hydra-core, omegaconf), so it runs
on a bare GPU machine with ``--data``.

    .venv/bin/python tests/benchmarks/bench_sample_every.py                       # tiny, CPU
    python tests/benchmarks/bench_sample_every.py --experiment s2mv_text2world_small --data DIR
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_gpu import _env

REPO = Path(__file__).resolve().parents[2]


def train(work: Path, label: str, args: argparse.Namespace, every: int) -> tuple[Path, float]:
    """One run to its end; (job folder, wall seconds until it and its samplers are done)."""
    out = work / label
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.nproc}"]
    argv += ["-m", "cosmos_engine.train", "--", f"experiment={args.experiment}"]
    argv += [f"dataloader_train.dataset.dataset_dir={args.data}", f"trainer.max_iter={args.iters}"]
    argv += [f"checkpoint.save_iter={args.every}", "trainer.logging_iter=1", "job.wandb_mode=disabled"]
    argv += [f"trainer.sample_every={every}", f"trainer.sample_steps={args.steps}", *args.set]
    env = {
        **_env(),
        "IMAGINAIRE_OUTPUT_ROOT": str(out),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    t0 = time.monotonic()
    with open(work / f"{label}.log", "wb") as log:
        code = subprocess.run(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO).returncode
    if code != 0:
        raise SystemExit(f"error: the {label} run exited {code}; see {work / f'{label}.log'}")
    (jsonl,) = out.rglob("metrics.jsonl")
    job = jsonl.parent
    if every:
        wanted = [i for i in range(every, args.iters + 1, every)]
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            if all((job / "samples" / f"iter_{i:09d}" / "index.json").is_file() for i in wanted):
                break
            time.sleep(0.5)
        else:
            raise SystemExit(
                f"error: the samplers did not finish in {args.timeout:.0f} s; see {job / 'samples'}"
            )
    return job, time.monotonic() - t0


def records(job: Path, skip: int) -> list[dict]:
    rows = [json.loads(line) for line in (job / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if "sec_per_iter" in r and r["iteration"] > skip]


def windows(job: Path) -> list[tuple[float, float]]:
    spans = []
    for index in sorted((job / "samples").glob("iter_*/index.json")):
        meta = json.loads(index.read_text())
        spans.append((float(meta["started_at"]), float(meta["started_at"]) + float(meta["seconds"])))
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="s2mv_text2world_tiny")
    parser.add_argument("--data", type=Path, help="a predict1-waymo dataset (default: synthesised)")
    parser.add_argument("--iters", type=int, default=60)
    parser.add_argument("--every", type=int, default=20, help="save and sample every this many iterations")
    parser.add_argument("--steps", type=int, default=20, help="Euler steps per sample")
    parser.add_argument("--nproc", type=int, default=1)
    parser.add_argument("--skip", type=int, default=3, help="warm-up iterations left out")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the samplers")
    parser.add_argument("--set", action="append", default=[], help="an extra engine override")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sample-every-") as tmp:
        work = Path(tmp)
        if args.data is None:
            from cosmos_tui.core.datasets.synth import synthesize

            args.data = synthesize(work / "data", "predict1-waymo", clips=4, frames=24)
        base_job, base_wall = train(work, "baseline", args, 0)
        job, wall = train(work, "sampling", args, args.every)
        base = statistics.median(r["sec_per_iter"] for r in records(base_job, args.skip))
        spans = windows(job)
        inside, outside = [], []
        for r in records(job, args.skip):
            end = float(r["time"])
            start = end - float(r["sec_per_iter"])
            (inside if any(start < b and end > a for a, b in spans) else outside).append(r["sec_per_iter"])
        device = records(job, 0)[-1].get("device", "?")
    print(
        f"{args.experiment} on {device}, {args.nproc} rank(s), {args.iters} iterations, "
        f"a sample every {args.every}"
    )
    print(f"baseline (sample_every=0): {base * 1e3:.1f} ms/iter, wall {base_wall:.1f} s")
    drawn = sum(b - a for a, b in spans)
    print(
        f"samplers drawing: {len(spans)} checkpoint(s), {drawn:.1f} s in all "
        f"({args.steps} Euler steps, seeds 0,1)"
    )
    if inside:
        m = statistics.median(inside)
        print(
            f"iterations overlapping a sampler ({len(inside)}): {m * 1e3:.1f} ms/iter, "
            f"{m / base:.2f}x baseline"
        )
    if outside:
        m = statistics.median(outside)
        print(f"other iterations ({len(outside)}): {m * 1e3:.1f} ms/iter, {m / base:.2f}x baseline")
    print(f"wall with sampling (until the last sample): {wall:.1f} s, {wall / base_wall:.2f}x baseline")


if __name__ == "__main__":
    main()
