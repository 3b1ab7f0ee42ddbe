"""Run under ``torchrun --nproc_per_node=2``: shard a small model with FSDP2 over gloo, save it as a
DCP checkpoint (model with ``net.*`` and ``net_ema.*``, optim, scheduler, trainer) the way the
builtin engine lays it out, and have rank 0 write the full reference state dict next to it.

Usage: torchrun --standalone --nproc_per_node=2 tests/checkpoints/dcp_two_rank.py JOB_DIR ITER...
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict
from torch.distributed.fsdp import fully_shard


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(12, 32)
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(32, 32) for _ in range(3)])
        self.head = torch.nn.Linear(32, 5)  # 5 rows: uneven shards over 2 ranks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        for b in self.blocks:
            x = torch.relu(b(x))
        return self.head(x)


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = Net()
        self.net_ema = copy.deepcopy(self.net)


def main() -> None:
    job, iterations = Path(sys.argv[1]), [int(a) for a in sys.argv[2:]]
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = Model()
    for m in (model.net, model.net_ema):
        for block in m.blocks:
            fully_shard(block)
        fully_shard(m)
    opt = torch.optim.AdamW(model.net.parameters(), lr=1e-2)
    ckpts = job / "checkpoints"
    for it in range(1, max(iterations) + 1):
        torch.manual_seed(it + rank)
        loss = model.net(torch.randn(4, 12)).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        with torch.no_grad():
            for pe, p in zip(model.net_ema.parameters(), model.net.parameters(), strict=True):
                pe.lerp_(p, 0.1)
        if it not in iterations:
            continue
        step = ckpts / f"iter_{it:09d}"
        msd = get_model_state_dict(model)
        dcp.save(msd, checkpoint_id=str(step / "model"))
        dcp.save(get_optimizer_state_dict(model, opt), checkpoint_id=str(step / "optim"))
        dcp.save({"last_epoch": it}, checkpoint_id=str(step / "scheduler"))
        dcp.save({"iteration": it}, checkpoint_id=str(step / "trainer"))
        full = {k: (v.full_tensor() if hasattr(v, "full_tensor") else v) for k, v in msd.items()}
        if rank == 0:
            torch.save(full, job / f"reference_{it}.pt")
            (ckpts / "latest_checkpoint.txt").write_text(f"iter_{it:09d}\n")
        dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
