"""The held-out loss: the flow objective on clips training never sees, with fixed noise and times.

The validation set is ``trainer.val_samples`` windows spread evenly over the held-out clips
(``dataloader_train.dataset.val_clips``, see :func:`cosmos_engine.datasets.held_out`). Sample ``j``
always gets the noise and flow time of a generator seeded from ``(trainer.seed, j)``, and is
scored alone (batch of one), so the loss is the same numbers at every evaluation, after a resume
and for any number of ranks; only the weights change. Ranks take every ``world_size``-th sample
and the sums are all-reduced. The EMA weights are scored when the run keeps them (forward of the
FSDP2-sharded EMA copy), except a single rank's EMA streamed from host memory, which has no
forward: the regular weights then, and the record says which (``val_weights``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def spread(n_windows: int, n_samples: int) -> list[int]:
    """``n_samples`` indices spread evenly over ``range(n_windows)`` (all of them when fewer)."""
    if n_samples >= n_windows:
        return list(range(n_windows))
    return [i * n_windows // n_samples for i in range(n_samples)]


def sample_seed(seed: int, j: int) -> int:
    """The generator seed of validation sample ``j``: apart from every training step's seeds."""
    return (seed * 1_000_003 + 7_777_777) * 65_537 + j


class Validator:
    """Scores one network on this rank's share of the fixed validation samples."""

    def __init__(self, dataset: Any, *, samples: int, seed: int, rank: int, world_size: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.indices = spread(len(dataset), samples)
        """Window indices of the validation set, the same on every rank."""
        rounds = -(-len(self.indices) // world_size)
        self.mine = [rank + k * world_size for k in range(rounds)]
        """Positions in :attr:`indices` this rank scores; every rank runs as many forwards (FSDP2
        gathers each block's weights in each one), so positions past the end are scored and dropped."""

    @property
    def size(self) -> int:
        """How many samples the loss averages."""
        return len(self.indices)

    @torch.no_grad()
    def loss(self, net: nn.Module, device: torch.device, task: str, autocast: Any) -> float:
        """The mean flow loss over the validation set (a collective: every rank calls it)."""
        from cosmos_engine.flow import flow_loss

        was_training = net.training
        net.eval()
        total = torch.zeros(2, dtype=torch.float64, device=device)
        try:
            for j in self.mine:
                real = j < len(self.indices)
                item = self.dataset[self.indices[j if real else 0]]
                batch = {k: v.unsqueeze(0).to(device) for k, v in item.items()}
                gen = torch.Generator(device=device).manual_seed(sample_seed(self.seed, j))
                with autocast:
                    loss = flow_loss(net, batch, gen, task).double()
                if real:
                    total[0] += loss
                    total[1] += 1
        finally:
            net.train(was_training)
        dist.all_reduce(total)
        return float(total[0] / total[1])
