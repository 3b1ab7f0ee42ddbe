"""Helpers that write real checkpoints: DCP saves through torch.distributed.checkpoint (in process,
no process group) and Predict1 ``.pt`` sets through torch.save."""

from __future__ import annotations

import warnings
from pathlib import Path


def tiny_state(seed: int = 0, *, ema: bool = True) -> dict:
    """A small model state dict with upstream key names (``net.*`` and, with EMA, ``net_ema.*``)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    reg = {
        "net.blocks.0.weight": torch.randn(8, 6, generator=g),
        "net.blocks.0.bias": torch.randn(8, generator=g),
        "net.head.weight": torch.randn(3, 8, generator=g),
        "net.pos_emb": torch.randn(2, 4, 5, generator=g).to(torch.bfloat16),
    }
    state = dict(reg)
    if ema:
        state.update({k.replace("net.", "net_ema.", 1): v * 0.5 for k, v in reg.items()})
    return state


def write_dcp_checkpoint(
    checkpoints_dir: Path,
    iteration: int,
    state: dict | None = None,
    *,
    parts: tuple[str, ...] = ("model", "optim", "scheduler", "trainer"),
    latest: bool = True,
) -> Path:
    """Save one DCP checkpoint ``iter_%09d`` with the given parts; move the pointer if ``latest``."""
    import torch
    import torch.distributed.checkpoint as dcp

    step = Path(checkpoints_dir) / f"iter_{iteration:09d}"
    state = tiny_state(iteration) if state is None else state
    payloads = {
        "model": state,
        "optim": {"state.step": torch.tensor(float(iteration)), "lr": 1e-4},
        "scheduler": {"last_epoch": iteration},
        "trainer": {"iteration": iteration},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for part in parts:
            dcp.save(payloads[part], checkpoint_id=str(step / part))
    if latest:
        (Path(checkpoints_dir) / "latest_checkpoint.txt").write_text(f"iter_{iteration:09d}\n")
    return step


def write_pt_set(checkpoints_dir: Path, iteration: int, *, ema: bool = True, latest: bool = True) -> Path:
    """Write a Predict1 ``.pt`` set (trainer, reg model, EMA model, optimizer) like upstream's FSDP
    checkpointer does."""
    import torch

    checkpoints_dir = Path(checkpoints_dir)
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    stem = checkpoints_dir / f"iter_{iteration:09d}"
    state = tiny_state(iteration, ema=False)
    torch.save(state, f"{stem}_reg_model.pt")
    if ema:
        torch.save({k: v * 0.5 for k, v in state.items()}, f"{stem}_ema_model.pt")
    torch.save({"optimizer": {"state": {}}, "scheduler": {"last_epoch": iteration}}, f"{stem}_optim.pt")
    torch.save({"iteration": iteration}, f"{stem}.pt")
    if latest:
        (checkpoints_dir / "latest_checkpoint.txt").write_text(f"iter_{iteration:09d}.pt\n")
    return Path(f"{stem}.pt")
