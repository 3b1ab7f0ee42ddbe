"""Builtin engine on GPUs: full training step vs the bare-model anchor, MFU, scaling, checkpoints.

One command measures, in the same run and on the same shapes (2B-shaped DiT: hidden 2048, 28
blocks, 16 heads, cross-attention to 512 x 1024 text tokens; 8,192 and 16,384 tokens per sample):

- the device's ceilings: bf16 matmul TFLOP/s (8192^3, CUDA events, random data), copy GB/s
  between the GPU and pinned host memory each way, and the disk's sequential write and read GB/s
  (fsync; page cache dropped for the read);
- the bare-model step (``gpu_measure.py bare``: plain module, bf16 autocast, SDPA, fused AdamW, no
  data loading, no EMA, no sharding) and the engine's full iteration (``gpu_measure.py engine``:
  real DataLoader decoding synthetic mp4 clips in workers, FSDP2, EMA, grad clipping, metrics), each
  eager, compiled, compiled with ``trainer.recompute`` (``gelu``, ``elementwise``) and with
  activation checkpointing (and the engine compiled with its EMA offloaded to host memory); step
  time, tokens/s, MFU (FLOPs of
  ``cosmos_engine.model.flops_per_sample``, attention included, over the matmul peak measured here),
  peak memory, and the engine/bare throughput ratio (against the bare step of the same mode, eager
  or compiled, without recompute);
- the time a DCP save of the full training state blocks training (the first async save, a later
  one, the steps while the host buffers are pinned in the background; sync) and a load, against
  the disk bandwidth;
- with ``--scaling``: FSDP2 weak scaling on 1, 2 and 4 GPUs (torchrun; efficiency = per-GPU
  tokens/s at N over at 1).

Each measurement runs in its own process (``gpu_measure.py``). Results go to ``--out`` (default
``$OUT`` or ``bench_gpu_out``) as ``bench_gpu.json`` and ``bench_gpu.txt``; the table is printed last.

    python tests/benchmarks/bench_gpu.py                 # one GPU (about 8 minutes on an H100)
    python tests/benchmarks/bench_gpu.py --scaling       # weak scaling on the visible GPUs
    .venv/bin/python tests/benchmarks/bench_gpu.py --cpu-smoke   # the same code on CPU, tiny shapes
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


_INSTALLED = importlib.util.find_spec("cosmos_engine") is not None
LONG = {
    32768: ["compile_elementwise", "compile_attention"],
    65536: ["compile_attention", "compile_ac"],
    131072: ["compile_attention"],
}
"""``--long``: the long shapes and the memory policies that fit them on one H200 (the bare model
at the same policy is the anchor: ``vs policy``)."""


def _env() -> dict[str, str]:
    """Child environment: ``cosmos_engine`` importable from the checkout (a link to ``engine/``)."""
    env = dict(os.environ)
    if not _INSTALLED:
        shim = Path(tempfile.gettempdir()) / "cosmos_engine_shim"
        shim.mkdir(exist_ok=True)
        link = shim / "cosmos_engine"
        if not link.exists():
            link.symlink_to(REPO / "engine")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim), str(REPO), env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    for key in ("NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS"):
        env[key] = "0" if key == "NCCL_NVLS_ENABLE" else "1"  # never NVLink multicast
    return env


def matmul_peak() -> float:
    """bf16 matmul FLOP/s: median of 20 timed 8192^3 products on random data after warm-up."""
    import torch

    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(5):
        a @ b
    times = []
    for _ in range(20):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    return 2 * n**3 / times[len(times) // 2]


def copy_bandwidth(to_host: bool) -> float:
    """Copy GB/s between the GPU and pinned host memory, one way (1 GiB, median of 5)."""
    import torch

    gpu = torch.randn(256 * 2**20, device="cuda")
    host = torch.empty(gpu.shape, pin_memory=True)
    src, dst = (gpu, host) if to_host else (host, gpu)
    times = []
    for _ in range(6):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        dst.copy_(src, non_blocking=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    times = sorted(times[1:])
    return src.numel() * 4 / times[len(times) // 2] / 1e9


def disk_bandwidth(folder: Path, gib: int) -> dict[str, float]:
    """Sequential write (with fsync) and read (page cache dropped) GB/s of one file of ``gib`` GiB."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "disk_probe.bin"
    block = os.urandom(64 * 2**20)
    t0 = time.perf_counter()
    with open(path, "wb") as f:
        for _ in range(gib * 16):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    write = gib * 2**30 / (time.perf_counter() - t0) / 1e9
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.read(64 * 2**20):
            pass
    read = gib * 2**30 / (time.perf_counter() - t0) / 1e9
    path.unlink()
    return {"disk_write_gbs": write, "disk_read_gbs": read}


