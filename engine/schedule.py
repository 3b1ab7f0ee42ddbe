"""Learning-rate schedule: linear warm-up, then cosine, linear or constant to ``f_min`` x peak."""

from __future__ import annotations

import math
from collections.abc import Callable

from cosmos_engine.config import SchedulerConfig, first


def lr_lambda(cfg: SchedulerConfig, max_iter: int) -> Callable[[int], float]:
    """The multiplier of the peak learning rate at each optimizer step."""
    warm = int(first(cfg.warm_up_steps))
    cycle = int(first(cfg.cycle_lengths)) or max_iter
    f_min = float(first(cfg.f_min))

    def factor(step: int) -> float:
        if warm > 0 and step < warm:
            return (step + 1) / warm
        if cfg.kind == "constant":
            return 1.0
        progress = min(1.0, (step - warm) / max(1, cycle - warm))
        if cfg.kind == "linear":
            return 1.0 - (1.0 - f_min) * progress
        return f_min + (1.0 - f_min) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor
