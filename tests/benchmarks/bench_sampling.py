"""Builtin engine: seconds to sample one clip of the tiny experiment on CPU, against a training step.

Measures, in one process, on the same conditioning (one synthetic 2-view clip, 8 frames, 64x96):

- figure: :func:`cosmos_engine.generate.euler_sample` over ``--steps`` Euler steps (one forward
  of the network each, no gradients), per clip, and the mp4 + contact sheet it writes;
- baseline: one training step of the same shape as the Trainer runs it on one rank (rectified-flow
  loss, backward, grad clipping, foreach AdamW, EMA update: ``bench_engine_step._step_times``).

The ratio says how many training steps one sample costs.

    .venv/bin/python tests/benchmarks/bench_sampling.py [--steps 20] [--reps 5]
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
    args = parser.parse_args()

    import torch
    from cosmos_engine.compose import compose_config, n_views
    from cosmos_engine.datasets import ClipDataset
    from cosmos_engine.generate import batch_of, build_model, contact_sheet, euler_sample, side_by_side
    from cosmos_engine.video import write_mp4, write_png

    from cosmos_tui.core.datasets.synth import synthesize

    torch.set_num_threads(1)
    device = torch.device("cpu")
    with tempfile.TemporaryDirectory() as tmp:
        root = synthesize(Path(tmp) / "waymo", "predict1-waymo", clips=2, frames=16)
        cfg = compose_config(
            ["experiment=s2mv_text2world_tiny", f"dataloader_train.dataset.dataset_dir={root}"]
        )
        ds = ClipDataset(cfg.dataloader_train.dataset, seed=0, verbose=False)
        item = ds.conditioning(None, None, n_views(cfg))
        model = build_model(cfg, device)
        net = model.net_ema.eval()
        batch = batch_of(item, device)
        euler_sample(net, batch, 0, 2, cfg.model.task)  # warm-up
        times, writes = [], []
        for seed in range(args.reps):
            t0 = time.perf_counter()
            frames = euler_sample(net, batch, seed, args.steps, cfg.model.task)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            video = side_by_side(frames)
            write_mp4(Path(tmp) / f"{seed}.mp4", video)
            write_png(Path(tmp) / f"{seed}.png", contact_sheet(video))
            writes.append(time.perf_counter() - t0)
        train_model = build_model(cfg, device)
        step = statistics.median(_step_times(train_model, train_model.net.train(), batch, 10))
    sample = statistics.median(times)
    print(
        f"sample one clip, tiny, {args.steps} Euler steps (2 views x 8 frames, 64x96, CPU): "
        f"{sample * 1e3:.1f} ms"
    )
    print(f"  per Euler step (one forward, no grad): {sample / args.steps * 1e3:.1f} ms")
    print(f"  writing its mp4 + contact sheet: {statistics.median(writes) * 1e3:.1f} ms")
    print(f"training step of the same shape (1 rank): {step * 1e3:.1f} ms")
    print(f"ratio sample/training step: {sample / step:.2f}x")


if __name__ == "__main__":
    main()
