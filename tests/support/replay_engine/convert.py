"""ReplayConverter: a test double of upstream ``scripts/convert_distcp_to_pt.py``
(``python scripts/convert_distcp_to_pt.py ITER/model ITER``): DCP -> ``model.pt`` (every key),
``model_ema_fp32.pt`` and ``model_ema_bf16.pt`` (``net_ema.*`` renamed ``net.*``), with
``torch.distributed.checkpoint.format_utils.dcp_to_torch_save`` as upstream does."""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    import torch
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    input_dir, output_dir = (sys.argv[1:] if argv is None else argv)[:2]
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    dcp_to_torch_save(input_dir, out / "model.pt")
    state = torch.load(out / "model.pt", weights_only=True)
    ema = {k.replace("net_ema.", "net.", 1): v for k, v in state.items() if k.startswith("net_ema.")}
    if not ema:
        raise ValueError("Model doesn't contain EMA weights")
    torch.save({k: v.float() for k, v in ema.items()}, out / "model_ema_fp32.pt")
    torch.save({k: v.to(torch.bfloat16) for k, v in ema.items()}, out / "model_ema_bf16.pt")
