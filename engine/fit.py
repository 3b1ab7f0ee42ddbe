"""Will a run fit? Two real training steps at the run's shape, on synthetic batches.

``[torchrun --standalone --nproc_per_node=N] python -m cosmos_engine.fit [--json] [--steps 2]
-- experiment=NAME k=v ...``

Composes the config exactly as ``cosmos_engine.train`` does (the same overrides), builds the model
with the run's options (FSDP2 over the ranks, EMA, recompute, activation checkpointing, compile),
and runs ``--steps`` real optimizer steps (:meth:`cosmos_engine.trainer.Trainer.iteration`) on
random batches of the run's shape: no dataset is read, no checkpoint is written, nothing lands in
the run's job folder (the probe's job folder is a temporary one, removed at exit). Rank 0 prints
one JSON object: per-rank peak memory (``torch.cuda.max_memory_allocated`` on GPU; on CPU the
growth of the process's resident memory, ``memory_kind`` says which), the last step's time
less the time its synthetic batch took to make (``batch_s``: a real run's loader workers make
batches beside the step),
tokens/s, MFU (against the listed bf16 peak of the GPU, else a measured bf16 matmul; ``null`` on
CPU) and the parameter count. A CUDA out-of-memory error is reported (``"ok": false``,
``"error": "OOM"`` with the attempted shape), not raised.

A watchdog thread ends each rank when its parent (torchrun) goes away, or the process named by
``COSMOS_FIT_WATCH_PID`` (the manager that started the probe) does: a probe never outlives the
command that asked for it, even one killed with SIGKILL.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Any

from cosmos_engine.errors import EngineError

WATCH_ENV = "COSMOS_FIT_WATCH_PID"
"""A pid whose death ends the probe (the manager's own)."""
SCRATCH_ENV = "COSMOS_FIT_SCRATCH"
"""A folder the manager owns (and removes) for the probe's job folders; else a temporary one."""

PROBE_OVERRIDES = [
    "job.wandb_mode=disabled",
    "checkpoint.save_iter=1000000000",
    "checkpoint.save_at_end=false",
    "checkpoint.async_save=false",
    "checkpoint.export_pt=false",
    "checkpoint.load_path=",
    "trainer.val_every=0",
    "trainer.sample_every=0",
    "trainer.logging_iter=1000000000",
    "dataloader_train.num_workers=0",
]
"""Appended after the run's overrides: no saves, loads, validation, samples, W&B or data workers
(none of them changes the step's memory; initial weights are random at the same shapes)."""


def _watchdog(cleanup: Any, interval_s: float = 0.25) -> None:
    """End this process when its parent or the watched pid is gone (reparented, or no such pid),
    calling ``cleanup()`` first."""
    parent = os.getppid()
    watched = int(os.environ.get(WATCH_ENV, "0") or 0)

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def loop() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent or (watched and not alive(watched)):
                cleanup()
                os._exit(137)

    threading.Thread(target=loop, name="fit-watchdog", daemon=True).start()


def _remove(scratch: str | None) -> None:
    """Remove this rank's scratch folder (if made yet), and the manager's folder above it once it is
    empty (the last rank out, when the manager was killed and cannot)."""
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    parent = os.environ.get(SCRATCH_ENV)
    if parent:
        with contextlib.suppress(OSError):
            os.rmdir(parent)  # only when empty


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class SyntheticClips:
    """Random items of the run's shape, as :class:`cosmos_engine.datasets.ClipDataset` yields them."""

    def __init__(self, cfg: Any, views: int) -> None:
        self.ds = cfg.dataloader_train.dataset
        self.views = views
        self.text_dim = cfg.model.text_dim

    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        ds = self.ds
        h, w = (int(x) for x in ds.video_size)
        gen = torch.Generator().manual_seed(index)
        shape = (self.views, ds.num_frames, 3, h, w)
        out = {
            "video": torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen),
            "view_ids": torch.arange(self.views, dtype=torch.long),
            "text": torch.randn(ds.max_text_len, self.text_dim, generator=gen) * 0.1,
            "text_mask": torch.arange(ds.max_text_len) < max(1, ds.max_text_len - 7),
        }
        if ds.control_type:
            out["control"] = torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen)
        return out


class _NoSignals:
    stop = False
    save = False


