"""What would make a run fit, from one probe's figures: each change's memory and step-time cost,
cheapest first (:func:`derive_fixes`), and what to re-probe when the run itself ran out of memory
(:func:`oom_candidates`). The factors come from the README's H100 measurements of the 2B shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HEADROOM = 1.10
"""A run fits when its measured peak x this stays within the memory: the allocator's fragmentation,
the CUDA context and the data loader's buffers are not in the probe's peak."""

# Derivation factors, from the README's H100 measurements of the 2B shape at 16,384 tokens
# (bare compiled step 0.735 s, 76.3 GB; engine rows with recompute, checkpointing, offload).
GELU_SAVES, GELU_COST = 0.17, 0.011
"""``trainer.recompute=gelu``: 7.5 GB of ~45 GB of activations, 0.743 vs 0.735 s."""
ELEMENTWISE_SAVES, ELEMENTWISE_COST = 0.55, 0.034
"""``trainer.recompute=elementwise``: 25 GB of ~45 GB, 0.760 vs 0.735 s."""
ATTENTION_SAVES, ATTENTION_COST = 0.95, 0.072
"""``trainer.recompute=attention``: kept bytes per token about 8 of 176 kB per block (backed out of
``trainer.memory_budget``'s one-block measurement's predicted peaks for the 2B shape on an H200);
the cost is the recomputed matmuls' counted share of the step at 65,536 tokens (the probe's
``recompute_costs`` gives it for the run's shape). Measured there: 7.77 s and 54.4 GB
against 9.36 s and 48.6 GB with every block checkpointed."""
RECOMPUTE_FIXES: dict[str, tuple[str, float, float]] = {
    "gelu": ("recompute the MLP's GELU in backward", GELU_SAVES, GELU_COST),
    "elementwise": ("keep only matmul and attention outputs", ELEMENTWISE_SAVES, ELEMENTWISE_COST),
    "attention": (
        "keep only the self-attention's output (recompute the matmuls)",
        ATTENTION_SAVES,
        ATTENTION_COST,
    ),
}
"""``trainer.recompute`` mode -> (fix label, share of the activations it frees, step-time cost);
for ``attention`` the probe's ``recompute_costs`` (counted at the run's shape) replaces the cost."""
AC_FULL_COST = 0.30
"""Checkpointing every block: 1.035 vs 0.797 s with one block in 7 (~+5%): about +30% in all."""
AC_SAVES = 0.9
"""Share of a checkpointed block's activations freed (its input stays)."""
OFFLOAD_COST = 0.10
"""``model.ema.offload=true``: 0.826 vs 0.752 s."""
STATE_BYTES_PER_PARAM = 16
"""fp32 weights, gradients and AdamW's two moments, per parameter (sharded over the ranks)."""
EMA_BYTES_PER_PARAM = 4


@dataclass(frozen=True)
class Fix:
    """One change that may make the run fit."""

    label: str
    overrides: tuple[str, ...]
    """``--set`` items that make the change."""
    peak_bytes: int
    """Peak memory per rank with the change."""
    fits: bool
    step_cost: float
    """Extra step time as a fraction (0.05: 5% slower; negative: faster)."""
    source: str
    """``measured`` (re-probed) or ``derived`` (from the measured figures)."""
    note: str = ""