def flops_and_tokens(tokens: int, experiment: str) -> tuple[float, int]:
    """Training FLOPs per sample (the engine's own count) and tokens per sample of a bench shape."""
    sys.path[:0] = [p for p in _env().get("PYTHONPATH", "").split(os.pathsep) if p]
    from cosmos_engine.compose import compose_config
    from cosmos_engine.info import describe

    sys.path.insert(0, str(HERE))
    from gpu_measure import SHAPES

    views, frames, size = SHAPES[tokens]
    facts = describe(
        [
            f"experiment={experiment}",
            f"dataloader_train.dataset.num_frames={frames}",
            f"dataloader_train.dataset.video_size=[{size[0]},{size[1]}]",
            f"dataloader_train.dataset.sample_n_views={views}",
        ]
    )
    compose_config([f"experiment={experiment}"])  # fail early on a bad experiment name
    return float(facts["train_flops_per_sample"]), int(facts["tokens_per_sample"])


def run_measure(argv: list[str], out_dir: Path, name: str, timeout: float, nproc: int = 1) -> dict[str, Any]:
    """Run one ``gpu_measure.py`` in its own process (torchrun when ``nproc > 1``)."""
    out = out_dir / "runs" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    script = str(HERE / "gpu_measure.py")
    if nproc > 1 or "--torchrun" in argv:
        argv = [a for a in argv if a != "--torchrun"]
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            script,
        ]
    else:
        cmd = [sys.executable, script]
    cmd += [*argv, "--out", str(out)]
    t0 = time.perf_counter()
    print(f"[bench_gpu] {name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f}s", "wall_s": time.perf_counter() - t0}
    (out.parent / f"{name}.log").write_text(proc.stdout + proc.stderr)
    if out.is_file():
        return json.loads(out.read_text())
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"exit {proc.returncode}: {' | '.join(tail)}"[:400], "wall_s": time.perf_counter() - t0}


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table(results: dict[str, Any]) -> str:
    """The printed summary."""
    peaks = (
        f" (8192^3, the higher of {results['peak_tflops_start']:.0f} before and "
        f"{results['peak_tflops_end']:.0f} after the runs)"
        if "peak_tflops_end" in results
        else ""
    )
    lines = [
        f"device: {results['device']}  torch {results['torch']}  "
        f"bf16 matmul peak {results['peak_tflops']:.0f} TFLOP/s{peaks}",
    ]
    if "d2h_gbs" in results and "disk_write_gbs" in results:
        lines.append(
            f"pinned copies D2H {results['d2h_gbs']:.1f} / H2D {results.get('h2d_gbs', 0):.1f} GB/s; "
            f"disk write {results['disk_write_gbs']:.2f} GB/s, "
            f"read {results['disk_read_gbs']:.2f} GB/s"
        )
    lines.append("")
    head = (
        f"{'what':<8} {'tokens':>6} {'variant':<21} {'step s':>7} {'tokens/s':>9} {'MFU':>6} "
        f"{'mem GB':>7} {'vs bare':>8} {'vs policy':>9}"
    )
    lines += [head, "-" * len(head)]
    fits = []
    for row in results["runs"]:
        if row.get("error"):
            lines.append(f"{row['mode']:<8} {row['tokens']:>6} {row['variant']:<21} {row['error'][:60]}")
            continue
        ratio, same = row.get("vs_bare"), row.get("vs_bare_policy")
        lines.append(
            f"{row['mode']:<8} {row['tokens']:>6} {row['variant']:<21} {row['step_s']:>7.3f} "
            f"{row['tokens_per_s']:>9,.0f} {row['mfu'] * 100:>5.1f}% {row['peak_mem_gb']:>7.1f} "
            f"{_fmt(ratio, '>7.3f') + 'x' if ratio else '       -'} "
            f"{_fmt(same, '>8.3f') + 'x' if same else '        -'}"
            + (f"  ({row['policy']})" if row.get("policy") else "")
        )
        if row["mode"] == "fit" and "peak_error" in row:
            fits.append(row)
    if fits:
        lines += ["", "fit probe (2 steps, synthetic batches) vs the engine's real run at the same options:"]
        for row in fits:
            lines.append(
                f"  {row['tokens']:>6} {row['variant']:<21} peak {row['peak_mem_gb']:.1f} GB "
                f"({row['peak_error'] * 100:+.1f}%), s/iter {row['step_s']:.3f} "
                f"({row['step_error'] * 100:+.1f}%)"
            )
    ck = results.get("ckpt")
    if ck and not ck.get("error"):
        gb = ck["bytes"] / 1e9
        lines += [
            "",
            f"checkpoint (full training state {gb:.1f} GB, step {ck['step_s']:.3f} s): "
            f"async save blocks {ck['async_first_blocking_s']:.2f} s the first time / "
            f"{ck['async_warm_blocking_s']:.2f} s later (the save call itself "
            f"{_fmt(ck.get('async_first_queued_s'), '.2f')} / "
            f"{_fmt(ck.get('async_warm_queued_s'), '.2f')} s; "
            "host buffers pinned in the background "
            f"meanwhile: {ck['pin_steps_during']} steps at {_fmt(ck['pin_step_s_during'], '.3f')} s); "
            f"background write {ck['async_warm_write_s']:.1f} s "
            f"({gb / ck['async_warm_write_s']:.2f} GB/s); sync save {ck['sync_save_s']:.1f} s "
            f"({gb / ck['sync_save_s']:.2f} GB/s); load {ck['load_s']:.1f} s ({gb / ck['load_s']:.2f} GB/s)",
        ]
    elif ck:
        lines += ["", f"checkpoint: {ck['error']}"]
    for row in results.get("scaling", []):
        if row.get("error"):
            lines.append(f"scaling {row['world_size']} GPU: {row['error'][:100]}")
        else:
            lines.append(
                f"scaling {row['world_size']} GPU: step {row['step_s']:.3f} s, per-GPU tokens/s "
                f"{row['tokens_per_s_per_gpu']:,.0f}, MFU {row['mfu'] * 100:.1f}%, efficiency "
                f"{row['efficiency'] * 100:.1f}%"
            )
    return "\n".join(lines)


