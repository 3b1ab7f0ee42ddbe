"""Resumable data order: an endless ``DistributedSampler`` stream that can start mid-epoch.

Each rank sees its ``DistributedSampler`` share of epoch 0, then epoch 1, and so on (shuffled by
``seed + epoch``). ``start`` skips the samples already consumed, so a job resumed at iteration N
reads exactly the batches an uninterrupted job would read from N on, without decoding the skipped
ones.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler


class ResumableSampler(Sampler[int]):
    """Endless per-rank index stream over epochs, starting at per-rank position ``start``."""

    def __init__(self, dataset: Dataset, *, rank: int, world_size: int, seed: int, start: int = 0) -> None:
        self.inner = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=False
        )
        self.start = start

    def __iter__(self) -> Iterator[int]:
        per_epoch = len(self.inner)
        epoch, offset = divmod(self.start, per_epoch)
        while True:
            self.inner.set_epoch(epoch)
            indices = list(self.inner)
            yield from indices[offset:]
            epoch, offset = epoch + 1, 0


def build_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    num_workers: int,
    pin_memory: bool,
    rank: int,
    world_size: int,
    seed: int,
    start_sample: int,
) -> DataLoader:
    """An endless loader that starts after ``start_sample`` samples of this rank's stream."""
    sampler = ResumableSampler(dataset, rank=rank, world_size=world_size, seed=seed, start=start_sample)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=True,
        persistent_workers=num_workers > 0,
        generator=generator,
    )
