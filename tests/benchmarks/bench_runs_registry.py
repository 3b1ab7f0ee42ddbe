"""Benchmark: the run registry at scale.

Prints (1) the time for ``list_runs()`` (read + reconcile) over N finished and M "running" runs
whose processes are gone, against a baseline of plain ``json.loads`` of the same files, and
(2) locked read-modify-write updates per second against plain unlocked atomic writes, both
measured in this run, with the ratios. Run: ``.venv/bin/python tests/benchmarks/bench_runs_registry.py``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

N_FINISHED = 1000
N_STALE = 50
N_UPDATES = 500


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["COSMOS_TUI_HOME"] = home
        from cosmos_tui.core.runs import list_runs, registry
        from cosmos_tui.core.runs.record import ProcRef, RunRecord

        now = time.time()
        for i in range(N_FINISHED + N_STALE):
            rid = f"20260101-{i:06d}-bench-{i:04x}"
            stale = i >= N_FINISHED
            registry.create(
                RunRecord(
                    id=rid,
                    run_dir=registry.run_dir_for(rid),
                    preset={"experiment": {"name": "s2mv_text2world_tiny"}},
                    created_at=now - 3600,
                    status="running" if stale else "finished",
                    exit_code=None if stale else 0,
                    # A pid that exists (ours) with a start time that does not match: "gone".
                    supervisor=ProcRef(os.getpid(), 1.0, "supervisor") if stale else None,
                    agent=ProcRef(os.getpid(), 1.0, "agent") if stale else None,
                )
            )
        files = sorted(Path(home, "runs").glob("*/run.json"))

        t = time.perf_counter()
        base = [json.loads(p.read_text()) for p in files]
        baseline = time.perf_counter() - t

        t = time.perf_counter()
        first = list_runs()
        first_s = time.perf_counter() - t
        t = time.perf_counter()
        again = list_runs()
        steady_s = time.perf_counter() - t
        assert len(first) == len(base) == len(again)
        assert sum(r.status == "lost" for r in again) == N_STALE

        run_dir = registry.run_dir_for(first[0].id)
        t = time.perf_counter()
        for i in range(N_UPDATES):
            registry.update(run_dir, lambda r, i=i: r.replace(reason=str(i)))
        locked_s = time.perf_counter() - t
        text = (run_dir / "run.json").read_text()
        t = time.perf_counter()
        for _ in range(N_UPDATES):
            registry._write_atomic(run_dir / "plain.json", text)
        plain_s = time.perf_counter() - t

    n = len(files)
    print(f"list_runs, first (reconciles {N_STALE} stale): {first_s * 1e3:8.1f} ms for {n} runs")
    print(f"list_runs, steady state:                  {steady_s * 1e3:8.1f} ms for {n} runs")
    ratio = steady_s / baseline
    print(f"baseline json.loads of the same files:    {baseline * 1e3:8.1f} ms  (ratio {ratio:.1f}x)")
    print(f"locked read-modify-write updates:         {N_UPDATES / locked_s:8.0f} /s")
    ratio = plain_s / locked_s
    print(f"baseline unlocked atomic writes:          {N_UPDATES / plain_s:8.0f} /s  (ratio {ratio:.2f}x)")


if __name__ == "__main__":
    main()
