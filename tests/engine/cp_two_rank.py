"""Run under ``torchrun --standalone --nproc_per_node=N``: one training step of the tiny VideoDiT
with the sequence split over ``cp`` ranks (FSDP2 over all N ranks, gloo), next to the same step of
one unsplit module on rank 0 (the mean loss of the same ``N / cp`` samples), written as JSON.

Usage: torchrun --standalone --nproc_per_node=N tests/engine/cp_two_rank.py OUT.json CP [TASK]
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from cosmos_engine.compose import compose_config
from cosmos_engine.flow import flow_loss
from cosmos_engine.model import VideoDiT
from cosmos_engine.parallel import DiffusionModel, Dist, context_parallel, shard


def batch_of(i: int, cfg, views: int) -> dict[str, torch.Tensor]:
    """Sample ``i``: a random clip, text and view ids (the same on every rank that asks)."""
    g = torch.Generator().manual_seed(1000 + i)
    ds = cfg.dataloader_train.dataset
    h, w = ds.video_size
    return {
        "video": torch.rand(1, views, ds.num_frames, 3, h, w, generator=g) * 2 - 1,
        "text": torch.randn(1, ds.max_text_len, cfg.model.text_dim, generator=g),
        "text_mask": torch.arange(ds.max_text_len)[None] < 20,
        "view_ids": torch.tensor([[0, 3]]),
    }


def noise(i: int) -> torch.Generator:
    return torch.Generator().manual_seed(77 + i)


def main() -> None:
    out, cp = Path(sys.argv[1]), int(sys.argv[2])
    task = sys.argv[3] if len(sys.argv) > 3 else "text2world"
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    d = context_parallel(Dist(rank, world, 0, torch.device("cpu")), cp)
    cfg = compose_config(["experiment=s2mv_text2world_tiny", f"model.task={task}"])
    torch.manual_seed(0)
    net = VideoDiT(cfg.model)
    net.init_weights()
    with torch.no_grad():  # no zero gates: every weight's gradient counts
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ref_grads: dict[str, torch.Tensor] = {}
    ref_losses: list[float] = []
    if rank == 0:
        ref = copy.deepcopy(net)
        for i in range(d.dp_size):
            loss = flow_loss(ref, batch_of(i, cfg, 2), noise(i), task) / d.dp_size
            loss.backward()
            ref_losses.append(float(loss.detach()) * d.dp_size)
        ref_grads = {n: p.grad.clone() for n, p in ref.named_parameters()}

    seen: list[int] = []
    net.blocks[0].register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[1]))
    model = shard(DiffusionModel(net, None), d.device, bf16=False)
    net.set_context_parallel(d.cp_group)
    loss = flow_loss(net, batch_of(d.dp_rank, cfg, 2), noise(d.dp_rank), task)
    loss.backward()
    losses = [None] * world
    dist.all_gather_object(losses, float(loss.detach()))
    grads = {n: p.grad.full_tensor() for n, p in model.net.named_parameters()}
    if rank == 0:
        errs = {n: float((grads[n] - g).abs().max()) for n, g in ref_grads.items()}
        scale = {n: float(g.abs().max()) for n, g in ref_grads.items()}
        result = {
            "world": world,
            "cp": d.cp_size,
            "dp": d.dp_size,
            "ref_losses": ref_losses,
            "losses": losses,
            "tokens_per_rank": seen[0],
            "same_names": sorted(grads) == sorted(ref_grads),
            "grad_err": errs,
            "grad_scale": scale,
        }
        out.write_text(json.dumps(result, indent=1))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
