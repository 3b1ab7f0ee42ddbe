"""Process group and FSDP2 sharding: one code path for CPU (gloo) and GPU (NCCL).

``fully_shard`` is applied to every transformer block of ``net`` and ``net_ema`` and then to the
wrapper, on CPU over gloo exactly as on GPUs over NCCL (torch >= 2.6). GPUs add bf16 parameters
with fp32 gradient reduction (``MixedPrecisionPolicy``); CPU trains in fp32.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


def local_shard(t: torch.Tensor) -> torch.Tensor:
    """This rank's part of a tensor: the local shard of an FSDP2 DTensor, a plain tensor as it is."""
    return t.to_local() if hasattr(t, "to_local") else t


@dataclass(frozen=True)
class Dist:
    """Where this process sits."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def init_distributed() -> Dist:
    """Join the torchrun process group (or make a one-process group when run without torchrun)."""
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        # NCCL for the model's collectives; gloo for the few small CPU ones (flags, loss means, DCP plans).
        backend = "cpu:gloo,cuda:nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        if "MASTER_ADDR" in os.environ:
            # torchrun hands a restarted attempt (--max-restarts) the same store as the failed one,
            # whose keys still name the dead ranks' addresses: the new ranks would dial them and
            # hang. Keys under a per-attempt prefix start clean.
            store, rank, world = next(dist.rendezvous("env://"))
            attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
            store = dist.PrefixStore(f"cosmos_engine/attempt_{attempt}", store)
            dist.init_process_group(
                backend,
                store=store,
                rank=rank,
                world_size=world,
                device_id=device if device.type == "cuda" else None,
            )
        else:
            store = dist.HashStore()
            dist.init_process_group(backend, store=store, rank=0, world_size=1)
    return Dist(rank, world, local, device)


class DiffusionModel(nn.Module):
    """The trained network ``net`` and its EMA copy ``net_ema`` (state keys ``net.*``, ``net_ema.*``)."""

    def __init__(self, net: nn.Module, net_ema: nn.Module | None) -> None:
        super().__init__()
        self.net = net
        if net_ema is not None:
            net_ema.requires_grad_(False)
            self.net_ema = net_ema


def shard(
    model: DiffusionModel,
    device: torch.device,
    bf16: bool,
    reshard_after_forward: bool = True,
    ema_on_host: bool = False,
) -> DiffusionModel:
    """Apply FSDP2 per block, then to each network's root; parameters become DTensors sharded over ranks.

    ``reshard_after_forward=False`` keeps each block's gathered parameters from forward to backward.
    The EMA copy is never run forward in training, so it always reshards; ``ema_on_host`` keeps its
    shards in pinned host memory (FSDP2's CPU offload; :mod:`cosmos_engine.ema` streams them).
    """
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy, fully_shard

    kwargs: dict = {}
    if device.type == "cuda" and bf16:
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    nets = [(model.net, reshard_after_forward, OffloadPolicy())]
    if hasattr(model, "net_ema"):
        offload = CPUOffloadPolicy(pin_memory=True) if ema_on_host else OffloadPolicy()
        nets.append((model.net_ema, True, offload))
    for net, reshard, offload in nets:
        for block in net.blocks:
            fully_shard(block, reshard_after_forward=reshard, offload_policy=offload, **kwargs)
        # the root: embeddings, final layer
        fully_shard(net, reshard_after_forward=reshard, offload_policy=offload, **kwargs)
    return model
