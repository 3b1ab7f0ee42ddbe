"""One measurement of bench_gpu, in its own process (one model per process, no leaked memory).

    python tests/benchmarks/gpu_measure.py bare   --tokens 8192 --variant compile --out r.json
    python tests/benchmarks/gpu_measure.py engine --tokens 8192 --variant eager --data DIR --out r.json
    python tests/benchmarks/gpu_measure.py ckpt   --tokens 8192 --data DIR --out r.json
    torchrun --nproc_per_node=N tests/benchmarks/gpu_measure.py engine ...   (weak scaling)

- ``bare``: the anchor a user could write instead: the same network (``cosmos_engine.model.VideoDiT``)
  as a plain module on one GPU, fp32 weights with bf16 autocast, SDPA, fused AdamW, the same
  rectified-flow loss on a batch already on the GPU; no data loading, no EMA, no clipping, no sharding.
- ``engine``: the engine's own iteration (``Trainer.iteration``: the real DataLoader decoding
  synthetic mp4s in workers, FSDP2 over 2+ GPUs (one GPU trains the plain module), EMA, grad
  clipping, metrics.jsonl, the stop/save agreement).
- ``ckpt``: the engine's DCP save of the full training state, async (first and later) and sync, and load.

Variants (``VARIANTS``): ``eager``, ``compile`` (each block ``torch.compile``d), ``ac``
(activation checkpointing), ``compile_gelu`` and ``compile_elementwise`` (``trainer.recompute``),
``compile_ac``, ``compile_sac`` (one block in ``--sac-every``), ``compile_offload`` (the EMA in
pinned host memory, streamed through the GPU at each update; the engine only). Writes one JSON object to
``--out``; ``error`` holds an OOM or failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

SHAPES = {  # tokens per sample -> (views, frames, [height, width]); patch 4x16x16 as the 2B experiments
    8192: (2, 16, [512, 512]),
    16384: (2, 32, [512, 512]),
    32768: (2, 64, [512, 512]),
    65536: (2, 128, [512, 512]),
    131072: (2, 256, [512, 512]),
    64: (2, 8, [64, 64]),  # --cpu-smoke (with the tiny model)
}


AC = "trainer.activation_checkpointing=true"
VARIANTS = {
    "eager": [],
    "compile": ["trainer.compile=true"],
    "ac": [AC],
    "elementwise": ["trainer.recompute=elementwise"],
    "attention": ["trainer.recompute=attention"],
    "compile_gelu": ["trainer.compile=true", "trainer.recompute=gelu"],
    "compile_elementwise": ["trainer.compile=true", "trainer.recompute=elementwise"],
    "compile_sac": ["trainer.compile=true", AC],
    "compile_ac": ["trainer.compile=true", AC],
    "compile_offload": ["trainer.compile=true", "model.ema.offload=true"],
    "compile_attention": ["trainer.compile=true", "trainer.recompute=attention"],
    "compile_sac_attention": ["trainer.compile=true", AC, "trainer.recompute=attention"],
    "compile_auto": ["trainer.compile=true", "trainer.memory_budget=auto"],
}
"""Each variant's overrides (after activation checkpointing off, no recompute, EMA on the GPU).
``compile_gelu``/``compile_elementwise``/``compile_attention``: each block recomputes its GELU /
all but its matmul and attention outputs / all but its self-attention's output in backward
(``trainer.recompute``); ``compile_sac``: one block in every ``--sac-every`` recomputed whole
(``compile_sac_attention``: the others recompute all but the self-attention);
``compile_offload``: the EMA weights in pinned host memory (``model.ema.offload``);
``compile_auto``: ``trainer.memory_budget=auto`` picks the policy (the bare model applies the same
choice, measured the same way, so both run the same policy)."""


def overrides(args: argparse.Namespace, world: int) -> list[str]:
    """The engine command-line overrides of this measurement."""
    views, frames, size = SHAPES[args.tokens]
    size_s = f"[{size[0]},{size[1]}]"
    out = [
        f"experiment={args.experiment}",
        f"dataloader_train.dataset.num_frames={frames}",
        f"dataloader_train.dataset.video_size={size_s}",
        f"dataloader_train.dataset.sample_n_views={views}",
        "trainer.activation_checkpointing=false",
        "trainer.recompute=",
        "model.ema.offload=false",
        f"trainer.activation_checkpointing_every={args.sac_every if 'sac' in args.variant else 1}",
        *VARIANTS[args.variant],
        "trainer.fsdp_reshard_after_forward=false",  # 2+ GPUs: memory allows, no gather in backward
        f"trainer.max_iter={args.warmup + args.steps + 1000}",
        "checkpoint.save_iter=100000",
        "checkpoint.save_at_end=false",
        f"job.name=bench_{args.mode}_{args.tokens}_{args.variant}_{world}",
    ]
    if args.data:
        out.append(f"dataloader_train.dataset.dataset_dir={args.data}")
    if args.workers is not None:
        out.append(f"dataloader_train.num_workers={args.workers}")
        out.append("dataloader_train.pin_memory=true")
    return out + list(args.set)


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_mem(device: Any) -> float:
    from cosmos_engine.tracking import peak_memory_gb

    return peak_memory_gb(device) if device.type == "cuda" else float("nan")


PROFILE: str = ""
"""``--profile FILE``: after the timed window, profile two more steps and write the kernels by time."""


def _timed(device: Any, warmup: int, steps: int, run_one: Any) -> dict[str, float]:
    """Warm up, then time ``steps`` calls of ``run_one(i)`` as one window (host syncs at the ends only)."""
    import torch

    for i in range(warmup):
        run_one(i)
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for i in range(warmup, warmup + steps):
        run_one(i)
    _sync(device)
    result = {"step_s": (time.perf_counter() - t0) / steps, "peak_mem_gb": _peak_mem(device)}
    if device.type == "cuda":  # the caching allocator freed its cache and retried: memory is tight
        result["alloc_retries"] = torch.cuda.memory_stats(device).get("num_alloc_retries", 0)
    if PROFILE and int(os.environ.get("RANK", "0")) == 0:
        _profile(device, warmup + steps, run_one)
    return result


def _profile(device: Any, first: int, run_one: Any, steps: int = 2) -> None:
    """Kernels of ``steps`` more steps by total device time, and how busy the device was."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        for i in range(first, first + steps):
            run_one(i)
        _sync(device)
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    busy = sum(e.self_device_time_total for e in events) / 1e6
    head = (
        f"{steps} steps, wall {wall / steps * 1e3:.1f} ms/step, "
        f"device kernels {busy / steps * 1e3:.1f} ms/step\n"
    )
    table = events.table(sort_by="self_device_time_total", row_limit=45, max_name_column_width=70)
    Path(PROFILE).write_text(head + table)


