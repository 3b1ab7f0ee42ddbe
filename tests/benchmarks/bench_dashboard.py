"""Dashboard frame time and memory under a log flood: 8 ranks x 2,000 lines/s into console.log.

Runs the real app headless (Textual's test driver) on a real run record with a writer thread
appending torchrun-style lines (``[rankN]:`` + loguru prefix) for ``--seconds``. Measures, while
the flood goes on:

- frame time: each screen update (layout + render + output), p50/p99 and max (target p99 < 33 ms);
- event-loop lag: how late a 10 ms timer fires (blocking in the loop would show here);
- RSS of the process at the end and its peak.

The baseline is the same app and dashboard, measured the same way, with the writer idle.

    .venv/bin/python tests/benchmarks/bench_dashboard.py [--seconds 10] [--rate 2000] [--ranks 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _make_run(state: Path, output: Path) -> str:
    os.environ["COSMOS_TUI_HOME"] = str(state)
    os.environ["IMAGINAIRE_OUTPUT_ROOT"] = str(output)
    from cosmos_tui.core.runs import registry
    from cosmos_tui.core.runs.record import RunRecord

    run_id = "20260101-120000-bench-dashboard-0000"
    job = output / "cosmos_engine" / "s2mv_text2world" / run_id
    job.mkdir(parents=True)
    record = RunRecord(
        id=run_id,
        run_dir=registry.run_dir_for(run_id),
        preset={"experiment": {"name": "s2mv_text2world_tiny", "overrides": ["trainer.max_iter=100000"]}},
        status="finished",
        exit_code=0,
        created_at=time.time(),
        started_at=time.time(),
        job_dir=str(job),
    )
    registry.create(record)
    (record.run_dir / "console.log").write_text("")
    return run_id


def _writer(path: Path, ranks: int, rate: int, stop: threading.Event, counter: list[int]) -> None:
    """Append ``ranks * rate`` lines per second in 10 ms batches."""
    tick = 0.01
    per_tick = max(1, rate * ranks // 100)
    n = 0
    start = time.perf_counter()
    with open(path, "a", buffering=1 << 16) as f:
        while not stop.is_set():
            lines = []
            for _ in range(per_tick):
                rank = n % ranks
                it = n // ranks
                if rank == 0 and it % 50 == 0:
                    msg = f"Iteration {it}: Hit counter: 10/10 | Loss: {1 / (1 + it):.4f} | Time: 0.420s"
                else:
                    msg = f"data worker {rank} fetched batch {it} (shape 2x3x16x64x96) in 0.0{rank}3s"
                lines.append(f"[rank{rank}]:[01-01 12:00:00|INFO|cosmos_engine/trainer.py:212:train] {msg}\n")
                n += 1
            f.write("".join(lines))
            f.flush()
            counter[0] = n
            next_at = start + (n // per_tick) * tick
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)


async def _measure(run_id: str, console: Path, seconds: float, flood: bool, ranks: int, rate: int) -> dict:
    import psutil
    from textual.screen import Screen

    from cosmos_tui.tui.app import CosmosApp
    from cosmos_tui.tui.screens.dashboard import DashboardScreen
    from cosmos_tui.tui.widgets.log_view import LogView

    frames: list[float] = []
    original = Screen._on_timer_update

    def timed(self: Screen) -> None:
        t0 = time.perf_counter()
        original(self)
        if isinstance(self, DashboardScreen):
            frames.append(time.perf_counter() - t0)

    Screen._on_timer_update = timed  # type: ignore[method-assign]
    proc = psutil.Process()
    lags: list[float] = []
    peak_rss = 0
    counter = [0]
    try:
        app = CosmosApp(initial_run_id=run_id)
        async with app.run_test(size=(120, 36)) as pilot:
            while not (isinstance(app.screen, DashboardScreen) and app.screen.polls):
                await pilot.pause(0.05)
            frames.clear()
            stop = threading.Event()
            writer = threading.Thread(target=_writer, args=(console, ranks, rate, stop, counter), daemon=True)
            if flood:
                writer.start()
            t_end = time.perf_counter() + seconds
            while time.perf_counter() < t_end:
                t0 = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - t0 - 0.01)
                peak_rss = max(peak_rss, proc.memory_info().rss)
            stop.set()
            if flood:
                writer.join()
            shown = app.screen.query_one(LogView).line_count
            skipped = app.screen.query_one(LogView).border_subtitle or ""
    finally:
        Screen._on_timer_update = original  # type: ignore[method-assign]
    return {
        "frames": frames,
        "lags": lags,
        "rss": proc.memory_info().rss,
        "peak_rss": peak_rss,
        "lines": counter[0],
        "shown": shown,
        "skipped": str(skipped),
    }


def _report(name: str, r: dict, seconds: float) -> None:
    f = [x * 1000 for x in r["frames"]]
    lag = [x * 1000 for x in r["lags"]]
    print(
        f"{name:<9} frames {len(f):5d} ({len(f) / seconds:5.1f}/s)  frame ms p50 {_pct(f, 0.5):6.2f} "
        f"p99 {_pct(f, 0.99):6.2f} max {max(f, default=float('nan')):6.2f}  "
        f"loop lag ms p50 {_pct(lag, 0.5):5.2f} p99 {_pct(lag, 0.99):6.2f}  "
        f"RSS {r['rss'] / 2**20:6.1f} MiB (peak {r['peak_rss'] / 2**20:6.1f})"
    )
    if r["lines"]:
        print(
            f"{'':9} lines written {r['lines']:,} ({r['lines'] / seconds:,.0f}/s); "
            f"in view buffer {r['shown']:,}; {r['skipped'] or 'no burst skipped'}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=2000, help="lines per second per rank")
    ap.add_argument("--ranks", type=int, default=8)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for mode, flood in (("baseline", False), ("flood", True)):
            base = Path(tmp) / mode
            run_id = _make_run(base / "state", base / "output")
            from cosmos_tui.core.paths import runs_root

            console = runs_root() / run_id / "console.log"
            results[mode] = asyncio.run(_measure(run_id, console, args.seconds, flood, args.ranks, args.rate))
    print(
        f"dashboard at 120x36, {args.ranks} ranks x {args.rate} lines/s for {args.seconds:.0f} s (headless)"
    )
    _report("baseline", results["baseline"], args.seconds)
    _report("flood", results["flood"], args.seconds)
    b, f = results["baseline"], results["flood"]
    p99b, p99f = _pct(b["frames"], 0.99) * 1000, _pct(f["frames"], 0.99) * 1000
    verdict = "meets" if p99f < 33 else "MISSES"
    print(
        f"flood/baseline: frame p99 {p99f:.2f} / {p99b:.2f} ms = {p99f / p99b:.2f}x; "
        f"RSS +{(f['peak_rss'] - b['peak_rss']) / 2**20:.1f} MiB; target p99 < 33 ms: {verdict}"
    )
    print(
        f"median frame ms: baseline {statistics.median(b['frames'] or [0]) * 1000:.2f}, "
        f"flood {statistics.median(f['frames'] or [0]) * 1000:.2f}"
    )


if __name__ == "__main__":
    main()
