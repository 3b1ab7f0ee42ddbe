"""``trainer.memory_budget``: the cheapest memory policy that fits the GPU, chosen at launch.

A memory policy is what the network recomputes in backward instead of keeping: whole blocks
(activation checkpointing, one block in every N) and, in the other blocks, a ``trainer.recompute``
mode (:data:`cosmos_engine.model.RECOMPUTE`). Each one costs recomputed forward FLOPs and saves
activation memory; both depend on the run's shape.

- **Memory**, measured: one block of the network, at the run's width on the run's GPU, runs a
  forward under each mode at two token counts; the growth of ``torch.cuda.memory_allocated`` per
  token (the slope, so the weights' bf16 casts are not counted) is that mode's kept bytes per token
  per block. A policy's peak is the training state (fp32 weights, gradients, AdamW's two moments,
  the EMA unless offloaded, bf16 weight copies; over the FSDP ranks), plus every block's kept
  activations at the run's tokens per rank, plus one block's full activations (the recompute in
  backward).
- **Cost**, counted: the FLOPs each policy recomputes, over the step's FLOPs
  (:func:`cosmos_engine.model.block_flops`): a whole block is one more forward (a third of its
  training FLOPs); ``attention`` recomputes every matmul but the self-attention's; ``gelu`` and
  ``elementwise`` only elementwise ops (counted as 0.3% and 1% of a block).

The candidates are tried cheapest first; the first whose peak is within the budget (the GPU's
memory, or ``memory_budget`` GB, less a margin for the allocator and the batch) wins. Measured
with eager kernels: a compiled block keeps the same or less, so the estimate errs towards more
recompute.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from cosmos_engine.errors import ConfigError

HEADROOM = 0.92
"""The share of the budget a policy's predicted peak may use (allocator fragmentation, the batch,
NCCL and compile workspaces)."""
_ELEMENTWISE_COST = {"": 0.0, "gelu": 0.003, "elementwise": 0.01}
"""Recomputed share of a block's training FLOPs of the elementwise-only modes."""
MODES = ("", "gelu", "elementwise", "attention")


@dataclasses.dataclass(frozen=True)
class Policy:
    """Checkpoint one block in every ``every`` whole (0: none); the others recompute ``mode``."""

    every: int
    mode: str

    @property
    def label(self) -> str:
        parts = []
        if self.every:
            parts.append("every block whole" if self.every == 1 else f"one block in {self.every} whole")
        if self.mode and self.every != 1:
            parts.append(f"recompute={self.mode}" + (" in the others" if self.every else ""))
        return ", ".join(parts) or "nothing recomputed"

    def overrides(self) -> list[str]:
        """The engine overrides that configure this policy."""
        return [
            f"trainer.activation_checkpointing={'true' if self.every else 'false'}",
            f"trainer.activation_checkpointing_every={self.every or 1}",
            f"trainer.recompute={self.mode}",
        ]


def candidates() -> list[Policy]:
    """Every policy the chooser considers: each mode alone, each mode with one block in 8, 4 or 2
    checkpointed whole, and every block whole."""
    out = [Policy(0, mode) for mode in MODES]
    out += [Policy(n, mode) for n in (8, 4, 2) for mode in MODES]
    return [*out, Policy(1, "")]


def whole_blocks(depth: int, every: int) -> int:
    """How many of ``depth`` blocks one-in-``every`` checkpointing recomputes whole (0, N, 2N, ...)."""
    return 0 if not every else math.ceil(depth / every)


def cost(policy: Policy, depth: int, flops: dict[str, float]) -> float:
    """Recomputed FLOPs over the step's, for one block's ``flops`` (``block_flops``: forward parts)."""
    fwd = flops["attention"] + flops["linear"]
    mode_cost = {**_ELEMENTWISE_COST, "attention": flops["linear"] / (3 * fwd) + 0.01}
    whole = whole_blocks(depth, policy.every)
    per_block = [1 / 3] * whole + [mode_cost[policy.mode]] * (depth - whole)
    return sum(per_block) / depth


@dataclasses.dataclass
class Measured:
    """Kept bytes per token per block of each mode (``whole``: a block checkpointed whole)."""

    per_token: dict[str, float]


def peak_bytes(policy: Policy, depth: int, tokens: int, state_bytes: float, kept: Measured) -> float:
    """Predicted peak of a step: the training state, every block's kept activations, and one block's
    full activations while it is recomputed in backward."""
    whole = whole_blocks(depth, policy.every)
    per_token = kept.per_token["whole"] * whole + kept.per_token[policy.mode] * (depth - whole)
    return state_bytes + tokens * (per_token + kept.per_token[""])


@dataclasses.dataclass
class Choice:
    """The policy chosen, with what it was chosen from."""

    policy: Policy
    fits: bool
    peak_gb: float
    budget_gb: float
    cost: float
    reason: str


