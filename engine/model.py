"""A video diffusion transformer for multi-view clips, in the Cosmos DiT style.

Input clips have shape ``[B, V, T, C, H, W]`` (batch, views, frames, channels, height, width).
They are cut into space-time patches; each token gets a factorised sinusoidal position encoding
(time, height and width parts summed) plus a learned view embedding. Every block runs
self-attention over all tokens of the sample (``scaled_dot_product_attention``), cross-attention
to the text embeddings (``L x 1024``), and an MLP, each modulated by the timestep through AdaLN
(shift, scale, gate), optionally with the low-rank AdaLN-LoRA used by Cosmos' 2B models.
The network predicts the rectified-flow velocity for every pixel.

With context parallelism (:meth:`VideoDiT.set_context_parallel`) each rank of a group runs the
blocks on its slice of the tokens; :mod:`cosmos_engine.parallel` has the collectives.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any

import torch
import torch.nn.functional as F
from cosmos_engine.config import ModelConfig
from cosmos_engine.parallel import gather_sequence, heads_to_seq, seq_to_heads, split_sequence
from torch import nn
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

_aten = torch.ops.aten
_EXPENSIVE = {
    getattr(_aten, name).default
    for name in (
        "mm",
        "addmm",
        "bmm",
        "_scaled_dot_product_cudnn_attention",
        "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_flash_attention_for_cpu",
    )
    if hasattr(_aten, name)
}
"""Ops whose outputs a block keeps for backward when it recomputes the elementwise rest."""


def _elementwise(ctx: Any, op: Any, *args: Any, **kwargs: Any) -> CheckpointPolicy:
    return CheckpointPolicy.MUST_SAVE if op in _EXPENSIVE else CheckpointPolicy.PREFER_RECOMPUTE


_GELU = {_aten.gelu.default, _aten.mean.dim}
"""The MLP's activation, and RMSNorm's mean: ``rms_norm`` adds its epsilon to it in place, and
selective checkpointing refuses a kept tensor that changed (in-place ops are recomputed too)."""


def _gelu(ctx: Any, op: Any, *args: Any, **kwargs: Any) -> CheckpointPolicy:
    recompute = op in _GELU or op._schema.is_mutable
    return CheckpointPolicy.PREFER_RECOMPUTE if recompute else CheckpointPolicy.PREFER_SAVE


_ATTENTION = {
    op
    for op in _EXPENSIVE
    if "attention" in str(op)  # the fused self-attention kernels, whatever the backend picks
}


def _attention(ctx: Any, op: Any, *args: Any, **kwargs: Any) -> CheckpointPolicy:
    # self-attention only: its keys are as long as its queries (the text's 512 are not); the
    # cross-attention, projections, MLP and elementwise ops are recomputed
    if op in _ATTENTION and args[1].shape[-2] == args[0].shape[-2]:
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


RECOMPUTE = {
    "gelu": functools.partial(create_selective_checkpoint_contexts, _gelu),
    "elementwise": functools.partial(create_selective_checkpoint_contexts, _elementwise),
    "attention": functools.partial(create_selective_checkpoint_contexts, _attention),
}
"""``trainer.recompute`` modes: the selective-checkpoint context of each."""


def sinusoid(positions: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (float) positions, ``[..., dim]``."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=positions.device) / half
    )
    args = positions.float()[..., None] * freqs
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class AdaLN(nn.Module):
    """Timestep embedding -> ``n`` modulation vectors of width ``hidden`` (full or low-rank)."""

    def __init__(self, hidden: int, n: int, lora_dim: int) -> None:
        super().__init__()
        self.n = n
        if lora_dim > 0:
            self.proj = nn.Sequential(
                nn.SiLU(),
                nn.Linear(hidden, lora_dim, bias=False),
                nn.Linear(lora_dim, n * hidden, bias=False),
            )
        else:
            self.proj = nn.Sequential(nn.SiLU(), nn.Linear(hidden, n * hidden))

    def forward(self, temb: torch.Tensor) -> list[torch.Tensor]:
        return list(self.proj(temb)[:, None, :].chunk(self.n, dim=-1))


class Attention(nn.Module):
    """Multi-head attention; keys/values come from ``context`` (cross) or ``x`` (self)."""

    def __init__(self, hidden: int, heads: int, context_dim: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(hidden, hidden, bias=False)
        self.kv = nn.Linear(context_dim or hidden, 2 * hidden, bias=False)
        self.out = nn.Linear(hidden, hidden)
        self.q_norm = nn.RMSNorm(hidden // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(hidden // heads, eps=1e-6)
        self.cp_group: Any = None
        """Context parallelism (self-attention only): ``x`` is this rank's slice of the sequence."""

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, n, d = x.shape
        if self.cp_group is not None and context is None:
            return self._forward_ulysses(x)
        src = x if context is None else context
        q = self.q_norm(self.q(x).view(b, n, self.heads, -1))
        k, v = self.kv(src).view(b, src.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        k = self.k_norm(k)
        attn_mask = None if mask is None else mask[:, None, None, :]
        c = query_chunks(n, src.shape[1]) if context is not None else 1
        if c > 1:  # each chunk of queries a batch entry of its own, against the same keys
            k, v = (t[:, None].expand(b, c, *t.shape[1:]).reshape(b * c, *t.shape[1:]) for t in (k, v))
            attn_mask = None if attn_mask is None else attn_mask.repeat_interleave(c, dim=0)
        q = q.view(b * c, n // c, self.heads, -1).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out(y.transpose(1, 2).reshape(b, n, d))

    def _forward_ulysses(self, x: torch.Tensor) -> torch.Tensor:
        """Self-attention over the whole sequence from this rank's slice: an all-to-all gives each
        rank every token of its share of the heads, another one gives the tokens back."""
        b, n, d = x.shape
        q = self.q_norm(self.q(x).view(b, n, self.heads, -1))
        k, v = self.kv(x).view(b, n, 2, self.heads, -1).unbind(2)
        # in the projections' dtype (bf16 under autocast, where SDPA would cast the fp32 norms to it
        # anyway): half the bytes of the all-to-all
        qkv = torch.stack([t.to(v.dtype) for t in (q, self.k_norm(k), v)])
        qkv = seq_to_heads(qkv, self.cp_group)  # 3 b N H/P hd
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(0))
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out(heads_to_seq(y.transpose(1, 2), self.cp_group).reshape(b, n, d))


CROSS_CHUNK_TOKENS = 2048
"""Queries per batch entry of the cross-attention (see :func:`query_chunks`)."""


def query_chunks(n_queries: int, n_keys: int) -> int:
    """Into how many equal parts a cross-attention splits its queries.

    Fused attention kernels spread their backward over blocks of keys: 512 text tokens give 4
    blocks per head, too few for the GPU's 132 SMs, while the queries are 16,384 long. Each chunk
    of queries attends to the same keys (softmax is per query), so the result is the same; the
    keys' gradients are summed over the chunks. On an H100 this takes the cross-attention at
    16,384 tokens from 1.48 to 1.06 ms forward and backward (``bench_attention.py``).
    """
    if n_keys >= n_queries:
        return 1
    c = max(1, n_queries // CROSS_CHUNK_TOKENS)
    while n_queries % c:
        c -= 1
    return c


class Block(nn.Module):
    """Self-attention, cross-attention to text, MLP; each with AdaLN shift/scale/gate."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        h = cfg.hidden
        self.norm1 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.self_attn = Attention(h, cfg.heads)
        self.norm2 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.cross_attn = Attention(h, cfg.heads, context_dim=cfg.text_dim)
        self.norm3 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        inner = int(h * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(h, inner), nn.GELU(approximate="tanh"), nn.Linear(inner, h))
        self.adaln = AdaLN(h, 9, cfg.adaln_lora_dim)
        self.recompute = ""
        """A :data:`RECOMPUTE` mode: what this block recomputes in backward instead of keeping."""

    def forward(
        self, x: torch.Tensor, temb: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor
    ) -> torch.Tensor:
        if self.recompute and self.training and torch.is_grad_enabled():
            # Inside the compiled region, so the compiler sees the policy: it fuses the recompute
            # into the backward kernels that read its results.
            return checkpoint(
                self._forward,
                x,
                temb,
                text,
                text_mask,
                use_reentrant=False,
                context_fn=RECOMPUTE[self.recompute],
            )
        return self._forward(x, temb, text, text_mask)

    def _forward(
        self, x: torch.Tensor, temb: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor
    ) -> torch.Tensor:
        s1, c1, g1, s2, c2, g2, s3, c3, g3 = self.adaln(temb)
        x = x + g1 * self.self_attn(self.norm1(x) * (1 + c1) + s1)
        x = x + g2 * self.cross_attn(self.norm2(x) * (1 + c2) + s2, text, text_mask)
        return x + g3 * self.mlp(self.norm3(x) * (1 + c3) + s3)


class VideoDiT(nn.Module):
    """The denoiser: ``forward(x_t, t, text, text_mask, view_ids, cond)`` -> velocity like ``x_t``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        pt, ph, pw = cfg.patch_size
        in_ch = cfg.in_channels + 1  # +1: the per-pixel "given clean" condition mask
        if cfg.task == "control":
            in_ch += cfg.control_channels
        self.patch_dim_in = in_ch * pt * ph * pw
        self.patch_dim_out = cfg.in_channels * pt * ph * pw
        self.patch_embed = nn.Linear(self.patch_dim_in, cfg.hidden)
        self.view_embed = nn.Embedding(cfg.n_views_emb, cfg.hidden)
        self.t_embed = nn.Sequential(nn.Linear(256, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, cfg.hidden))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.final_norm = nn.LayerNorm(cfg.hidden, elementwise_affine=False, eps=1e-6)
        self.final_adaln = AdaLN(cfg.hidden, 2, 0)
        self.final = nn.Linear(cfg.hidden, self.patch_dim_out)
        self.activation_checkpointing = 0
        """Recompute the activations of one block in every this many in backward (0: none)."""
        self.cp_group: Any = None
        """The context-parallel group whose ranks share each sample (None: no sequence split)."""

    def set_context_parallel(self, group: Any) -> None:
        """Split every sample's tokens over the ranks of ``group`` (None: run unsplit); every rank
        of it must be given the same batch, noise and flow times."""
        self.cp_group = group
        for block in self.blocks:
            block.self_attn.cp_group = group

    def set_recompute(self, every: int, mode: str = "") -> None:
        """Recompute one block in every ``every`` whole in backward (0: none), and in the other
        blocks what the :data:`RECOMPUTE` ``mode`` names (empty: nothing)."""
        if mode and mode not in RECOMPUTE:
            raise ValueError(f"unknown recompute mode {mode!r}; use one of {', '.join(RECOMPUTE)}")
        self.activation_checkpointing = every
        if mode:  # torch warns once per compile that such a region must have no in-place op: none here
            logging.getLogger("torch._higher_order_ops.wrap").setLevel(logging.ERROR)
        for i, block in enumerate(self.blocks):
            block.recompute = "" if every and i % every == 0 else mode

    def init_weights(self) -> None:
        """Xavier linears, small embeddings, zeroed gates and output (DiT's adaLN-zero)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.view_embed.weight, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.adaln.proj[-1].weight)
            if block.adaln.proj[-1].bias is not None:
                nn.init.zeros_(block.adaln.proj[-1].bias)
        nn.init.zeros_(self.final_adaln.proj[-1].weight)
        nn.init.zeros_(self.final_adaln.proj[-1].bias)
        nn.init.zeros_(self.final.weight)
        nn.init.zeros_(self.final.bias)

    def _patchify(self, x: torch.Tensor) -> torch.Tensor:
        b, v, t, c, h, w = x.shape
        pt, ph, pw = self.cfg.patch_size
        x = x.reshape(b, v, t // pt, pt, c, h // ph, ph, w // pw, pw)
        x = x.permute(0, 1, 2, 5, 7, 4, 3, 6, 8)  # b v T H W | c pt ph pw
        return x.reshape(b, v * (t // pt) * (h // ph) * (w // pw), c * pt * ph * pw)

    def _unpatchify(self, tokens: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        b, v, t, c, h, w = shape
        pt, ph, pw = self.cfg.patch_size
        x = tokens.reshape(b, v, t // pt, h // ph, w // pw, c, pt, ph, pw)
        x = x.permute(0, 1, 2, 6, 5, 3, 7, 4, 8)
        return x.reshape(b, v, t, c, h, w)

    def _positions(self, v: int, t: int, h: int, w: int, view_ids: torch.Tensor) -> torch.Tensor:
        dev = view_ids.device
        d = self.cfg.hidden
        pos = sinusoid(torch.arange(t, device=dev), d)[:, None, None, :]
        pos = pos + sinusoid(torch.arange(h, device=dev), d)[None, :, None, :]
        pos = pos + sinusoid(torch.arange(w, device=dev), d)[None, None, :, :]
        pos = pos.reshape(1, 1, t * h * w, d)
        views = self.view_embed(view_ids)[:, :, None, :]  # b v 1 d
        return (pos + views).reshape(view_ids.shape[0], v * t * h * w, d)

    def forward(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        view_ids: torch.Tensor,
        cond_mask: torch.Tensor,
        control: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Velocity prediction for noisy clips ``x_t`` at flow times ``t`` in [0, 1]."""
        b, v, tt, c, h, w = x_t.shape
        mask = cond_mask[:, :, None, None, None, None].expand(b, v, tt, 1, h, w).to(x_t.dtype)
        parts = [x_t, mask]
        if self.cfg.task == "control":
            assert control is not None, "model.task=control needs a control video"
            parts.append(control.to(x_t.dtype))
        tokens = self.patch_embed(self._patchify(torch.cat(parts, dim=3)))
        pt, ph, pw = self.cfg.patch_size
        tokens = tokens + self._positions(v, tt // pt, h // ph, w // pw, view_ids).to(tokens.dtype)
        temb = self.t_embed(sinusoid(t * 1000.0, 256).to(tokens.dtype))
        group = self.cp_group
        if group is not None:  # every rank embedded the whole sample; it keeps its slice
            tokens = split_sequence(tokens, group)
        every = self.activation_checkpointing
        for i, block in enumerate(self.blocks):
            if every and self.training and i % every == 0:
                tokens = torch.utils.checkpoint.checkpoint(
                    block, tokens, temb, text, text_mask, use_reentrant=False
                )
            else:
                tokens = block(tokens, temb, text, text_mask)
        shift, scale = self.final_adaln(temb)
        out = self.final(self.final_norm(tokens) * (1 + scale) + shift)
        if group is not None:
            out = gather_sequence(out, group)
        return self._unpatchify(out, (b, v, tt, c, h, w))


def count_params(module: nn.Module) -> int:
    """Number of parameters (works on the meta device)."""
    return sum(p.numel() for p in module.parameters())


def block_flops(cfg: ModelConfig, n: int, text_len: int) -> dict[str, float]:
    """Forward matmul FLOPs of one block at ``n`` tokens: ``attention`` (the self-attention's scores
    and values, quadratic in ``n``) and ``linear`` (projections, cross-attention, MLP)."""
    h = cfg.hidden
    inner = int(h * cfg.mlp_ratio)
    linear = (
        2 * n * (h * h + 2 * h * h + h * h)  # self-attn projections
        + 2 * n * (2 * h * h)
        + 2 * text_len * 2 * cfg.text_dim * h  # cross-attn q/out and k/v
        + 2 * 2 * n * text_len * h
        + 2 * n * 2 * h * inner  # MLP
    )
    return {"attention": 2.0 * 2 * n * n * h, "linear": float(linear)}


def flops_per_sample(
    cfg: ModelConfig, n_views: int, num_frames: int, size: list[int], text_len: int
) -> float:
    """Training FLOPs for one sample (forward + backward = 3x forward), matmuls only."""
    pt, ph, pw = cfg.patch_size
    n = n_views * (num_frames // pt) * (size[0] // ph) * (size[1] // pw)
    per_block = sum(block_flops(cfg, n, text_len).values())
    fwd = cfg.depth * per_block + 2 * n * cfg.hidden * (
        (cfg.in_channels + 1) * pt * ph * pw + cfg.in_channels * pt * ph * pw
    )
    return 3.0 * fwd
