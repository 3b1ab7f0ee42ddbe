"""The rectified-flow training objective.

A clean clip ``x0`` and Gaussian noise ``eps`` are mixed at a flow time ``t`` drawn from a
logit-normal distribution: ``x_t = (1 - t) x0 + t eps``; the network predicts the velocity
``eps - x0`` and the loss is its mean squared error. For Video2World the first view is given clean
(``cond_mask = 1``, its noise removed) and left out of the loss, like upstream's ``first_cam``
conditioning.

Datasets deliver pixels as ``uint8`` (a quarter of the bytes of float through worker shared
memory, pinned buffers and the host-to-device copy); :func:`pixels` maps them to [-1, 1] on the
device, inside the loss, so float batches (tests, benchmarks) work the same.
"""

from __future__ import annotations

import torch
from torch import nn


def pixels(x: torch.Tensor) -> torch.Tensor:
    """``uint8`` frames as float in [-1, 1]; float frames (already in [-1, 1]) as they are."""
    return x.float() / 127.5 - 1.0 if x.dtype == torch.uint8 else x


def flow_loss(
    net: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator, task: str
) -> torch.Tensor:
    """Mean squared velocity error over the views that are generated."""
    x0 = pixels(batch["video"])
    b, v = x0.shape[:2]
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    t = torch.sigmoid(torch.randn(b, generator=generator, device=x0.device))
    tt = t.view(b, 1, 1, 1, 1, 1).to(x0.dtype)
    x_t = (1 - tt) * x0 + tt * eps
    control = batch.get("control")
    control = pixels(control) if control is not None else None
    cond_mask = torch.zeros(b, v, device=x0.device)
    if task == "video2world":
        cond_mask[:, 0] = 1.0
        x_t = torch.cat([x0[:, :1], x_t[:, 1:]], dim=1)
    pred = net(x_t, t, batch["text"], batch["text_mask"], batch["view_ids"], cond_mask, control)
    target = eps - x0
    weight = (1.0 - cond_mask).view(b, v, 1, 1, 1, 1)
    err = (pred.float() - target.float()).pow(2) * weight
    per_view = x0[0, 0].numel()
    return err.sum() / (weight.sum() * per_view)