def _finish(row: dict[str, Any], flops: float, tokens: int, peak: float, world: int = 1) -> dict[str, Any]:
    if not row.get("error"):
        row["tokens_per_s"] = tokens * world / row["step_s"]
        row["mfu"] = flops / row["step_s"] / peak
    return row


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny model and shapes on CPU")
    parser.add_argument("--scaling", action="store_true", help="weak scaling on 1, 2, 4 GPUs only")
    parser.add_argument("--out", default=os.environ.get("OUT") or "bench_gpu_out")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated run names to keep (debugging)")
    parser.add_argument("--disk-gib", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="a kernel profile of each run in --out")
    parser.add_argument("--sac-every", type=int, default=3, help="compile_sac checkpoints one block in N")
    parser.add_argument("--scaling-variant", default="compile")
    parser.add_argument("--scaling-tokens", type=int, default=8192)
    parser.add_argument("--shapes", default="8192,16384", help="tokens per sample of the standard rows")
    parser.add_argument("--variants", default="", help="comma-separated variants instead of each shape's")
    parser.add_argument("--long", action="store_true", help=f"also the long shapes: {LONG}")
    parser.add_argument("--long-steps", type=int, default=3, help="timed steps at 32,768 tokens and more")
    parser.add_argument("--long-warmup", type=int, default=2)
    parser.add_argument(
        "--fit", action="store_true", help="the fit probe's prediction beside each engine row"
    )
    parser.add_argument("--no-ckpt", action="store_true", help="skip the checkpoint timings")
    parser.add_argument("--modes", default="bare,engine", help="which of bare,engine to run per variant")
    parser.add_argument("--no-disk", action="store_true", help="skip the disk bandwidth")
    args = parser.parse_args()
    import torch

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_gpu_"))
    os.environ.setdefault("IMAGINAIRE_OUTPUT_ROOT", str(work / "jobs"))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(work / "inductor"))
    smoke = args.cpu_smoke
    if not smoke and not torch.cuda.is_available():
        print("error: no CUDA device; run with --cpu-smoke on a machine without GPUs.", file=sys.stderr)
        return 1
    experiment = "s2mv_text2world_tiny" if smoke else "s2mv_text2world_2b"
    known = {t for t, _ in _known_shapes()}
    items = [t.strip() for t in args.shapes.split(",") if t.strip()]
    asked = [int(t) for t in items if t.isdigit()]
    if not smoke and (
        (not items and not args.long) or any(not t.isdigit() or int(t) not in known for t in items)
    ):
        print(
            f"error: --shapes takes tokens per sample from {sorted(known)}; got {args.shapes!r}.",
            file=sys.stderr,
        )
        return 2
    shapes = [64] if smoke else asked
    if args.long and not smoke:
        shapes += [t for t in LONG if t not in shapes]
    results: dict[str, Any] = {
        "device": "cpu" if smoke else torch.cuda.get_device_name(0),
        "gpus": 0 if smoke else torch.cuda.device_count(),
        "torch": torch.__version__,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "runs": [],
    }
    results["peak_tflops"] = 1.0 if smoke else matmul_peak() / 1e12
    results["peak_tflops_start"] = results["peak_tflops"]
    peak = results["peak_tflops"] * 1e12
    if not smoke and not args.scaling:
        results["d2h_gbs"] = copy_bandwidth(to_host=True)
        results["h2d_gbs"] = copy_bandwidth(to_host=False)
    if not args.scaling and not args.no_disk:
        results.update(disk_bandwidth(work / "disk", 1 if smoke else args.disk_gib))

    sys.path[:0] = [str(REPO)]
    from cosmos_tui.core.datasets.synth import synthesize

    size = (64, 64) if smoke else (512, 512)
    frames = max(SH[1] for SH in _shapes(shapes)) + 4
    t0 = time.perf_counter()
    data = synthesize(work / "waymo", "predict1-waymo", clips=4, frames=frames, size=size, workers=8)
    results["synth_s"] = time.perf_counter() - t0
    common = ["--experiment", experiment, "--steps", str(2 if smoke else args.steps)]
    common += ["--warmup", "1" if smoke else "3", "--workers", "2" if smoke else "8"]
    timeout = 120 if smoke else 240
    keep = set(filter(None, args.only.split(",")))

    def save() -> None:
        (out_dir / "bench_gpu.json").write_text(json.dumps(results, indent=1))
        (out_dir / "bench_gpu.txt").write_text(table(results) + "\n")

    if args.scaling:
        flops, tok = flops_and_tokens(64 if smoke else args.scaling_tokens, experiment)
        results["scaling"] = []
        gpus = [1, 2] if smoke else [n for n in (1, 2, 4) if n <= torch.cuda.device_count()]
        for n in gpus:
            row = run_measure(
                [
                    "engine",
                    "--tokens",
                    str(64 if smoke else args.scaling_tokens),
                    "--variant",
                    "eager" if smoke else args.scaling_variant,
                    "--data",
                    str(data),
                    *common,
                    "--torchrun",
                ],
                work,
                f"scale_{n}",
                timeout * 2,
                nproc=n,
            )
            row["world_size"] = n
            if not row.get("error"):
                row["tokens_per_s_per_gpu"] = tok / row["step_s"]
                row["mfu"] = flops / row["step_s"] / peak
                base = results["scaling"][0] if results["scaling"] else row
                row["efficiency"] = row["tokens_per_s_per_gpu"] / base.get(
                    "tokens_per_s_per_gpu", float("nan")
                )
            results["scaling"].append(row)
            save()
    else:
        plan = []
        for tokens in shapes:
            variants = (
                ["eager", "ac", "elementwise", "attention"]
                if smoke
                else LONG.get(tokens)
                or ["eager", "compile", "compile_gelu", "compile_elementwise", "compile_sac", "compile_ac"]
            )
            if args.variants:
                variants = args.variants.split(",")
            for variant in variants:
                plan += [(mode, tokens, variant) for mode in args.modes.split(",")]
                if args.fit:
                    plan.append(("fit", tokens, variant))
            if not smoke and not args.variants and tokens not in LONG:  # no EMA in the bare model
                plan.append(("engine", tokens, "compile_offload"))
        for mode, tokens, variant in plan:
            name = f"{mode}_{tokens}_{variant}"
            if keep and name not in keep:
                continue
            flops, tok = flops_and_tokens(tokens, experiment)
            argv = [mode, "--tokens", str(tokens), "--variant", variant, "--sac-every", str(args.sac_every)]
            if tokens >= 32768 and not smoke:
                argv += ["--experiment", experiment, "--steps", str(args.long_steps)]
                argv += ["--warmup", str(args.long_warmup), "--workers", "8"]
            else:
                argv += common
            if args.profile:
                argv += ["--profile", str(out_dir / f"{name}.prof.txt")]
            if mode == "engine":
                argv += ["--data", str(data)]
            limit = timeout * max(1, tokens // 16384) if not smoke else timeout
            row = _finish(run_measure(argv, work, name, limit), flops, tok, peak)
            shown = f"{variant}/{args.sac_every}" if "sac" in variant else variant
            row.update(mode=mode, tokens=tokens, variant=shown, flops_per_sample=flops)
            anchor = "compile" if variant.startswith("compile") else "eager"
            bare = next(
                (
                    r
                    for r in results["runs"]
                    if r["mode"] == "bare"
                    and r["tokens"] == tokens
                    and r["variant"] == anchor
                    and not r.get("error")
                ),
                None,
            )
            if mode == "engine" and bare and not row.get("error"):
                row["vs_bare"] = row["tokens_per_s"] / bare["tokens_per_s"]
            same = _row(results, "bare", tokens, shown)
            if mode == "engine" and same and not row.get("error"):
                row["vs_bare_policy"] = row["tokens_per_s"] / same["tokens_per_s"]
            real = _row(results, "engine", tokens, shown)
            if mode == "fit" and real and not row.get("error"):
                row["peak_error"] = row["peak_mem_gb"] / real["peak_mem_gb"] - 1
                row["step_error"] = row["step_s"] / real["step_s"] - 1
            results["runs"].append(row)
            save()
        if (not keep or "ckpt" in keep) and not args.no_ckpt:
            results["ckpt"] = run_measure(
                ["ckpt", "--tokens", str(shapes[0]), "--variant", "eager", "--data", str(data), *common],
                work,
                "ckpt",
                timeout * 2,
            )
    if not smoke:  # the clock varies between leases and over a run: MFU is over the higher of two
        end = matmul_peak() / 1e12
        results["peak_tflops_end"] = end
        if end > results["peak_tflops"]:
            for row in [*results["runs"], *results.get("scaling", [])]:
                if row.get("mfu") is not None:
                    row["mfu"] *= results["peak_tflops"] / end
            results["peak_tflops"] = end
    save()
    print(table(results))
    return 0


def _row(results: dict[str, Any], mode: str, tokens: int, variant: str) -> dict[str, Any] | None:
    """The measured (error-free) row of ``mode`` at ``tokens`` and ``variant``, if any."""
    return next(
        (
            r
            for r in results["runs"]
            if (r["mode"], r["tokens"], r["variant"]) == (mode, tokens, variant) and not r.get("error")
        ),
        None,
    )


def _known_shapes() -> list[tuple[int, Any]]:
    sys.path.insert(0, str(HERE))
    from gpu_measure import SHAPES

    return [(t, shape) for t, shape in SHAPES.items() if t >= 8192]


def _shapes(tokens: list[int]) -> list[tuple[int, int, list[int]]]:
    sys.path.insert(0, str(HERE))
    from gpu_measure import SHAPES

    return [SHAPES[t] for t in tokens]


if __name__ == "__main__":
    sys.exit(main())
