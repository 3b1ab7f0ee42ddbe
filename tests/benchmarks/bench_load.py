"""Load: the run registry with 1,000 runs and a run with 1,000 checkpoints list in under a second;
the dataset validator on 10,000 clips keeps its memory flat.

    .venv/bin/python tests/benchmarks/bench_load.py [--clips 10000]

Prints each figure with a baseline measured in the same run (raw ``json.loads`` of every run.json,
a bare ``os.scandir`` of the checkpoint folders) and the ratio, and the validator's peak RSS at
1,000 and at N clips (each measured in a fresh process). Data is generated once under /tmp.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests folder, for support.runs

CACHE = Path("/tmp/cosmos-tui-bench-load")


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def make_registry(n: int) -> Path:
    from support.runs import add_ended_run

    from cosmos_tui.core.runs import registry

    state = CACHE / f"state-{n}"
    os.environ["COSMOS_TUI_HOME"] = str(state)
    if not (state / "runs").is_dir() or len(os.listdir(state / "runs")) < n:
        for i in range(n):
            run_id = f"20260101-{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}-bench-{i:04x}"
            if not (registry.run_dir_for(run_id) / "run.json").exists():
                add_ended_run(
                    run_id,
                    preset={"model": {"id": "x"}},
                    created_at=time.time(),
                    argv=("torchrun", "-m", "x"),
                )
    return state


def make_checkpoints(n: int) -> Path:
    ckpts = CACHE / f"ckpts-{n}" / "checkpoints"
    if not (ckpts / "latest_checkpoint.txt").exists():
        for i in range(1, n + 1):
            for part in ("model", "optim", "scheduler", "trainer"):
                d = ckpts / f"iter_{i:09d}" / part
                d.mkdir(parents=True, exist_ok=True)
                (d / ".metadata").write_bytes(b"x")
                (d / "__0_0.distcp").write_bytes(b"y" * 64)
        (ckpts / "latest_checkpoint.txt").write_text(f"iter_{n:09d}\n")
    return ckpts


def bench_registry(n: int) -> None:
    from cosmos_tui.core.runs import list_runs, registry

    state = make_registry(n)
    assert len(list_runs()) == n

    def baseline() -> None:
        for e in os.scandir(state / "runs"):
            json.loads(Path(e.path, "run.json").read_text())

    ours, base = _best(lambda: list_runs()), _best(baseline)
    print(f"registry: list_runs() of {n} runs: {ours * 1000:.0f} ms (target < 1000 ms)")
    print(
        f"  baseline (scandir + json.loads of every run.json): {base * 1000:.0f} ms; ratio {ours / base:.1f}x"
    )
    cli = _best(
        lambda: subprocess.run(
            [sys.executable, "-m", "cosmos_tui", "runs", "list", "--json"], capture_output=True, check=True
        ),
        1,
    )
    print(f"  `cosmos-tui runs list --json` end to end (process start included): {cli * 1000:.0f} ms")
    _ = registry


def bench_checkpoints(n: int) -> None:
    from cosmos_tui.core.checkpoints.scan import scan_checkpoints

    ckpts = make_checkpoints(n)
    assert len(scan_checkpoints(ckpts)) == n

    def baseline() -> None:
        for e in os.scandir(ckpts):
            if e.is_dir():
                for part in os.scandir(e.path):
                    os.stat(os.path.join(part.path, ".metadata"))

    ours, base = _best(lambda: scan_checkpoints(ckpts)), _best(baseline)
    print(f"checkpoints: scan_checkpoints() of {n} step folders: {ours * 1000:.0f} ms (target < 1000 ms)")
    print(f"  baseline (scandir + stat of .metadata): {base * 1000:.0f} ms; ratio {ours / base:.1f}x")


def make_dataset(clips: int) -> Path:
    """Tiny clips: one real 2-frame mp4 copied under every clip name, per view; one T5 pickle likewise."""
    from cosmos_tui.core.datasets.synth import synthesize

    root = CACHE / f"waymo-{clips}"
    if (root / ".done").exists():
        return root
    seed = (
        synthesize(CACHE / "seed", "predict1-waymo", clips=1, frames=2, size=(16, 16))
        if not (CACHE / "seed" / "videos").exists()
        else CACHE / "seed"
    )
    for sub in ("cache",):
        target = root / sub
        target.mkdir(parents=True, exist_ok=True)
        for f in (seed / sub).iterdir():
            (target / f.name).write_bytes(f.read_bytes())
    for kind, ext in (("videos", ".mp4"), ("t5_xxl", ".pkl")):
        for view in (seed / kind).iterdir():
            src = next(view.iterdir()).read_bytes()
            out = root / kind / view.name
            out.mkdir(parents=True, exist_ok=True)
            for i in range(clips):
                (out / f"clip{i:06d}{ext}").write_bytes(src)
    (root / ".done").write_text("ok")
    return root


def validate_rss(clips: int) -> tuple[float, float]:
    root = make_dataset(clips)
    code = (
        "import resource, sys, time; from pathlib import Path; "
        "from cosmos_tui.core.datasets.validate import validate; t = time.perf_counter(); "
        f"validate(Path({str(root)!r}), 'predict1-waymo', workers=2); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--checkpoints", type=int, default=1000)
    parser.add_argument("--clips", type=int, default=10_000)
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    bench_registry(args.runs)
    bench_checkpoints(args.checkpoints)
    small = max(1, args.clips // 10)
    t_small, rss_small = validate_rss(small)
    t_big, rss_big = validate_rss(args.clips)
    print(
        f"validator: {small} clips {t_small:.1f} s, peak RSS {rss_small:.0f} MiB; "
        f"{args.clips} clips {t_big:.1f} s, peak RSS {rss_big:.0f} MiB; "
        f"RSS ratio {rss_big / rss_small:.2f}x for {args.clips // small}x the clips"
    )


if __name__ == "__main__":
    main()
