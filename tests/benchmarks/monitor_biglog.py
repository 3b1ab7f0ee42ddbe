"""An upstream-style console log of a chosen size, generated once under /tmp and reused.

The mix follows what a T25 post-training run prints on rank 0 (upstream-contracts.md §3): the
IterSpeed hit-counter phase, then ``iter_speed`` lines every ``every_n`` iterations, a DeviceMonitor
table every ``logging_iter``, and between them the chatter that makes real logs big (per-rank
dataset warnings, torchrun/NCCL lines, a traceback now and then). Not a test; shared by benchmarks.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

SRC = "cosmos_transfer2/_src/predict2/callbacks/iter_speed.py"
DEVICE_TABLE = (
    "[{t}|INFO|cosmos_transfer2/_src/imaginaire/callbacks/device_monitor.py:152:every_n_impl] "
    "DeviceMonitor Stats:\n"
    "                              Avg      Max      Min\n"
    "cpu_mem_gb                 {m:.2f}   281.40   279.03\n"
    "peak_gpu_mem_gb             61.35    61.35    61.35\n"
    "nvml_used_gpu_mem_gb        72.10    72.30    71.90\n"
    "temp                        61.00    66.00    57.00\n"
    "power                      512.30   601.00   430.00\n"
    "util                        98.00   100.00    95.00\n"
)
CHATTER = [
    "[{t}|WARNING|cosmos_transfer2/_src/imaginaire/datasets/webdataset.py:210:__iter__] [RANK {r}] "
    "Failed to load video /data/videos/clip_{n:06d}.mp4: moov atom not found, skipping",
    "[rank{r}]:[W{t2}.123456 ProcessGroupNCCL.cpp:1234] Warning: "
    "TORCH_NCCL_AVOID_RECORD_STREAMS is the default now",
    "[{t}|INFO|cosmos_transfer2/_src/imaginaire/utils/misc.py:88:timer] [RANK {r}] "
    "Time spent on dataloader: {x:.4f} seconds",
    "[{t}|DEBUG|cosmos_transfer2/_src/imaginaire/model.py:412:training_step] [RANK {r}] "
    "batch keys: video, t5_text_embeddings, fps, padding_mask",
]


def generate(path: Path, size_bytes: int, *, seed: int = 0, every_n: int = 100, hit_thres: int = 300) -> Path:
    """Write ``path`` until it holds at least ``size_bytes`` (skipped if it already does)."""
    if path.exists() and path.stat().st_size >= size_bytes:
        return path
    rng = random.Random(seed)
    tmp = path.with_suffix(".part")
    written = 0
    it = 0
    with open(tmp, "w", encoding="utf-8", buffering=1 << 20) as f:
        while written < size_bytes:
            parts = []
            for _ in range(50):
                it += 1
                t = f"02-{17 + it // 200000:02d} {(it // 3600) % 24:02d}:{(it // 60) % 60:02d}:{it % 60:02d}"
                loss = rng.choice([0.0, -0.75, 0.0632, 0.1234, 0.0587])
                if it <= hit_thres:
                    parts.append(
                        f"[{t}|INFO|{SRC}:57:on_training_step_end] "
                        f"Iteration {it}: Hit counter: {it}/{hit_thres} | Loss: {loss:.4f} "
                        f"| Time: {rng.uniform(3, 5):.2f}s"
                    )
                elif it % every_n == 0 and it // every_n >= hit_thres // every_n + 2:
                    parts.append(
                        f"[{t}|INFO|{SRC}:86:every_n_impl] "
                        f"{it} : iter_speed {rng.uniform(3, 5):.2f} seconds per iteration | Loss: {loss:.4f}"
                    )
                if it % 200 == 0:
                    parts.append(DEVICE_TABLE.format(t=t, m=rng.uniform(270, 285)).rstrip("\n"))
                for _ in range(rng.randint(0, 3)):
                    parts.append(
                        rng.choice(CHATTER).format(
                            t=t,
                            t2=t.replace("-", "").replace(" ", " "),
                            r=rng.randrange(8),
                            n=rng.randrange(10**6),
                            x=rng.random(),
                        )
                    )
            block = "\n".join(parts) + "\n"
            f.write(block)
            written += len(block.encode())
    os.replace(tmp, path)
    return path


def default_log(size_mb: int) -> Path:
    """``/tmp/cosmos-tui-bench/console_<size>MB.log``, generated on first use."""
    root = Path(os.environ.get("COSMOS_TUI_BENCH_DIR", "/tmp/cosmos-tui-bench"))
    root.mkdir(parents=True, exist_ok=True)
    return generate(root / f"console_{size_mb}MB.log", size_mb << 20)
