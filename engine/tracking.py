"""Progress on rank 0: upstream IterSpeed console lines, ``metrics.jsonl`` and W&B.

IterSpeed prints ``Iteration N: Hit counter: k/K | Loss: x.xxxx | Time: t.tts`` for the first
``hit_thres`` iterations of the process, then ``N : iter_speed s.ss seconds per iteration | Loss:
x.xxxx`` every ``every_n`` iterations (the first multiple only primes the timer), exactly as
upstream. ``metrics.jsonl`` gets one JSON object per logged iteration. W&B (``job.wandb_mode``
``online``/``offline``) logs upstream metric names, keeps its run id in ``wandb_id.txt`` so a
resumed job continues the same run, and gets the composed config only (no environment).
"""

from __future__ import annotations

import json
import logging
import resource
import secrets
import string
import time
from pathlib import Path
from typing import Any

import torch
from cosmos_engine.errors import DataError

log = logging.getLogger("cosmos_engine")

# Dense bf16 peak TFLOP/s per GPU, for the MFU estimate (CPU: unknown, so mfu is null).
_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100": 989.0,
    "H800": 989.0,
    "A100": 312.0,
    "A800": 312.0,
    "B200": 2250.0,
    "L40S": 362.0,
}


def peak_flops(device: torch.device) -> float | None:
    """Peak FLOP/s of one device for MFU, or None when unknown (CPU, unlisted GPUs)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, tflops in _PEAK_TFLOPS.items():
        if key in name:
            return tflops * 1e12
    return None


def peak_memory_gb(device: torch.device) -> float:
    """Peak GPU memory allocated on ``device``, or peak host RSS of this process on CPU, in GB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


class IterSpeed:
    """The upstream IterSpeed callback's console lines."""

    def __init__(self, every_n: int, hit_thres: int) -> None:
        self.every_n = max(1, every_n)
        self.hit_thres = hit_thres
        self.hit_counter = 0
        self.last_hit_time = time.time()
        self.timer_start: float | None = None
        self.last_speed: float | None = None

    def on_step_end(self, iteration: int, loss: float | torch.Tensor) -> None:
        """Print the line for ``iteration`` (rank 0 only calls this).

        ``loss`` may be a device tensor: it is read (a host sync) only when a line is printed.
        """
        now = time.time()
        if self.hit_counter < self.hit_thres:
            log.info(
                f"Iteration {iteration}: Hit counter: {self.hit_counter + 1}/{self.hit_thres} | "
                f"Loss: {float(loss):.4f} | Time: {now - self.last_hit_time:.2f}s"
            )
            self.hit_counter += 1
            self.last_hit_time = now
            return
        if iteration % self.every_n:
            return
        if self.timer_start is not None:
            speed = (now - self.timer_start) / self.every_n
            self.last_speed = speed
            log.info(f"{iteration} : iter_speed {speed:.2f} seconds per iteration | Loss: {float(loss):.4f}")
        self.timer_start = now

    def pause(self, seconds: float) -> None:
        """Leave ``seconds`` spent outside training steps (the held-out loss) out of the timings."""
        self.last_hit_time += seconds
        if self.timer_start is not None:
            self.timer_start += seconds


class Tracker:
    """``metrics.jsonl`` plus an optional W&B run, on rank 0."""

    def __init__(self, job_dir: Path, mode: str, job: Any, config: dict[str, Any]) -> None:
        self.path = job_dir / "metrics.jsonl"
        self.run = None
        if mode in ("online", "offline"):
            try:
                self.run = _init_wandb(job_dir, mode, job, config)
            except Exception as exc:  # wandb raises its own types (no key, no network, bad project)
                detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise DataError(
                    f"W&B {mode} mode could not start ({detail}); log in with `wandb login` or "
                    "WANDB_API_KEY, or pass job.wandb_mode=offline or job.wandb_mode=disabled."
                ) from None

    def log(self, record: dict[str, Any]) -> None:
        """Append one metrics line and send the upstream-named W&B metrics."""
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.run is not None:
            data = {
                "train/loss": record["loss"],
                "optim/lr_0": record["lr"],
                "clip_grad_norm/video": record["grad_norm"],
                "timer/iter_speed": record["sec_per_iter"],
                "iteration": record["iteration"],
                "sample_counter": record["sample_counter"],
                "throughput/samples_per_s": record["samples_per_s"],
                "throughput/tokens_per_s": record["tokens_per_s"],
                "DeviceMonitor/max_peak_mem_gb": record["peak_mem_gb"],
            }
            if record.get("val_loss") is not None:
                data["val/loss"] = record["val_loss"]
            if record.get("mfu") is not None:
                data["throughput/mfu"] = record["mfu"]
            self.run.log(data, step=record["iteration"])

    def close(self) -> None:
        """Finish the W&B run (if any)."""
        if self.run is not None:
            self.run.finish()
            self.run = None


def _init_wandb(job_dir: Path, mode: str, job: Any, config: dict[str, Any]) -> Any:
    import wandb

    id_file = job_dir / "wandb_id.txt"
    # Our own id (wandb's private id helper moved between releases): 8 chars of [a-z0-9], as W&B's.
    alphabet = string.ascii_lowercase + string.digits
    run_id = (
        id_file.read_text().strip()
        if id_file.is_file()
        else "".join(secrets.choice(alphabet) for _ in range(8))
    )
    id_file.write_text(run_id + "\n")
    return wandb.init(
        id=run_id,
        resume="allow",
        project=job.project,
        group=job.group,
        name=job.name,
        config=config,
        dir=str(job_dir),
        mode=mode,
        settings=wandb.Settings(x_disable_stats=True, x_disable_meta=True, console="off"),
    )