def measure_bare(args: argparse.Namespace) -> dict[str, Any]:
    """The plain-module anchor (see the module docstring)."""
    import torch
    from cosmos_engine import memory_budget
    from cosmos_engine.compose import compose_config
    from cosmos_engine.flow import flow_loss
    from cosmos_engine.model import VideoDiT, count_params
    from cosmos_engine.trainer import ac_every

    cfg = compose_config(overrides(args, 1))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ds = cfg.dataloader_train.dataset
    views = ds.sample_n_views
    torch.manual_seed(0)
    with torch.device(device):
        net = VideoDiT(cfg.model)
        net.init_weights()
    policy = None
    if cfg.trainer.memory_budget:  # the engine's own choice for this shape, measured the same way
        choice = memory_budget.choose_for(cfg, net.blocks[0], count_params(net), device, 1)
        if choice is not None:
            memory_budget.apply(cfg, choice.policy)
            policy = choice.policy.label
    net.set_recompute(ac_every(cfg), cfg.trainer.recompute)
    if cfg.trainer.compile:
        for block in net.blocks:
            block.compile()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=device.type == "cuda")
    h, w = ds.video_size
    text_len = ds.max_text_len
    batch = {
        "video": torch.rand(1, views, ds.num_frames, 3, h, w, device=device) * 2 - 1,
        "text": torch.randn(1, text_len, cfg.model.text_dim, device=device) * 0.1,
        "text_mask": torch.arange(text_len, device=device)[None] < text_len - 7,  # some padding, as data
        "view_ids": torch.arange(views, device=device)[None],
    }
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    def run_one(i: int) -> None:
        gen = torch.Generator(device=device).manual_seed(i)
        with autocast:
            loss = flow_loss(net, batch, gen, cfg.model.task)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    result = _timed(device, args.warmup, args.steps, run_one)
    return {**result, "policy": policy} if policy else result


