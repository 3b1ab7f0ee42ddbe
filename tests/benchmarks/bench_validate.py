"""Benchmark: full dataset validation against one ffprobe per file, measured side by side.

Run: ``.venv/bin/python tests/benchmarks/bench_validate.py [--samples 2000] [--workers N]``

The dataset is a synthesized ``predict1-waymo`` set (made once, cached under
``$COSMOS_TUI_BENCH_CACHE`` or ``/tmp/cosmos-tui-bench``): N multi-view samples x 5 views, each
video with its T5 embedding pickle, plus the 5 prefix pickles. "Ours" is the whole validator
(listing, cross-view name checks, every video opened with PyAV, every pickle read with the
restricted unpickler), run in a fresh process so its peak RSS can be read. The baseline runs
``ffprobe`` once per video file on a sample of files (ffprobe from Debian's ffmpeg package; the
baseline is skipped with a message if ffprobe is absent). A *clip* is one video file (one view of
one sample), the unit the ffprobe baseline works in; samples/s is printed too. Peak RSS is
compared for 500 and N samples to show memory stays flat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYOUT = "predict1-waymo"
FRAMES = 8


def _cache() -> Path:
    return Path(os.environ.get("COSMOS_TUI_BENCH_CACHE", Path(tempfile.gettempdir()) / "cosmos-tui-bench"))


def _dataset(samples: int) -> Path:
    """The cached dataset of ``samples`` samples (smaller ones are hard-linked subsets of the big one)."""
    from cosmos_tui.core.datasets.synth import MARKER, synthesize

    path = _cache() / f"{LAYOUT}-{samples}"
    if (path / MARKER).is_file():
        return path
    shutil.rmtree(path, ignore_errors=True)
    print(f"synthesizing {samples} samples into {path} (once) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    synthesize(path, LAYOUT, clips=samples, frames=FRAMES, size=(32, 48), seed=1)
    print(f"  took {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return path


def _subset(big: Path, samples: int) -> Path:
    """The first ``samples`` samples of ``big``, as hard links."""
    from cosmos_tui.core.datasets.synth import MARKER

    path = _cache() / f"{LAYOUT}-{samples}-of-{big.name}"
    if (path / MARKER).is_file():
        return path
    shutil.rmtree(path, ignore_errors=True)
    keep = {f"clip_{i:04d}" for i in range(samples)}
    for src in big.rglob("*"):
        if src.is_file() and (
            src.parent.name == "cache" or src.name.split(".")[0] in keep or src.name == MARKER
        ):
            dst = path / src.relative_to(big)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, dst)
    return path


def _child(root: str, workers: int | None) -> None:
    """Validate ``root`` in this (fresh) process and print timing and peak RSS as JSON."""
    import resource

    from cosmos_tui.core.datasets.validate import validate

    report = validate(Path(root), LAYOUT, min_frames=FRAMES, workers=workers)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "elapsed_s": report.elapsed_s,
                "samples": report.clips,
                "videos": report.videos,
                "embeddings": report.embeddings,
                "ok": report.ok,
                "findings": [f.id for f in report.findings],
                "peak_rss_mib": rss_kb / 1024,
            }
        )
    )


def _run_child(root: Path, workers: int | None) -> dict:
    cmd = [sys.executable, __file__, "--child", str(root)]
    if workers:
        cmd += ["--workers", str(workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _ffprobe_rate(root: Path, files: int) -> float | None:
    exe = shutil.which("ffprobe")
    if exe is None:
        print("baseline skipped: ffprobe not found (apt-get install -y ffmpeg)", file=sys.stderr)
        return None
    videos = sorted((root / "videos").rglob("*.mp4"))[:files]
    entries = "stream=codec_name,width,height,avg_frame_rate,nb_frames"
    started = time.perf_counter()
    for v in videos:
        cmd = [exe, "-v", "error", "-select_streams", "v:0", "-show_entries", entries, "-of", "json", str(v)]
        res = subprocess.run(cmd, check=True, capture_output=True, text=True)
        json.loads(res.stdout)["streams"][0]["nb_frames"]
    return len(videos) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="multi-view samples (x5 video files)")
    parser.add_argument("--small", type=int, default=500, help="samples of the memory comparison run")
    parser.add_argument("--workers", type=int, default=None, help="validator threads (default: auto)")
    parser.add_argument("--ffprobe-files", type=int, default=60, help="files the baseline probes")
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs for each side")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.workers)
        return

    big = _dataset(args.samples)
    small = _subset(big, args.small)
    _run_child(small, args.workers)  # warm the page cache and imports
    ours = min((_run_child(big, args.workers) for _ in range(args.repeat)), key=lambda r: r["elapsed_s"])
    probe_rates = [_ffprobe_rate(big, args.ffprobe_files) for _ in range(args.repeat)]
    base = max((r for r in probe_rates if r is not None), default=None)
    mem_small = _run_child(small, args.workers)

    assert ours["ok"], ours["findings"]
    clips_s = ours["videos"] / ours["elapsed_s"]
    samples_s = ours["samples"] / ours["elapsed_s"]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (load slows both)")
    print(
        f"dataset: {LAYOUT}, {ours['samples']} samples x 5 views = {ours['videos']} clips (video files, "
        f"{FRAMES} frames 32x48) + {ours['embeddings']} T5 pickles + 5 prefix pickles"
    )
    print(
        f"ours     (PyAV in-process + restricted unpickler + cross-view checks): {ours['elapsed_s']:.2f}s "
        f"= {clips_s:,.0f} clips/s ({samples_s:,.0f} multi-view samples/s)"
    )
    if base is not None:
        print(
            f"baseline (ffprobe once per file, {args.ffprobe_files} files, videos only): {base:,.1f} clips/s"
        )
        print(f"ratio: {clips_s / base:,.0f}x (target >= 80x: {'PASS' if clips_s / base >= 80 else 'FAIL'})")
    print(f"target >= 1,000 clips/s: {'PASS' if clips_s >= 1000 else 'FAIL'}")
    print(
        f"memory: peak RSS {mem_small['peak_rss_mib']:.0f} MiB for {mem_small['samples']} samples, "
        f"{ours['peak_rss_mib']:.0f} MiB for {ours['samples']} samples "
        f"(x{ours['peak_rss_mib'] / mem_small['peak_rss_mib']:.2f} "
        f"for x{ours['samples'] / mem_small['samples']:.0f} the clips)"
    )


if __name__ == "__main__":
    main()
