"""Live parsing cost: 8 ranks x 2,000 lines/s followed by RunMonitor must cost under 2% of one core.

Run: .venv/bin/python tests/benchmarks/bench_monitor_live.py [--seconds 10] [--hz 10]

Eight writer processes (not measured) each append 2,000 upstream-style lines/s to their own
console log: loguru-style chatter, and on rank 0 an IterSpeed line every 20 lines (100/s, far
more than upstream's one per ``every_n`` iterations). This process follows all eight with one
RunMonitor each (log tail, bulk metrics scan, progress, watchdog), polling at --hz; its CPU time
comes from time.process_time. The baseline, measured right after on the same stream, is the
naive follower: read each new line and run the full line parser and the progress regexes on it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cosmos_tui.core.monitor.logline import parse_line
from cosmos_tui.core.monitor.metrics import parse_message
from cosmos_tui.core.monitor.runmonitor import RunMonitor

WRITER = r"""
import random, sys, time
sys.path.insert(0, {bench!r})
from monitor_biglog import CHATTER, SRC
path, rate, seconds, rank = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rng = random.Random(0)
it = 0
end = time.monotonic() + seconds
with open(path, "a", buffering=1 << 16) as f:
    while time.monotonic() < end:
        t0 = time.monotonic()
        lines = []
        for _ in range(rate // 20):
            it += 1
            t = "02-17 10:00:00"
            if rank == 0 and it % 20 == 0:  # IterSpeed is rank-0 only upstream
                lines.append(f"[{{t}}|INFO|{{SRC}}:86:every_n_impl] {{it}} : iter_speed 0.50 seconds per "
                             "iteration | Loss: 0.0632")
            else:
                lines.append(rng.choice(CHATTER).format(t=t, t2="0217 10:00:00", r=rank, n=it, x=0.5))
        f.write("\n".join(lines) + "\n")
        f.flush()
        time.sleep(max(0.0, 0.05 - (time.monotonic() - t0)))
"""


def start_writers(root: Path, ranks: int, rate: int, seconds: float) -> list[subprocess.Popen]:
    code = WRITER.format(bench=str(Path(__file__).parent))
    return [
        subprocess.Popen(
            [sys.executable, "-c", code, str(root / f"rank{r}.log"), str(rate), str(seconds), str(r)]
        )
        for r in range(ranks)
    ]


def follow(logs: list[Path], seconds: float, hz: float, naive: bool) -> tuple[float, int]:
    """Follow the logs for ``seconds``; return (CPU seconds used, lines seen)."""
    if naive:
        files = [open(p, encoding="utf-8", errors="replace") for p in logs]  # noqa: SIM115
        for f in files:
            f.seek(0, 2)
    else:
        mons = [RunMonitor(console_log=p, log_start="end") for p in logs]
    cpu0 = time.process_time()
    end = time.monotonic() + seconds
    lines = 0
    samples = 0
    while time.monotonic() < end:
        t0 = time.monotonic()
        if naive:
            for f in files:
                for line in f:
                    lines += 1
                    if parse_message(parse_line(line.rstrip("\n")).message) is not None:
                        samples += 1
        else:
            for m in mons:
                before = m.tail.total_lines if m.tail else 0
                snap = m.poll()
                lines += snap.log_lines_total - before
        time.sleep(max(0.0, 1.0 / hz - (time.monotonic() - t0)))
    cpu = time.process_time() - cpu0
    if naive:
        for f in files:
            f.close()
    return cpu, lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--hz", type=float, default=10.0)
    ap.add_argument("--ranks", type=int, default=8)
    ap.add_argument("--rate", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cosmos-tui-live-") as tmp:
        root = Path(tmp)
        logs = [root / f"rank{r}.log" for r in range(args.ranks)]
        for p in logs:
            p.touch()
        total = 2 * args.seconds + 2
        writers = start_writers(root, args.ranks, args.rate, total)
        try:
            time.sleep(0.5)
            ours_cpu, ours_lines = follow(logs, args.seconds, args.hz, naive=False)
            base_cpu, base_lines = follow(logs, args.seconds, args.hz, naive=True)
        finally:
            for w in writers:
                w.wait()
    ours = 100 * ours_cpu / args.seconds
    base = 100 * base_cpu / args.seconds
    print(
        f"live parsing: {args.ranks} ranks x {args.rate} lines/s for {args.seconds:.0f} s, "
        f"polled at {args.hz:.0f} Hz"
    )
    print(
        f"  RunMonitor x{args.ranks}: {ours:6.2f}% of one core "
        f"({ours_lines / args.seconds:,.0f} lines/s seen)"
    )
    print(
        f"  baseline, naive per-line parse: {base:6.2f}% of one core "
        f"({base_lines / args.seconds:,.0f} lines/s seen)"
    )
    print(
        f"  ratio baseline/ours: {base / ours:.1f}x   target < 2% of one core: "
        f"{'met' if ours < 2 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