def choose(
    depth: int, tokens: int, state_bytes: float, kept: Measured, budget_bytes: float, flops: dict[str, float]
) -> Choice:
    """The cheapest candidate whose predicted peak is within ``HEADROOM`` of ``budget_bytes``; when
    none is, the one of least memory, marked ``fits=False``."""

    def peak(policy: Policy) -> float:
        return peak_bytes(policy, depth, tokens, state_bytes, kept)

    ranked = sorted(candidates(), key=lambda p: (cost(p, depth, flops), peak(p)))
    gb = 1e9
    for i, policy in enumerate(ranked):
        if peak(policy) <= budget_bytes * HEADROOM:
            share = cost(policy, depth, flops)
            why = (
                f"predicted peak {peak(policy) / gb:.1f} GB of {budget_bytes / gb:.1f} GB "
                f"(training state {state_bytes / gb:.1f} GB); recomputes {share * 100:.1f}% of the step"
            )
            if i:
                why += f"; the cheaper {ranked[0].label} would need {peak(ranked[0]) / gb:.1f} GB"
            return Choice(policy, True, peak(policy) / gb, budget_bytes / gb, share, why)
    least = min(ranked, key=peak)
    why = (
        f"no policy fits: the least memory ({least.label}) needs {peak(least) / gb:.1f} GB of "
        f"{budget_bytes / gb:.1f} GB; use more GPUs (FSDP2 shards the state), "
        "parallel.context_parallel_size, or fewer tokens per sample"
    )
    return Choice(least, False, peak(least) / gb, budget_bytes / gb, cost(least, depth, flops), why)


def parse_budget(value: str) -> float | None:
    """``auto`` -> None (the whole GPU); a number -> that many GB in bytes; else a ConfigError."""
    text = str(value).strip().lower()
    if text == "auto":
        return None
    try:
        gb = float(text.removesuffix("gb"))
    except ValueError:
        gb = float("nan")
    if not math.isfinite(gb) or gb <= 0:
        raise ConfigError(
            f"trainer.memory_budget must be 'auto', a number of GB (such as 70) or empty; got {value!r}."
        )
    return gb * 1e9


def measure(block: Any, tokens: int, text_len: int, text_dim: int, device: Any) -> Measured:
    """Kept bytes per token of ``block`` under each mode and whole, on ``device`` (CUDA), with bf16
    autocast as training runs: the slope of allocated memory between two token counts."""
    import torch
    from torch.utils.checkpoint import checkpoint

    hidden = block.norm1.normalized_shape[0]
    n1 = max(256, min(tokens, 4096) // 2)
    saved_mode, was_training, group = block.recompute, block.training, block.self_attn.cp_group
    block.train()
    block.self_attn.cp_group = None  # this rank alone: no collective with ranks that do not measure
    per_token: dict[str, float] = {}
    try:
        with torch.random.fork_rng(devices=[device]):  # the run's random streams stay as they were
            text = torch.randn(1, text_len, text_dim, device=device)
            mask = torch.ones(1, text_len, dtype=torch.bool, device=device)
            temb = torch.randn(1, hidden, device=device)
            for mode in (*MODES, "whole"):
                block.recompute = "" if mode == "whole" else mode
                used = []
                for n in (n1, 2 * n1):
                    x = torch.randn(1, n, hidden, device=device, dtype=torch.bfloat16, requires_grad=True)
                    torch.cuda.synchronize(device)
                    before = torch.cuda.memory_allocated(device)
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        if mode == "whole":
                            y = checkpoint(block, x, temb, text, mask, use_reentrant=False)
                        else:
                            y = block(x, temb, text, mask)
                    torch.cuda.synchronize(device)
                    used.append(torch.cuda.memory_allocated(device) - before)
                    del x, y
                per_token[mode] = max(0.0, (used[1] - used[0]) / n1)
    finally:
        block.recompute, block.self_attn.cp_group = saved_mode, group
        block.train(was_training)
    return Measured(per_token)


def state_bytes(params: int, world: int, ema_on_device: bool) -> float:
    """Device bytes of the training state per rank: fp32 weights, gradients and AdamW's two moments
    (sharded over ``world``), the fp32 EMA unless offloaded, and the bf16 weights one step computes
    with (gathered in full)."""
    fp32 = params * 4
    return fp32 * (4 + (1 if ema_on_device else 0)) / world + params * 2


def choose_for(cfg: Any, block: Any, params: int, device: Any, world: int) -> Choice | None:
    """The policy for this run (``block``: one of its network's, on ``device``; ``params``: the
    network's parameter count), or None when there is no device memory to budget (CPU)."""
    import torch
    from cosmos_engine.compose import tokens_per_sample
    from cosmos_engine.model import block_flops

    budget = parse_budget(cfg.trainer.memory_budget)
    if device.type != "cuda":
        return None
    if budget is None:
        budget = float(torch.cuda.get_device_properties(device).total_memory)
    ds = cfg.dataloader_train.dataset
    tokens = tokens_per_sample(cfg) * cfg.dataloader_train.batch_size // cfg.parallel.context_parallel_size
    kept = measure(block, tokens, ds.max_text_len, cfg.model.text_dim, device)
    state = state_bytes(params, world, cfg.model.ema.enabled and not cfg.model.ema.offload)
    return choose(
        cfg.model.depth, tokens, state, kept, budget, block_flops(cfg.model, tokens, ds.max_text_len)
    )


def apply(cfg: Any, policy: Policy) -> None:
    """Set ``cfg``'s trainer options to ``policy`` (what the run then reports and saves)."""
    cfg.trainer.activation_checkpointing = bool(policy.every)
    cfg.trainer.activation_checkpointing_every = policy.every or 1
    cfg.trainer.recompute = policy.mode
