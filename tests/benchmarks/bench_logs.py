"""Log speed on a big upstream-style console log, each figure next to a baseline from the same run.

Run: .venv/bin/python tests/benchmarks/bench_logs.py [--size-mb 2048]

The log is generated once under /tmp/cosmos-tui-bench (see monitor_biglog.py; not committed).
- tail: the last 1,000 lines on screen (LogTail start="end"), latency and RSS growth, against the
  same on a 1 MB log: memory must stay flat in the log size; target < 50 ms.
- search: search_file vs `grep -c` on the same query, GB/s and ratio; target >= 1 GB/s and >= 0.5x grep.
- re-parse: metrics.scan_file (all IterSpeed + Unstable loss lines) vs `grep -c "| Loss: "`, and a
  plain Python line loop with the §3.5 regexes over the first 256 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from monitor_biglog import default_log, generate

from cosmos_tui.core.monitor.logline import HIT_RE, SPEED_RE
from cosmos_tui.core.monitor.logsearch import search_file
from cosmos_tui.core.monitor.logtail import LogTail
from cosmos_tui.core.monitor.metrics import scan_file


def best_of(fn, n: int = 3):
    best, out = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def grep_count(args: list[str], path: Path) -> int:
    return int(
        subprocess.run(["grep", "-c", *args, str(path)], capture_output=True, text=True).stdout.strip() or 0
    )


def rss() -> int:
    return psutil.Process().memory_info().rss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=2048)
    args = ap.parse_args()
    t = time.perf_counter()
    log = default_log(args.size_mb)
    size = log.stat().st_size
    small = generate(log.parent / "console_1MB.log", 1 << 20)
    print(f"log: {log} ({size / 2**30:.2f} GiB, made/reused in {time.perf_counter() - t:.1f} s)")
    grep_count(["-F", "warm the page cache"], log)

    # tail
    for label, path in [("1 MB log (baseline)", small), (f"{size / 2**30:.1f} GiB log", log)]:
        before = rss()
        tail, dt = best_of(lambda p=path: LogTail(p, start="end", backfill=1000), 5)
        grew = rss() - before
        print(f"tail last 1000 lines of {label:>20}: {dt * 1e3:7.2f} ms, RSS +{grew / 2**20:.1f} MiB, "
              f"{len(tail.lines())} lines")  # fmt: skip

    # search
    print("search (lines matching, like grep -c):")
    cases = [
        ("rare literal", "Unstable loss", {}, ["-F"]),
        ("~1% of lines", " : iter_speed ", {}, ["-F"]),
        ("~25% of lines", "moov atom", {}, ["-F"]),
        ("ignore case", "MOOV ATOM", {"ignore_case": True}, ["-F", "-i"]),
        ("regex", r"clip_0+1[0-9]", {"regex": True}, ["-E"]),
    ]
    for label, q, kw, gflags in cases:
        res, dt = best_of(lambda q=q, kw=kw: search_file(log, q, **kw))
        g, gt = best_of(lambda q=q, gflags=gflags: grep_count([*gflags, q], log))
        ok = "same count" if g == res.count else f"COUNT DIFFERS (grep {g})"
        print(f"  {label:>14} {q!r:>18}: {size / dt / 1e9:5.2f} GB/s  grep {size / gt / 1e9:5.2f} GB/s  "
              f"ratio {gt / dt:4.2f}  {res.count} lines, {ok}")  # fmt: skip

    # re-parse
    res, dt = best_of(lambda: scan_file(log))
    g, gt = best_of(lambda: grep_count(["-F", "| Loss: "], log))
    print(f"re-parse progress + Unstable loss: {size / dt / 1e9:5.2f} GB/s  "
          f"grep -c '| Loss: ' {size / gt / 1e9:5.2f} GB/s  "
          f"ratio {gt / dt:4.2f}  ({len(res.samples)} samples; grep {g} lines)")  # fmt: skip
    limit = min(size, 256 << 20)
    t = time.perf_counter()
    n = lines = 0
    with open(log, encoding="utf-8", errors="replace") as f:
        read = 0
        for line in f:
            lines += 1
            read += len(line)
            msg = line.rstrip("\n")
            cut = msg.find("] ")
            msg = msg[cut + 2 :] if cut >= 0 else msg
            if SPEED_RE.match(msg) or HIT_RE.match(msg):
                n += 1
            if read >= limit:
                break
    dt_loop = time.perf_counter() - t
    print(f"baseline: Python line loop + regex over {read / 2**20:.0f} MB: {read / dt_loop / 1e9:5.2f} GB/s "
          f"({lines / dt_loop / 1e3:.0f}k lines/s, {n} progress lines); "
          f"scan_file is {(size / dt) / (read / dt_loop):.1f}x faster")  # fmt: skip
    print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