class FetchTimer:
    """The trainer's batch iterator, timing each ``next``: the probe makes its batches on the
    training thread (no workers), which a real run's loader workers do beside the step, so the
    probe's step time leaves that time out (on an H200, with it counted, the probe's step ran
    12-53% longer than the real run's; without it, within 5% at 8,192 and 16,384 tokens)."""

    def __init__(self, batches: Any) -> None:
        self.batches = batches
        self.spent = 0.0

    def __iter__(self) -> FetchTimer:
        return self

    def __next__(self) -> Any:
        t0 = time.perf_counter()
        try:
            return next(self.batches)
        finally:
            self.spent += time.perf_counter() - t0

    def take(self) -> float:
        """Seconds spent fetching since the last call."""
        spent, self.spent = self.spent, 0.0
        return spent


def _matmul_peak(device: Any) -> float | None:
    """A measured bf16 matmul rate (FLOP/s) on ``device``: a lower bound of its peak."""
    import torch

    if device.type != "cuda":
        return None
    n = 4096
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    reps = 20
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize(device)
    rate = 2 * n**3 * reps / (time.perf_counter() - t0)
    del a, b
    torch.cuda.empty_cache()
    return rate


def recompute_costs(cfg: Any, tokens: int) -> dict[str, float]:
    """Each ``trainer.recompute`` mode's and whole-block checkpointing's recomputed share of the
    step at this shape (:func:`cosmos_engine.memory_budget.cost`): what the fixes quote."""
    from cosmos_engine import memory_budget as mb
    from cosmos_engine.model import block_flops

    flops = block_flops(cfg.model, tokens, cfg.dataloader_train.dataset.max_text_len)
    depth = cfg.model.depth
    costs = {mode: mb.cost(mb.Policy(0, mode), depth, flops) for mode in mb.MODES if mode}
    return {**costs, "whole": mb.cost(mb.Policy(1, ""), depth, flops)}


def shape_of(cfg: Any, views: int, world: int) -> dict[str, Any]:
    """What the probe tried: the facts a person changes to make it fit."""
    ds = cfg.dataloader_train.dataset
    return {
        "experiment": cfg.experiment,
        "views": views,
        "num_frames": ds.num_frames,
        "patch_t": cfg.model.patch_size[0],
        "video_size": list(ds.video_size),
        "batch_size": cfg.dataloader_train.batch_size,
        "grad_accum_iter": cfg.trainer.grad_accum_iter,
        "world_size": world,
        "recompute": cfg.trainer.recompute,
        "activation_checkpointing_every": (
            cfg.trainer.activation_checkpointing_every if cfg.trainer.activation_checkpointing else 0
        ),
        "ema": cfg.model.ema.enabled,
        "ema_offload": cfg.model.ema.offload,
        "compile": cfg.trainer.compile,
        "memory_budget": cfg.trainer.memory_budget,
    }