def _engine(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from cosmos_engine.compose import compose_config
    from cosmos_engine.datasets import ClipDataset
    from cosmos_engine.parallel import init_distributed
    from cosmos_engine.trainer import Trainer

    world = int(os.environ.get("WORLD_SIZE", "1"))
    cfg = compose_config(overrides(args, world))
    rank = int(os.environ.get("RANK", "0"))
    dataset = ClipDataset(cfg.dataloader_train.dataset, seed=0, text_dim=cfg.model.text_dim, verbose=False)
    d = init_distributed()
    return cfg, d, Trainer(cfg, d, rank, dataset)


class _NoSignals:
    """The loop's signal flags, never set here."""

    stop = False
    save = False


def measure_engine(args: argparse.Namespace) -> dict[str, Any]:
    """The engine's full iteration, as ``cosmos_engine.train`` runs it."""
    cfg, d, trainer = _engine(args)
    try:
        result = _timed(d.device, args.warmup, args.steps, lambda i: trainer.iteration(i + 1, _NoSignals()))
        result["world_size"] = d.world_size
        if cfg.trainer.memory_budget:
            from cosmos_engine.memory_budget import Policy

            every = cfg.trainer.activation_checkpointing_every if cfg.trainer.activation_checkpointing else 0
            result["policy"] = Policy(every, cfg.trainer.recompute).label
        result["logging_iter"] = cfg.trainer.logging_iter
        result["num_workers"] = cfg.dataloader_train.num_workers
        return result
    finally:
        trainer.close()
        _teardown()


def _teardown() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _drop_cache(folder: Path) -> None:
    """Ask the kernel to forget the folder's pages (so a load reads the disk, not memory)."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure_ckpt(args: argparse.Namespace) -> dict[str, Any]:
    """Step time while the pinned buffers are allocated in the background, blocking time of the
    first and a later async save, sync save, and load."""
    from cosmos_engine import checkpoint as ckpt

    args.set = [*args.set, "checkpoint.async_save=true"]
    _cfg, d, trainer = _engine(args)
    out: dict[str, Any] = {}
    it = [0]

    def one() -> float:
        it[0] += 1
        t0 = time.perf_counter()
        trainer.iteration(it[0], _NoSignals())
        _sync(d.device)
        return time.perf_counter() - t0

    try:
        for _ in range(args.warmup):
            one()  # the first iteration starts pinning the host buffers in the background
        pinning, saver = [], trainer.async_saver
        while saver.preparing is not None and saver.preparing.is_alive() and len(pinning) < 1000:
            pinning.append(one())
        out["pin_steps_during"] = len(pinning)
        out["pin_step_s_during"] = statistics.mean(pinning) if pinning else None
        base = statistics.median(one() for _ in range(args.steps))
        out["step_s"] = base
        for label in ("async_first", "async_warm"):
            shutil.rmtree(trainer.ckpt_dir, ignore_errors=True)
            saved = it[0]
            t0 = time.perf_counter()
            trainer.save(saved)
            queued = time.perf_counter() - t0
            with_save = one() + queued  # the save call plus the next step (which waits for the copies)
            during = []
            while trainer.async_saver.busy and len(during) < 200:
                during.append(one())
            t1 = time.perf_counter()
            trainer.finish_saves()
            out[f"{label}_blocking_s"] = with_save - base
            out[f"{label}_queued_s"] = queued
            out[f"{label}_write_s"] = trainer.async_saver.last_write_s
            out[f"{label}_steps_during_write"] = len(during)
            out[f"{label}_step_s_during_write"] = statistics.mean(during) if during else None
            out[f"{label}_wait_after_s"] = time.perf_counter() - t1
        written = trainer.ckpt_dir / ckpt.step_name(saved)
        out["bytes"] = _bytes(written)
        out["complete"] = ckpt.is_complete(written)
        step_dir = trainer.ckpt_dir / ckpt.step_name(it[0])
        shutil.rmtree(trainer.ckpt_dir, ignore_errors=True)
        _sync(d.device)
        t0 = time.perf_counter()
        ckpt.save(trainer.ckpt_dir, it[0], trainer.model, trainer.opt, {"last_epoch": it[0]}, d.rank)
        out["sync_save_s"] = time.perf_counter() - t0
        _drop_cache(step_dir)
        t0 = time.perf_counter()
        ckpt.load_parts(step_dir, trainer.model, trainer.opt, ckpt.PARTS)
        _sync(d.device)
        out["load_s"] = time.perf_counter() - t0
        shutil.rmtree(trainer.ckpt_dir, ignore_errors=True)
        return out
    finally:
        trainer.close()
        _teardown()


def measure_fit(args: argparse.Namespace) -> dict[str, Any]:
    """What ``cosmos-tui fit`` predicts for this run: the engine's fit probe (``cosmos_engine.fit``,
    two steps on synthetic batches of the run's shape) with this measurement's overrides."""
    from cosmos_engine.fit import probe

    try:
        result = probe(overrides(args, int(os.environ.get("WORLD_SIZE", "1"))), 2)
    finally:
        _teardown()
    if not result.get("ok"):
        return {"error": result.get("error") or "probe failed"}
    rank0 = result["ranks"][0]
    return {"step_s": result["step_s"], "peak_mem_gb": rank0["peak_mem_bytes"] / 1e9, "probe": result}


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["bare", "engine", "ckpt", "fit"])
    parser.add_argument("--tokens", type=int, default=8192, choices=sorted(SHAPES))
    parser.add_argument("--variant", default="eager", choices=sorted(VARIANTS))
    parser.add_argument("--sac-every", type=int, default=3, help="compile_sac: one block in every N")
    parser.add_argument("--experiment", default="s2mv_text2world_2b")
    parser.add_argument("--data", default="")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], help="extra engine override")
    parser.add_argument("--out", required=True)
    parser.add_argument("--profile", default="", help="write a kernel profile of two more steps here")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    import torch

    record: dict[str, Any] = {"mode": args.mode, "tokens": args.tokens, "variant": args.variant}
    t0 = time.perf_counter()
    try:
        fn = {"bare": measure_bare, "engine": measure_engine, "ckpt": measure_ckpt, "fit": measure_fit}[
            args.mode
        ]
        record.update(fn(args))
    except torch.OutOfMemoryError:
        record["error"] = "OOM"
    except Exception as exc:  # recorded, so one failing variant does not lose the others
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    record["wall_s"] = time.perf_counter() - t0
    if int(os.environ.get("RANK", "0")) == 0:
        Path(args.out).write_text(json.dumps(record))
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
