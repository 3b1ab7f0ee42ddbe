"""GPU check of the offloaded EMA (``model.ema.offload``), one process per rank; needs CUDA.

    torchrun --standalone --nproc_per_node=N tests/engine/gpu_ema_check.py OUT_DIR

Builds the tiny network twice through ``cosmos_engine.trainer.build`` (same init): one with its
EMA on the GPU, one with it in pinned host memory (one rank: the plain module; two or more: FSDP2
with the EMA's shards offloaded). Then, on every rank:

- the offloaded build holds less GPU memory, by about the EMA's bytes, and its EMA is pinned;
- after the same weight changes and EMA updates on both, the EMA shards are equal bit for bit
  (the streamed buckets are small here, so the updates cross many of them);
- a DCP save of the offloaded model, loaded back through the resume path of a third build,
  gives the same EMA bit for bit; the ``.pt`` export of it equals the on-GPU EMA gathered.

Prints ``gpu ema check: ok`` on rank 0; any failure raises.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist


def _locals(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.to_local() if hasattr(p, "to_local") else p for p in model.net_ema.parameters()]


def main() -> int:
    from cosmos_engine import checkpoint as ckpt
    from cosmos_engine.compose import compose_config
    from cosmos_engine.ema import EMA
    from cosmos_engine.parallel import init_distributed
    from cosmos_engine.trainer import build

    out = Path(sys.argv[1])
    d = init_distributed()
    rank = d.rank
    tiny = ["experiment=s2mv_text2world_tiny", "model.hidden=256", "model.depth=4"]
    on_gpu, on_host = (compose_config([*tiny, f"model.ema.offload={v}"]) for v in ("false", "true"))
    empty = out / f"empty_{rank}"
    torch.cuda.synchronize()
    m0 = torch.cuda.memory_allocated()
    _, model_a, _, _ = build(on_gpu, d, rank, empty)
    m1 = torch.cuda.memory_allocated()
    _, model_b, opt_b, _ = build(on_host, d, rank, empty)
    m2 = torch.cuda.memory_allocated()
    ema_bytes = sum(t.numel() * t.element_size() for t in _locals(model_a))
    assert all(t.device.type == "cpu" and t.is_pinned() for t in _locals(model_b)), "EMA not pinned on host"
    assert (m1 - m0) - (m2 - m1) >= 0.99 * ema_bytes, (m1 - m0, m2 - m1, ema_bytes)

    ema_a = EMA(model_a, d.device)
    ema_b = EMA(model_b, d.device, bucket_bytes=256 << 10)
    assert ema_b.streamed and not ema_a.streamed and len(ema_b.buckets) > 4, len(ema_b.buckets)
    gen = torch.Generator(device=d.device).manual_seed(rank)
    for step in range(4):
        with torch.no_grad():
            for (_, wa), (_, wb) in zip(ema_a.pairs, ema_b.pairs, strict=True):
                noise = torch.randn(wa.shape, generator=gen, device=d.device)
                wa.add_(noise)
                wb.add_(noise)
        ema_a.update(0.9)
        ema_b.update(0.9)
        ema_a.join(host=True)
        ema_b.join(host=True)
        for ea, eb in zip(_locals(model_a), _locals(model_b), strict=True):
            assert torch.equal(ea.cpu(), eb), f"EMA differs after update {step + 1}"

    ckpt_dir = out / "ckpt"
    ckpt.save(ckpt_dir, 4, model_b, opt_b, {"last_epoch": 4}, rank)
    _, model_c, _, start = build(on_host, d, rank, ckpt_dir)
    assert start == 4, start
    for eb, ec in zip(_locals(model_b), _locals(model_c), strict=True):
        assert ec.is_pinned() and torch.equal(eb, ec), "resumed EMA differs"
    ckpt.export_pt(out / "export", 4, model_c, rank)
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(model_a, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        exported = torch.load(out / "export" / "iter_000000004_ema_model.pt", weights_only=True)
        want = {"net." + k[len("net_ema.") :]: v for k, v in full.items() if k.startswith("net_ema.")}
        assert exported.keys() == want.keys()
        assert all(torch.equal(exported[k], want[k]) for k in want), "exported EMA differs"
        print(f"gpu ema check: ok ({d.world_size} ranks, {len(ema_b.buckets)} buckets)", flush=True)
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("IMAGINAIRE_OUTPUT_ROOT", sys.argv[1] if len(sys.argv) > 1 else ".")
    sys.exit(main())