def derive_fixes(probe: dict[str, Any], per_rank: int, on_gpu: bool, gpus_here: int) -> list[Fix]:
    """Changes that may make the run fit, from the probe's figures (see the factors above)."""
    shape = probe["shape"]
    world = int(probe.get("world_size") or 1)
    params = int(probe.get("params") or 0)
    peak = int(probe["peak_mem_bytes"])
    states = STATE_BYTES_PER_PARAM * params // world
    ema = EMA_BYTES_PER_PARAM * params // world if shape.get("ema") else 0
    act = max(0, peak - states - ema)
    fits = lambda b: b * HEADROOM <= per_rank  # noqa: E731
    fixes: list[Fix] = []

    def add(label: str, sets: list[str], new_peak: float, cost: float, note: str = "") -> None:
        fixes.append(Fix(label, tuple(sets), int(new_peak), fits(new_peak), cost, "derived", note))

    for mode, label, share, cost in _recompute_options(probe):
        note = (
            "cheapest for long sequences, where attention is most of the step" if mode == "attention" else ""
        )
        add(label, [f"trainer.recompute={mode}"], peak - act * share, cost, note)
    if on_gpu and shape.get("ema") and not shape.get("ema_offload"):
        add("keep the EMA in pinned host memory", ["model.ema.offload=true"], peak - ema, OFFLOAD_COST)
    if not shape.get("activation_checkpointing_every"):
        chosen = 1
        for n in (7, 5, 3, 2, 1):
            if fits(peak - AC_SAVES * act / n):
                chosen = n
                break
        add(
            f"checkpoint one block in {chosen}" if chosen > 1 else "checkpoint every block",
            ["trainer.activation_checkpointing=true", f"trainer.activation_checkpointing_every={chosen}"],
            peak - AC_SAVES * act / chosen,
            AC_FULL_COST / chosen,
        )
    bsz = int(shape.get("batch_size") or 1)
    if bsz > 1:
        half = bsz // 2
        accum = int(shape.get("grad_accum_iter") or 1) * 2
        add(
            f"batch {half} x {accum} accumulated micro-batches (same samples per step)",
            [f"dataloader_train.batch_size={half}", f"trainer.grad_accum_iter={accum}"],
            peak - act * (1 - half / bsz),
            0.05,
            "a smaller micro-batch uses the GPU less well: the cost is a guess",
        )
    if on_gpu and states + ema > 0:  # CPU ranks share one host: more of them split it further
        for more in (2, 4, 8, 16, 32, 64):
            if more <= world:
                continue
            new = (states + ema) * world / more + act
            if fits(new) or more == 64:
                note = "FSDP2 shards weights, gradients, AdamW and EMA over more ranks; activations stay"
                if on_gpu and more > gpus_here:
                    note += f" (this machine has {gpus_here} GPU(s): more nodes)"
                add(f"{more} ranks instead of {world}", [f"launch.nproc_per_node={more}"], new, 0.0, note)
                break
    frames = int(shape.get("num_frames") or 0)
    if frames > 1 and act > 0:
        room = per_rank / HEADROOM - (peak - act)
        if room > 0:
            step = int(shape.get("patch_t") or 1)
            new_frames = int(frames * room / act) // step * step
            if 0 < new_frames < frames:
                add(
                    f"{new_frames} frames instead of {frames} (a smaller shape: trains something else)",
                    [f"dataloader_train.dataset.num_frames={new_frames}"],
                    peak - act * (1 - new_frames / frames),
                    new_frames / frames - 1,
                    "activations and step time scale with the tokens per sample",
                )
    # Cheapest first among those that fit; the ones that do not fit alone after them.
    order = {"smaller": 2, "ranks": 1}
    fixes.sort(
        key=lambda f: (not f.fits, next((v for k, v in order.items() if k in f.label), 0), f.step_cost)
    )
    return fixes


def _recompute_options(probe: dict[str, Any]) -> list[tuple[str, str, float, float]]:
    """``(mode, label, share of the measured activations freed, step-time cost)`` of each
    ``trainer.recompute`` mode that frees more than the run's own (the activations a probe measured
    already lack what its mode frees); ``attention``'s cost from the probe's count at its shape."""
    current = probe["shape"].get("recompute") or ""
    saves_now, cost_now = RECOMPUTE_FIXES.get(current, ("", 0.0, 0.0))[1:]
    counted = probe.get("recompute_costs") or {}
    out = []
    for mode, (label, saves, cost) in RECOMPUTE_FIXES.items():
        if saves > saves_now:
            cost = float(counted.get("attention", cost)) if mode == "attention" else cost
            out.append((mode, label, (saves - saves_now) / (1 - saves_now), cost - cost_now))
    return out


def oom_candidates(shape: dict[str, Any]) -> list[Fix]:
    """What to re-probe when the run itself ran out of memory (no peak to derive from)."""
    out = [
        Fix(label, (f"trainer.recompute={mode}",), 0, False, cost, "derived")
        for mode, label, _share, cost in _recompute_options({"shape": shape})
    ]
    if shape.get("ema") and not shape.get("ema_offload"):
        out.append(
            Fix("keep the EMA in pinned host memory", ("model.ema.offload=true",), 0, False, 0.0, "derived")
        )
    if not shape.get("activation_checkpointing_every"):
        sets = ("trainer.activation_checkpointing=true", "trainer.activation_checkpointing_every=1")
        out.append(Fix("checkpoint every block", sets, 0, False, AC_FULL_COST, "derived"))
    return out