def probe(overrides: list[str], steps: int) -> dict[str, Any]:
    """Build and step the run's model on this rank; rank 0's return value holds every rank's figures."""
    import torch
    import torch.distributed as dist
    from cosmos_engine.compose import compose_config, n_views
    from cosmos_engine.model import count_params
    from cosmos_engine.parallel import init_distributed
    from cosmos_engine.tracking import peak_flops
    from cosmos_engine.trainer import Trainer

    cfg = compose_config([*overrides, *PROBE_OVERRIDES])
    cfg.trainer.max_iter = max(cfg.trainer.max_iter, steps)
    views = 1 if cfg.dataloader_train.dataset.kind == "singleview" else n_views(cfg)
    d = init_distributed()
    cuda = d.device.type == "cuda"
    rss0 = _rss_bytes()
    record: dict[str, Any] = {
        "rank": d.rank,
        "device": torch.cuda.get_device_name(d.device) if cuda else "cpu",
    }
    trainer = None
    result: dict[str, Any] = {"shape": shape_of(cfg, views, d.world_size)}
    try:
        if cuda:
            torch.cuda.reset_peak_memory_stats(d.device)
        trainer = Trainer(cfg, d, d.rank, SyntheticClips(cfg, views))
        result["shape"] = shape_of(cfg, views, d.world_size)  # with trainer.memory_budget's choice
        fetch = trainer.batches = FetchTimer(trainer.batches)
        times, fetched = [], []
        for i in range(1, steps + 1):
            t0 = time.perf_counter()
            trainer.iteration(i, _NoSignals())
            if cuda:
                torch.cuda.synchronize(d.device)
            fetched.append(fetch.take())
            times.append(time.perf_counter() - t0 - fetched[-1])
        if cuda:
            record["peak_mem_bytes"] = torch.cuda.max_memory_allocated(d.device)
            record["peak_reserved_bytes"] = torch.cuda.max_memory_reserved(d.device)
        else:  # ru_maxrss: the process's peak resident set, in KiB on Linux
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            record["peak_mem_bytes"] = max(0, peak - rss0)
            record["peak_rss_bytes"] = peak
        record["step_s"] = times[-1]
        record["first_step_s"] = times[0]
        record["batch_s"] = fetched[-1]
        record["error"] = None
        result.update(
            params=count_params(trainer.net),
            tokens_per_sample=trainer.tokens_per_sample,
            flops_per_sample=trainer.flops_per_sample,
            recompute_costs=recompute_costs(cfg, trainer.tokens_per_sample // d.cp_size),
        )
    except torch.OutOfMemoryError:
        record["error"] = "OOM"
    finally:
        if trainer is not None:
            trainer.close()
        del trainer
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    if cuda and record["error"] is None:
        peak = peak_flops(d.device)
        record["peak_flops"], record["peak_source"] = (
            (peak, "listed") if peak else (_matmul_peak(d.device), "measured")
        )
    gathered: list[Any] = [None] * d.world_size
    dist.all_gather_object(gathered, record)
    if d.rank != 0:
        return {}
    ranks = sorted(gathered, key=lambda r: r["rank"])
    errors = [r["error"] for r in ranks if r["error"]]
    result.update(
        ok=not errors,
        error=errors[0] if errors else None,
        world_size=d.world_size,
        device=ranks[0]["device"],
        memory_kind="cuda_max_memory_allocated" if cuda else "cpu_rss_growth",
        ranks=ranks,
    )
    if errors:
        return result
    step_s = max(r["step_s"] for r in ranks)
    samples_s = cfg.dataloader_train.batch_size * cfg.trainer.grad_accum_iter * d.world_size / step_s
    peak = ranks[0].get("peak_flops")
    result.update(
        steps=steps,
        step_s=step_s,
        first_step_s=max(r["first_step_s"] for r in ranks),
        peak_mem_bytes=max(r["peak_mem_bytes"] for r in ranks),
        tokens_per_s=samples_s * result["tokens_per_sample"],
        mfu=result["flops_per_sample"] * samples_s / (peak * d.world_size) if peak else None,
        peak_flops=peak,
        peak_source=ranks[0].get("peak_source") or "unknown on CPU",
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 also when the run does not fit: the JSON says so)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    cut = args_in.index("--") if "--" in args_in else len(args_in)
    parser = argparse.ArgumentParser(prog="python -m cosmos_engine.fit", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the default output too)")
    parser.add_argument("--steps", type=int, default=2, help="training steps to run (the last is timed)")
    args, extra = parser.parse_known_args(args_in[:cut])
    overrides = [*extra, *args_in[cut + 1 :]]
    if args.steps < 1:
        print("error: --steps must be at least 1", file=sys.stderr)
        return 2
    rank = int(os.environ.get("RANK", "0"))
    made: list[str] = []  # the cleanups are in place before anything is created

    def cleanup() -> None:
        _remove(made[0] if made else None)

    def on_term(signum: int, frame: Any) -> None:  # torchrun tears the ranks down with SIGTERM
        cleanup()
        os._exit(128 + signum)

    _watchdog(cleanup)
    signal.signal(signal.SIGTERM, on_term)
    parent = os.environ.get(SCRATCH_ENV)
    if parent:  # named (not made) by the manager: whoever comes first makes it
        os.makedirs(parent, mode=0o700, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=f"rank{rank}-", dir=parent)
    else:
        scratch = tempfile.mkdtemp(prefix="cosmos-fit-")
    made.append(scratch)
    os.environ["IMAGINAIRE_OUTPUT_ROOT"] = scratch  # the probe's job folder, never the run's
    try:
        result = probe(overrides, args.steps)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        import torch.distributed as dist

        if dist.is_initialized():
            gc.collect()
            dist.destroy_process_group()
    if rank == 0:
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
