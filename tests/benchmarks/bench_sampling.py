"""Builtin engine: seconds to sample one clip, against a training step of the same shape.

Measures, in one process, on the same conditioning (one synthetic clip of the experiment; by
default the tiny one on CPU: 2 views, 8 frames, 64x96; ``--experiment s2mv_text2world_2b`` on a
GPU: 2 views, 56 frames, 576x1024, bf16 autocast):

- figure: :func:`cosmos_engine.generate.euler_sample` over ``--steps`` Euler steps (one forward
  of the network each, no gradients), per clip, and the mp4 + contact sheet it writes;
- baseline: one training step of the same shape on one rank. On CPU as the Trainer runs it
  (rectified-flow loss, backward, grad clipping, foreach AdamW, EMA update:
  ``bench_engine_step._step_times``); on a GPU the loss under bf16 autocast with the experiment's
  activation checkpointing, backward, grad clipping and fused AdamW (no EMA), synchronised.

The ratio says how many training steps one sample costs.

    .venv/bin/python tests/benchmarks/bench_sampling.py [--steps 20] [--reps 5]
    python tests/benchmarks/bench_sampling.py --experiment s2mv_text2world_2b --data DIR  # a GPU
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench_engine_step import _step_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="Euler steps per sample")
    parser.add_argument("--reps", type=int, default=5, help="samples timed")
    parser.add_argument("--train-steps", type=int, default=10, help="training steps timed (baseline)")
    parser.add_argument("--experiment", default="s2mv_text2world_tiny", help="builtin experiment")
    parser.add_argument("--data", type=Path, help="a predict1-waymo dataset (default: synthesised)")
    args = parser.parse_args()

    import torch
    from cosmos_engine.compose import compose_config, n_views
    from cosmos_engine.datasets import ClipDataset
    from cosmos_engine.generate import batch_of, build_model, contact_sheet, euler_sample, side_by_side
    from cosmos_engine.video import write_mp4, write_png

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        if args.data is not None:
            root = args.data
        else:
            from cosmos_tui.core.datasets.synth import synthesize

            root = synthesize(Path(tmp) / "waymo", "predict1-waymo", clips=2, frames=16)
        data = f"dataloader_train.dataset.dataset_dir={root}"
        cfg = compose_config([f"experiment={args.experiment}", data])
        ds = ClipDataset(cfg.dataloader_train.dataset, seed=0, verbose=False)
        item = ds.conditioning(None, None, n_views(cfg))
        model = build_model(cfg, device)
        net = model.net_ema.eval()
        batch = batch_of(item, device)
        euler_sample(net, batch, 0, 2, cfg.model.task)  # warm-up
        times, writes = [], []
        for seed in range(args.reps):
            _sync(device)
            t0 = time.perf_counter()
            frames = euler_sample(net, batch, seed, args.steps, cfg.model.task)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            video = side_by_side(frames)
            write_mp4(Path(tmp) / f"{seed}.mp4", video)
            write_png(Path(tmp) / f"{seed}.png", contact_sheet(video))
            writes.append(time.perf_counter() - t0)
        del model, net
        train_model = build_model(cfg, device)
        net, n = train_model.net.train(), args.train_steps
        if device.type == "cuda":
            step = statistics.median(_gpu_step_times(cfg, net, batch, n))
        else:
            step = statistics.median(_step_times(train_model, net, batch, n))
    shape = tuple(item["video"].shape)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    sample = statistics.median(times)
    what = f"{args.experiment}, {args.steps} Euler steps (video {shape}, {where})"
    print(f"sample one clip, {what}: {sample * 1e3:.1f} ms")
    print(f"  per Euler step (one forward, no grad): {sample / args.steps * 1e3:.1f} ms")
    print(f"  writing its mp4 + contact sheet: {statistics.median(writes) * 1e3:.1f} ms")
    print(f"training step of the same shape (1 rank): {step * 1e3:.1f} ms")
    print(f"ratio sample/training step: {sample / step:.2f}x")


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _gpu_step_times(cfg, net, batch, steps: int) -> list[float]:
    """One training step on a GPU: bf16 autocast loss, backward, clipping, fused AdamW."""
    import torch
    from cosmos_engine.flow import flow_loss
    from cosmos_engine.trainer import ac_every

    net.set_recompute(ac_every(cfg), cfg.trainer.recompute)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=True)
    device = next(net.parameters()).device
    times = []
    for i in range(steps + 2):
        _sync(device)
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = flow_loss(net, batch, torch.Generator(device).manual_seed(i), cfg.model.task)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return times


if __name__ == "__main__":
    main()
