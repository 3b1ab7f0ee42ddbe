"""Benchmark: ``data prepare`` against one ffmpeg process per clip, measured side by side.

Run: ``.venv/bin/python tests/benchmarks/bench_prepare.py [--clips 1000] [--jobs N]``

The source is N short, small raw clips (48 frames of 180x320 at 24 fps, real H.264 of moving
patterns, each with a ``.txt`` caption), made once and cached under ``$COSMOS_TUI_BENCH_CACHE`` or
``/tmp/cosmos-tui-bench``. "Ours" is the whole job through the core API (``prepare``: walk SRC,
probe, decode with scene-cut detection, scale + centre-crop to 144x256, encode one 24-frame
window per clip with libx264 ``veryfast`` crf 18, write captions and done markers, then validate
the result) with ``--jobs`` worker processes (default: the CPU count). The baseline runs
``imageio_ffmpeg``'s ffmpeg once per clip, ``--jobs`` at a time, with the same scale, crop, frame
count and encoder settings (``-threads 1``, as our workers encode with one thread), writing only
the mp4: no probe, no scene cuts, no captions, no validation. Clips/s is source clips per second.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SRC_FRAMES, SRC_SIZE, FPS = 48, (180, 320), 24
FRAMES, SIZE = 24, (144, 256)


def _cache() -> Path:
    return Path(os.environ.get("COSMOS_TUI_BENCH_CACHE", Path(tempfile.gettempdir()) / "cosmos-tui-bench"))


def _source(clips: int) -> Path:
    """The cached raw source of ``clips`` clips."""
    from cosmos_tui.core.datasets import paint

    path = _cache() / f"prepare-src-{clips}"
    done = path / ".complete"
    if done.is_file():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    print(f"writing {clips} raw clips into {path} (once) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()

    def one(i: int) -> None:
        scene = paint.make_scene(7, i)
        paint.write_mp4(
            path / f"raw_{i:05d}.mp4", paint.render_frames(scene, 0, SRC_FRAMES, SRC_SIZE, "rgb"), FPS
        )
        (path / f"raw_{i:05d}.txt").write_text(paint.caption_of(scene) + "\n")

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(one, range(clips)))
    done.write_text("")
    print(f"  took {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return path


def ours(src: Path, out: Path, jobs: int) -> tuple[float, int, bool]:
    from cosmos_tui.core.datasets.prepare.job import PrepareOptions, prepare

    shutil.rmtree(out, ignore_errors=True)
    opts = PrepareOptions(
        "predict25-video2world", frames=FRAMES, size=SIZE, max_windows=1, jobs=jobs, crf=18, preset="veryfast"
    )
    started = time.perf_counter()
    result = prepare(src, out, opts)
    return time.perf_counter() - started, result.clips, result.ok


def baseline(src: Path, out: Path, jobs: int) -> tuple[float, int]:
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    h, w = SIZE
    vf = f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}"
    clips = sorted(src.glob("*.mp4"))

    def one(p: Path) -> int:
        argv = [ffmpeg, "-v", "error", "-nostdin", "-y", "-threads", "1", "-i", str(p), "-vf", vf,
                "-frames:v", str(FRAMES), "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
                "-pix_fmt", "yuv420p", "-threads", "1", "-an", str(out / p.name)]  # fmt: skip
        return subprocess.run(argv, check=False).returncode

    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        codes = list(pool.map(one, clips))
    return time.perf_counter() - started, sum(c == 0 for c in codes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    src = _source(args.clips)
    work = Path(tempfile.mkdtemp(prefix="bench-prepare-"))
    try:
        base_s, base_n = baseline(src, work / "ffmpeg", args.jobs)
        ours_s, ours_n, ok = ours(src, work / "ours", args.jobs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.clips} raw clips ({SRC_FRAMES} frames {SRC_SIZE[0]}x{SRC_SIZE[1]}) -> {FRAMES} frames "
          f"{SIZE[0]}x{SIZE[1]}, {args.jobs} jobs on {os.cpu_count()} cores")  # fmt: skip
    print(
        f"  data prepare : {ours_s:7.1f} s  {args.clips / ours_s:7.1f} clips/s  "
        f"({ours_n} written, valid={ok})"
    )
    print(f"  ffmpeg/clip  : {base_s:7.1f} s  {args.clips / base_s:7.1f} clips/s  ({base_n} written)")
    print(f"  ratio        : {base_s / ours_s:.2f}x the baseline's rate")
    return 0 if ok and ours_n == args.clips else 1


if __name__ == "__main__":
    raise SystemExit(main())
