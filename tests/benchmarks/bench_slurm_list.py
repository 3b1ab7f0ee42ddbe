"""Benchmark: reading many active Slurm runs (``runs list``, the runs screen's poll).

Starts a real one-node Slurm cluster (as tests/scaleout does; needs root and slurm-wlm + munge),
submits N held jobs (they stay PENDING), makes a Slurm run record for each, and prints the time
for ``list_runs()``, which asks Slurm once with ``squeue -j ID,ID,...``, against a baseline
measured in the same run: reconciling each record on its own (one ``scontrol show job`` per run,
as before the batching), with the ratio. Run:
``.venv/bin/python tests/benchmarks/bench_slurm_list.py``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

N_JOBS = 40
ROUNDS = 5


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scaleout"))
    from slurm_cluster import SlurmUnavailable, start_cluster

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["COSMOS_TUI_HOME"] = str(root / "state")
        try:
            cluster = start_cluster(root / "slurm")
        except SlurmUnavailable as e:
            print(f"bench_slurm_list: skipped, Slurm cannot start here: {e}")
            return 0
        try:
            os.environ.update(cluster.env)
            from cosmos_tui.core.runs import list_runs, registry
            from cosmos_tui.core.runs.lifecycle import reconcile
            from cosmos_tui.core.runs.record import RunRecord
            from cosmos_tui.core.slurm import client

            script = root / "held.sh"
            script.write_text("#!/bin/bash\nsleep 600\n")
            now = time.time()
            for i in range(N_JOBS):
                job = cluster.run(
                    "sbatch", "--parsable", "--hold", "-o", "/dev/null", str(script)
                ).stdout.strip()
                rid = f"20260101-{i:06d}-slurm-bench-{i:04x}"
                registry.create(
                    RunRecord(
                        id=rid,
                        run_dir=registry.run_dir_for(rid),
                        preset={},
                        created_at=now,
                        status="starting",
                        target="slurm",
                        slurm_job_id=job,
                        job_id=job,
                    )
                )

            def batched() -> list[RunRecord]:
                client._cache.clear()
                return list_runs()

            def one_by_one() -> list[RunRecord]:
                client._cache.clear()
                return [reconcile(registry.read(registry.run_dir_for(r))) for r in registry.run_ids()]

            timings: dict[str, float] = {}
            for name, fn in (("one_by_one", one_by_one), ("batched", batched)):
                fn()  # warm
                start = time.perf_counter()
                for _ in range(ROUNDS):
                    records = fn()
                timings[name] = (time.perf_counter() - start) / ROUNDS
                states = {r.slurm_state for r in records}
                assert len(records) == N_JOBS and states == {"PENDING"}, states
            cluster.run("scancel", "--user=root")
        finally:
            cluster.stop()
    base, ours = timings["one_by_one"], timings["batched"]
    print(f"list_runs over {N_JOBS} pending Slurm runs (mean of {ROUNDS}):")
    print(f"  batched squeue:          {ours * 1000:8.1f} ms  ({N_JOBS / ours:7.0f} runs/s)")
    print(f"  baseline scontrol each:  {base * 1000:8.1f} ms  ({N_JOBS / base:7.0f} runs/s)")
    print(f"  speed-up: {base / ours:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
