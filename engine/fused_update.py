"""AdamW and the EMA update in one pass over memory (CUDA, one Triton kernel per parameter).

An optimizer step with an EMA reads and writes every parameter's fp32 state twice: the fused
AdamW kernel reads weight, gradient and both moments and writes weight and moments back (with
clipping folded in it also writes the unscaled gradient back), then the EMA lerp reads the new
weight and the EMA and writes the EMA: ~44 bytes a parameter. This kernel loads the weight,
gradient, moments and EMA once and stores weight, moments and EMA once: 36 bytes a parameter,
and one pass instead of two (the lerp no longer competes with the next forward for bandwidth).

The arithmetic is ``torch.optim.AdamW``'s (decoupled weight decay, bias-corrected moments, the
gradient divided by ``grad_scale`` as the fused kernel does) followed by ``torch.lerp``; the
optimizer object keeps its state (``step``, ``exp_avg``, ``exp_avg_sq``), so checkpoints are
unchanged and either path resumes the other's. Without Triton (CPU) :func:`available` is false and the
trainer uses ``torch.optim.AdamW.step`` and :class:`cosmos_engine.ema.EMA`.
"""

from __future__ import annotations

import importlib.util
import math

import torch
from cosmos_engine.parallel import local_shard

BLOCK = 2048
"""Elements per Triton program."""


def available(device: torch.device) -> bool:
    """Whether the fused step can run on ``device`` (a CUDA GPU with Triton installed)."""
    return device.type == "cuda" and importlib.util.find_spec("triton") is not None


def supports(opt: torch.optim.Optimizer) -> bool:
    """Whether ``opt`` is an AdamW whose options the kernel implements."""
    if type(opt) is not torch.optim.AdamW:
        return False
    return all(
        not g["amsgrad"] and not g["maximize"] and not isinstance(g["lr"], torch.Tensor)
        for g in opt.param_groups
    )


_KERNEL = None


def _kernel():  # a Triton JIT function, built on first use
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    import triton
    import triton.language as tl

    @triton.jit
    def adamw_ema(
        p_ptr,
        g_ptr,
        m_ptr,
        v_ptr,
        e_ptr,
        scale_ptr,
        n,
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        step_size,
        bias_correction2_sqrt,
        ema_weight,
        HAS_SCALE: tl.constexpr,
        HAS_EMA: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        p = tl.load(p_ptr + offs, mask=mask)
        g = tl.load(g_ptr + offs, mask=mask)
        m = tl.load(m_ptr + offs, mask=mask)
        v = tl.load(v_ptr + offs, mask=mask)
        if HAS_SCALE:
            g = g / tl.load(scale_ptr)
        p = p - lr * weight_decay * p
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * g * g
        denom = tl.sqrt(v) / bias_correction2_sqrt + eps
        p = p - step_size * m / denom
        tl.store(p_ptr + offs, p, mask=mask)
        tl.store(m_ptr + offs, m, mask=mask)
        tl.store(v_ptr + offs, v, mask=mask)
        if HAS_EMA:
            e = tl.load(e_ptr + offs, mask=mask)
            tl.store(e_ptr + offs, e + ema_weight * (p - e), mask=mask)

    _KERNEL = adamw_ema
    return _KERNEL


class FusedAdamWEMA:
    """Steps ``opt`` (an AdamW) and, when asked, lerps ``ema_of[weight]`` towards the new weights.

    ``ema_pairs``: (EMA tensor, weight tensor) of the local shards, as :class:`cosmos_engine.ema.EMA`
    holds them; weights without a pair are stepped alone.
    """

    def __init__(
        self, opt: torch.optim.Optimizer, ema_pairs: list[tuple[torch.Tensor, torch.Tensor]] | None
    ) -> None:
        if not supports(opt):
            raise ValueError("the fused step implements torch.optim.AdamW without amsgrad or maximize")
        self.opt = opt
        self.ema_pairs = list(ema_pairs or [])
        self.ema_of = {w.data_ptr(): e for e, w in self.ema_pairs}
        """The EMA tensor of each weight, by the weight's data pointer (local shards)."""
        self.steps: dict[int, int] = {}
        """Each parameter's step count (by ``id``), read from the optimizer state once, then kept
        here: the bias corrections need it on the host, and reading the state's would sync."""

    def _state(self, p: torch.Tensor) -> dict:
        state = self.opt.state[p]
        if not state:  # as torch.optim.AdamW initialises it (fused: the step count on the device)
            state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def step(self, grad_scale: torch.Tensor | None, ema_weight: float | None) -> None:
        """One AdamW step of every parameter with a gradient (gradients divided by ``grad_scale``),
        then, with ``ema_weight``, ``ema += ema_weight * (weight - ema)``."""
        kernel = _kernel()
        steps = []
        stepped = set()
        for group in self.opt.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self._state(p) for p in params]
            beta1, beta2 = group["betas"]
            lr = float(group["lr"])
            for p, state in zip(params, states, strict=True):
                if id(p) not in self.steps:
                    self.steps[id(p)] = int(state["step"])
                self.steps[id(p)] += 1
                step = self.steps[id(p)]
                local = local_shard(p)
                stepped.add(local.data_ptr())
                n = local.numel()
                if n == 0:
                    continue
                ema = self.ema_of.get(local.data_ptr()) if ema_weight is not None else None
                grad, m, v = (local_shard(t) for t in (p.grad, state["exp_avg"], state["exp_avg_sq"]))
                for t in (local, grad, m, v, *(() if ema is None else (ema,))):
                    if not t.is_contiguous() or t.dtype != torch.float32:
                        raise ValueError("the fused step needs contiguous fp32 weights and state")
                kernel[((n + BLOCK - 1) // BLOCK,)](
                    local,
                    grad,
                    m,
                    v,
                    local if ema is None else ema,
                    local if grad_scale is None else grad_scale,
                    n,
                    lr,
                    beta1,
                    beta2,
                    group["eps"],
                    group["weight_decay"],
                    lr / (1.0 - beta1**step),
                    math.sqrt(1.0 - beta2**step),
                    0.0 if ema_weight is None else ema_weight,
                    HAS_SCALE=grad_scale is not None,
                    HAS_EMA=ema is not None,
                    BLOCK=BLOCK,
                )
            steps += [state["step"] for state in states]
        if ema_weight is not None:  # weights without a gradient: their EMA still moves towards them
            rest = [(e, w) for e, w in self.ema_pairs if w.data_ptr() not in stepped]
            if rest:
                torch._foreach_lerp_([e for e, _ in rest], [w for _, w in rest], ema_weight)
        if steps:
            torch._foreach_add_(steps, 1.0)
