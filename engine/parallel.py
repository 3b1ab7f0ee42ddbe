"""Process group, context parallelism and FSDP2 sharding: one code path for CPU (gloo) and GPU (NCCL).

``fully_shard`` is applied to every transformer block of ``net`` and ``net_ema`` and then to the
wrapper, on CPU over gloo exactly as on GPUs over NCCL (torch >= 2.6). GPUs add bf16 parameters
with fp32 gradient reduction (``MixedPrecisionPolicy``); CPU trains in fp32.

Context parallelism (``parallel.context_parallel_size`` = P > 1) arranges the ranks as a
(data parallel x context parallel) device mesh, P neighbouring ranks per sample. Each of them
embeds the whole sample (cheap), keeps its 1/P slice of the tokens and runs the blocks on it; a
self-attention trades sequence for heads with an all-to-all (:func:`seq_to_heads`), attends over
the whole sequence with 1/P of the heads, and trades back (:func:`heads_to_seq`); cross-attention
to the text and the MLP need nothing. The final layer's slices are gathered
(:func:`gather_sequence`), so every rank of the group computes the same full loss.

FSDP2 still shards the weights over all ranks (the flattened mesh: the same memory per rank as
without context parallelism) and averages the gradients over all of them. The gradient scale: the
backward of the gather hands each rank P times the gradient of its own slice (the reduce-scatter
sum torch's own all-gather backward computes, without the communication: the P ranks' losses are
the same). The P ranks' weight gradients then sum to P times the sample's gradient, and the mean
over dp x P ranks is the mean over the dp samples, as plain data parallelism over dp ranks gives
(``tests/engine/test_engine_context_parallel.py`` checks it against one unsplit rank).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

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
    cp_size: int = 1
    """Ranks sharing one sample (context parallelism); neighbours: ranks ``r // cp_size`` alike."""
    cp_group: Any = None
    """Their process group (None without context parallelism)."""

    @property
    def dp_rank(self) -> int:
        """Which data-parallel replica this rank is: the data shard and the noise seed follow it."""
        return self.rank // self.cp_size

    @property
    def dp_size(self) -> int:
        """Data-parallel replicas: samples trained side by side per micro-batch slot."""
        return self.world_size // self.cp_size

    @property
    def cp_rank(self) -> int:
        """Which slice of the sequence this rank holds."""
        return self.rank % self.cp_size


def context_parallel(d: Dist, cp_size: int) -> Dist:
    """``d`` on a (dp, cp) device mesh with ``cp_size`` ranks per sample (a collective when > 1)."""
    from cosmos_engine.errors import ConfigError

    if cp_size == 1:
        return d
    if d.world_size % cp_size:
        raise ConfigError(
            f"parallel.context_parallel_size={cp_size} must divide the number of ranks "
            f"({d.world_size}); start a multiple of {cp_size} ranks or choose a divisor of {d.world_size}."
        )
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh(d.device.type, (d.world_size // cp_size, cp_size), mesh_dim_names=("dp", "cp"))
    return dataclasses.replace(d, cp_size=cp_size, cp_group=mesh.get_group("cp"))


def _all_to_all(x: torch.Tensor, group: Any) -> torch.Tensor:
    """Row ``j`` of ``x`` ``[P, ...]`` goes to rank ``j``; row ``j`` of the result came from rank ``j``."""
    from torch.distributed._functional_collectives import all_to_all_single_autograd, wait_tensor

    return wait_tensor(all_to_all_single_autograd(x.contiguous(), None, None, group))


def seq_to_heads(x: torch.Tensor, group: Any) -> torch.Tensor:
    """``[k, b, n/P, H, hd]`` (this rank's tokens, all heads) -> ``[k, b, n, H/P, hd]`` (all tokens,
    this rank's heads), autograd-aware."""
    p = dist.get_world_size(group)
    k, b, m, h, hd = x.shape
    y = _all_to_all(x.view(k, b, m, p, h // p, hd).permute(3, 0, 1, 2, 4, 5), group)
    return y.permute(1, 2, 0, 3, 4, 5).reshape(k, b, p * m, h // p, hd)


def heads_to_seq(y: torch.Tensor, group: Any) -> torch.Tensor:
    """``[b, n, H/P, hd]`` -> ``[b, n/P, H, hd]``: the inverse of :func:`seq_to_heads` (one tensor)."""
    p = dist.get_world_size(group)
    b, n, h, hd = y.shape
    z = _all_to_all(y.view(b, p, n // p, h, hd).permute(1, 0, 2, 3, 4), group)
    return z.permute(1, 2, 0, 3, 4).reshape(b, n // p, p * h, hd)


def split_sequence(x: torch.Tensor, group: Any) -> torch.Tensor:
    """This rank's slice of ``[b, n, ...]`` along the sequence (dim 1)."""
    p, r = dist.get_world_size(group), dist.get_rank(group)
    m = x.shape[1] // p
    return x.narrow(1, r * m, m)


class _GatherSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, group: Any) -> torch.Tensor:
        p = dist.get_world_size(group)
        ctx.p, ctx.r, ctx.m = p, dist.get_rank(group), x.shape[1]
        parts = [torch.empty_like(x) for _ in range(p)]
        dist.all_gather(parts, x.contiguous(), group=group)
        return torch.cat(parts, dim=1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        # The P ranks' losses are the same, so the reduce-scatter sum of their gradients is P times ours.
        return grad.narrow(1, ctx.r * ctx.m, ctx.m) * ctx.p, None


def gather_sequence(x: torch.Tensor, group: Any) -> torch.Tensor:
    """The whole ``[b, n, ...]`` from each rank's slice ``[b, n/P, ...]``; its backward returns P
    times this rank's slice of the gradient (see the module docs: the gradient scale)."""
    return _GatherSequence.apply(x, group)


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
