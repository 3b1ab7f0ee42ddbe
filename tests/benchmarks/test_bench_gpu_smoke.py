"""``bench_gpu.py --cpu-smoke``: the GPU benchmark's whole code path on CPU with the tiny model.

The benchmark runs on lent GPU machines only now and then; this keeps it from rotting between
those runs (a plain and a recompute variant, bare, engine and the fit probe beside it, the
engine/bare ratios, the checkpoint timings).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent


def test_cpu_smoke_runs_every_row(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "bench_gpu.py"),
            "--cpu-smoke",
            "--fit",
            "--variants",
            "eager,attention",  # the plain step and a recompute policy; six processes, not twelve
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "bench_gpu.json").read_text())
    rows = {(r["mode"], r["variant"]): r for r in results["runs"]}
    variants = ("eager", "attention")
    modes = [(m, v) for v in variants for m in ("bare", "engine", "fit")]
    assert sorted(rows) == sorted(modes)
    for row in rows.values():
        assert "error" not in row, row
        assert row["step_s"] > 0 and row["tokens_per_s"] > 0
    assert all(rows["engine", v]["vs_bare"] > 0 and rows["engine", v]["vs_bare_policy"] > 0 for v in variants)
    assert all(rows["fit", v]["step_error"] > -1 for v in variants)  # the probe's s/iter beside the run's
    ckpt = results["ckpt"]
    assert "error" not in ckpt and ckpt["complete"] and ckpt["load_s"] > 0
    assert "engine" in (tmp_path / "bench_gpu.txt").read_text()
