"""The EMA of the trained weights, on the device or offloaded to pinned host memory.

``ema = beta * ema + (1 - beta) * net`` is a foreach lerp over the local shards. On a GPU with
Triton the trainer folds it into the optimizer's pass instead (:mod:`cosmos_engine.fused_update`,
from this class's ``pairs``); otherwise on GPU it runs on a side CUDA stream beside the next
forward (memory-bound beside compute-bound); the optimizer step and anything that reads the EMA
first :meth:`EMA.join` it.

With ``model.ema.offload`` the EMA weights live in pinned host memory instead (one flat buffer on
one rank; FSDP2's CPU offload of the EMA's shards on two or more), which frees 4 bytes per
parameter of GPU memory (7.8 GB at the 2B shape). Each update streams them through the GPU in
buckets: copy a bucket in, lerp it with the weights, copy it back, on two alternating side
streams, so one bucket's copy-in overlaps the previous one's copy-back and both overlap the next
forward. It is the same fp32 lerp as on the device, so the result is bit-for-bit the same. The
copies still slow the compute beside them (on an H100 at 16,384 tokens a step takes ~9% longer;
copying the weights out alone costs ~5%), so this is for memory, not speed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from cosmos_engine.parallel import local_shard
from torch import nn

BUCKET_BYTES = 64 << 20
"""Bytes of EMA weights per streamed bucket (two such staging buffers live on the GPU)."""
_ALIGN = 16


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def offload_to_host(net: nn.Module) -> None:
    """Move ``net``'s parameters into one pinned host buffer (each becomes a view of it).

    One buffer, not a pinned tensor per parameter: the pinned allocator rounds each allocation
    up to a power of two, and adjacent parameters copy to the GPU as one transfer.
    """
    params = list(net.parameters())
    total = sum(_aligned(p.numel() * p.element_size()) for p in params)
    flat = torch.empty(total, dtype=torch.uint8, pin_memory=torch.cuda.is_available())
    offset = 0
    with torch.no_grad():
        for p in params:
            nbytes = p.numel() * p.element_size()
            view = flat[offset : offset + nbytes].view(p.dtype).view(p.shape)
            view.copy_(p.detach())
            p.data = view
            offset += _aligned(nbytes)


@dataclass
class _Bucket:
    """Parameters streamed together: host runs (adjacent bytes, one copy each) and device weights."""

    runs: list[tuple[torch.Tensor, int]] = field(default_factory=list)
    """(host bytes, offset in the staging buffer)."""
    views: list[tuple[int, torch.dtype, torch.Size]] = field(default_factory=list)
    """(staging offset, dtype, shape) of each EMA parameter."""
    weights: list[torch.Tensor] = field(default_factory=list)
    nbytes: int = 0


def _host_bytes(t: torch.Tensor) -> torch.Tensor:
    """``t``'s bytes as a 1-D uint8 tensor over the same memory."""
    return t.reshape(-1).view(torch.uint8)


def _buckets(pairs: list[tuple[torch.Tensor, torch.Tensor]], bucket_bytes: int) -> list[_Bucket]:
    buckets = [_Bucket()]
    for ema, weight in pairs:
        if not ema.is_contiguous():
            raise ValueError("a streamed EMA needs contiguous parameters")
        nbytes = ema.numel() * ema.element_size()
        bucket = buckets[-1]
        if bucket.weights and bucket.nbytes + nbytes > bucket_bytes:
            bucket = _Bucket()
            buckets.append(bucket)
        last = bucket.runs[-1] if bucket.runs else None
        follows = (
            last is not None
            and ema.untyped_storage().data_ptr() == last[0].untyped_storage().data_ptr()
            and ema.data_ptr() == last[0].data_ptr() + last[0].numel()
        )
        if follows:  # adjacent in host memory: the same transfer, the same place in staging
            assert last is not None
            offset = last[1] + last[0].numel()
            merged = torch.empty(0, dtype=torch.uint8).set_(
                last[0].untyped_storage(), last[0].storage_offset(), (last[0].numel() + nbytes,)
            )
            bucket.runs[-1] = (merged, last[1])
            bucket.nbytes = offset + nbytes
        else:
            offset = _aligned(bucket.nbytes)
            bucket.runs.append((_host_bytes(ema), offset))
            bucket.nbytes = offset + nbytes
        bucket.views.append((offset, ema.dtype, ema.shape))
        bucket.weights.append(weight)
    return [b for b in buckets if b.weights]


class EMA:
    """The EMA update of ``model.net_ema`` from ``model.net`` (their local shards, in order).

    ``streamed`` (default: when the EMA weights are on the host and the network's on a GPU) picks
    the bucketed copy-in, lerp, copy-back; on CPU it runs the same code without streams (tests).
    """

    def __init__(
        self,
        model: nn.Module,
        device: torch.device,
        streamed: bool | None = None,
        bucket_bytes: int = BUCKET_BYTES,
    ) -> None:
        self.pairs = [
            (local_shard(e), local_shard(w))
            for e, w in zip(model.net_ema.parameters(), model.net.parameters(), strict=True)
        ]
        self.device = device
        on_host = self.pairs[0][0].device.type == "cpu" and self.pairs[0][1].device.type != "cpu"
        self.streamed = on_host if streamed is None else streamed
        cuda = device.type == "cuda"
        self.streams = [torch.cuda.Stream(device) for _ in range(2 if self.streamed else 1)] if cuda else []
        self.buckets: list[_Bucket] = []
        self.staging: list[torch.Tensor] = []
        if self.streamed:
            self.buckets = _buckets(self.pairs, bucket_bytes)
            size = max(b.nbytes for b in self.buckets)
            self.staging = [torch.empty(size, dtype=torch.uint8, device=device) for _ in range(2)]

    @property
    def host_bytes(self) -> int:
        """Bytes of EMA weights kept in host memory (0 unless streamed)."""
        return sum(e.numel() * e.element_size() for e, _ in self.pairs) if self.streamed else 0

    def _on(self, i: int) -> contextlib.AbstractContextManager:
        return (
            torch.cuda.stream(self.streams[i % len(self.streams)])
            if self.streams
            else contextlib.nullcontext()
        )

    @torch.no_grad()
    def update(self, beta: float) -> None:
        """Queue one update (after the optimizer step that wrote the weights)."""
        current = torch.cuda.current_stream(self.device) if self.streams else None
        for stream in self.streams:
            stream.wait_stream(current)
        if not self.streamed:
            with self._on(0):
                torch._foreach_lerp_([e for e, _ in self.pairs], [w for _, w in self.pairs], 1.0 - beta)
            return
        for i, bucket in enumerate(self.buckets):
            buf = self.staging[i % 2]
            with self._on(i):
                for host, offset in bucket.runs:
                    buf[offset : offset + host.numel()].copy_(host, non_blocking=True)
                views = [
                    buf[o : o + shape.numel() * dt.itemsize].view(dt).view(shape)
                    for o, dt, shape in bucket.views
                ]
                torch._foreach_lerp_(views, bucket.weights, 1.0 - beta)
                for host, offset in bucket.runs:
                    host.copy_(buf[offset : offset + host.numel()], non_blocking=True)

    def join(self, host: bool = False) -> None:
        """Order the work queued next after the update; ``host``: also wait here until a streamed
        update has landed in host memory (before anything on the host reads the EMA weights)."""
        if not self.streams:
            return
        current = torch.cuda.current_stream(self.device)
        for stream in self.streams:
            current.wait_stream(stream)
        if host and self.streamed:
            for stream in self.streams:
                stream.synchronize()
