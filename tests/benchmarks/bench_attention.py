"""SDPA backends on the engine's attention shapes (GPU): which kernel a block's attention should use.

Times forward + backward of ``scaled_dot_product_attention`` in bf16 for the 2B DiT's shapes
(16 heads of 128): self-attention over 8,192 and 16,384 tokens (no mask) and cross-attention of
16,384 tokens to 512 text tokens (a padding mask), once per backend that accepts the shape.
The baseline is PyTorch's default choice in the same run; FLOPs: ``4 * Tq * Tk * d * heads``
forward, 2.5x that for backward.

    python3 tests/benchmarks/bench_attention.py
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

BACKENDS = {
    "default": None,
    "flash": SDPBackend.FLASH_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
}


def _time(fn, reps: int = 10) -> float:
    for _ in range(3):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3 / reps


def case(tq: int, tk: int, masked: bool, heads: int = 16, d: int = 128, chunks: int = 1) -> None:
    """``chunks > 1``: the queries split into that many batch entries, keys and values repeated."""
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(1, heads, tq, d, device="cuda", dtype=torch.bfloat16, generator=g, requires_grad=True)
    k = torch.randn(1, heads, tk, d, device="cuda", dtype=torch.bfloat16, generator=g, requires_grad=True)
    v = torch.randn(1, heads, tk, d, device="cuda", dtype=torch.bfloat16, generator=g, requires_grad=True)
    mask = (torch.arange(tk, device="cuda") < tk - 7)[None, None, None, :] if masked else None
    flops = 4 * tq * tk * d * heads * 3.5
    base = None
    label = f"{tq:>6} x {tk:<6} {'mask' if masked else '    '} {f'{chunks} chunks' if chunks > 1 else '':<9}"

    def attention() -> torch.Tensor:
        if chunks == 1:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        qc = q.view(heads, chunks, tq // chunks, d).transpose(0, 1)
        kc, vc = (t.expand(chunks, -1, -1, -1) for t in (k, v))
        return F.scaled_dot_product_attention(qc, kc, vc, attn_mask=mask)

    for name, backend in BACKENDS.items() if chunks == 1 else [("default", None)]:

        def step(backend: SDPBackend | None = backend) -> None:
            if backend is None:
                out = attention()
            else:
                with sdpa_kernel([backend]):
                    out = attention()
            out.sum().backward()

        try:
            t = _time(step)
        except RuntimeError as exc:
            print(f"  {label} {name:<9} not available: {str(exc)[:60]}")
            continue
        base = base or t
        print(
            f"  {label} {name:<9} {t * 1e3:7.2f} ms  "
            f"{flops / t / 1e12:6.0f} TFLOP/s  {base / t:5.2f}x default"
        )


def main() -> int:
    if not torch.cuda.is_available():
        print("error: needs a CUDA GPU.", file=sys.stderr)
        return 1
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}; fwd+bwd, bf16, 16 heads x 128")
    case(8192, 8192, False)
    case(16384, 16384, False)
    for tq in (8192, 16384):
        for chunks in (1, 4, 8, 16, 32):
            case(tq, 512, True, chunks=chunks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
