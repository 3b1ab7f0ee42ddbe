"""Builtin engine: seconds per training step of the tiny experiment on one rank, plain vs sharded.

Measures, in one process on a one-rank gloo group:

- figure: the engine's one-rank step for ``s2mv_text2world_tiny`` as the Trainer runs it — the
  plain module (one rank has nothing to shard), rectified-flow loss, grad clipping, foreach AdamW,
  EMA update;
- baseline: the same step with ``net`` FSDP2-sharded over the one rank (DTensor parameters), which
  is what the engine runs with two or more ranks.

The ratio is why one rank skips FSDP2: at this tiny size per-op DTensor dispatch dominates; on one
GPU at the 2B shape FSDP2's copies cost ~5% of a step (``bench_gpu.py``).
Also prints the data path: seconds to decode and assemble one sample from real mp4s.

    .venv/bin/python tests/benchmarks/bench_engine_step.py [--steps 30]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path


def _step_times(model, net, batch, steps: int) -> list[float]:
    import torch
    from cosmos_engine.ema import EMA
    from cosmos_engine.flow import flow_loss

    ema = EMA(model, torch.device("cpu"))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, foreach=True)
    times = []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        loss = flow_loss(net, batch, torch.Generator().manual_seed(i), "text2world")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.update(0.999)
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()

    import torch
    from cosmos_engine.compose import compose_config
    from cosmos_engine.datasets import ClipDataset
    from cosmos_engine.model import VideoDiT
    from cosmos_engine.parallel import DiffusionModel, init_distributed, shard

    from cosmos_tui.core.datasets.synth import synthesize

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = synthesize(Path(tmp) / "waymo", "predict1-waymo", clips=2, frames=16)
        data = f"dataloader_train.dataset.dataset_dir={root}"
        cfg = compose_config(["experiment=s2mv_text2world_tiny", data])
        ds = ClipDataset(cfg.dataloader_train.dataset, seed=0)
        t0 = time.perf_counter()
        items = [ds[i % len(ds)] for i in range(10)]
        decode = (time.perf_counter() - t0) / 10
    batch = {k: v[None] for k, v in items[0].items()}

    d = init_distributed()
    torch.manual_seed(0)
    net = VideoDiT(cfg.model)
    net.init_weights()
    plain = DiffusionModel(copy.deepcopy(net), copy.deepcopy(net))
    sharded = shard(DiffusionModel(net, copy.deepcopy(net)), d.device, bf16=False)
    base = _step_times(plain, plain.net, batch, args.steps)
    fig = _step_times(sharded, sharded.net, batch, args.steps)
    b, f = statistics.median(base), statistics.median(fig)
    print(f"engine step (1 rank: plain module), tiny: {b * 1e3:.1f} ms (median of {args.steps})")
    print(f"the same step FSDP2-sharded over the one rank: {f * 1e3:.1f} ms")
    print(f"ratio plain/sharded: {b / f:.2f}x")
    print(f"data: decode + assemble one sample (2 views x 8 frames, 64x96): {decode * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
