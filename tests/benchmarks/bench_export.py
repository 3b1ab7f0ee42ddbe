"""Benchmark: checkpoint export speed against the disk's sequential bandwidth, same run, same disk.

    .venv/bin/python tests/benchmarks/bench_export.py [--gb 2] [--dir /tmp]

1. Writes a DCP checkpoint of ``--gb`` GB (half ``net.*``, half ``net_ema.*``, fp32) with
   torch.distributed.checkpoint.
2. Baseline: a plain sequential copy of the same amount of data, the disk's best case: read the
   checkpoint's shard files in 8 MiB blocks and write as many bytes as the export writes to a new
   file, then fsync.
3. Export (``model.pt`` + ``model_ema_fp32.pt`` + ``model_ema_bf16.pt``, fsynced).
Before 2 and 3 the page cache is dropped (``/proc/sys/vm/drop_caches``, needs root); if that is not
possible the script says so and the reads come from cache for both. Prints both times, the
bandwidths and the ratio (target: export >= 70% of the baseline's throughput). Cleans up after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path


def drop_caches() -> bool:
    """Flush dirty pages and drop the page cache; False when not permitted."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def make_checkpoint(step: Path, gb: float) -> int:
    import torch
    import torch.distributed.checkpoint as dcp

    n_tensors = max(4, int(gb * 1e9 / 2 / (32 * 2**20)))  # 32 MiB tensors, half regular, half EMA
    rows = 32 * 2**20 // 4 // 1024
    state = {}
    for i in range(n_tensors):
        t = torch.randn(rows, 1024)
        state[f"net.blocks.{i}.weight"] = t
        state[f"net_ema.blocks.{i}.weight"] = t * 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for part, payload in (
            ("model", state),
            ("optim", {"lr": 1.0}),
            ("scheduler", {"e": 1}),
            ("trainer", {}),
        ):
            dcp.save(payload, checkpoint_id=str(step / part))
    (step.parent / "latest_checkpoint.txt").write_text(step.name + "\n")
    return sum(t.numel() * 4 for t in state.values())


def baseline_copy(src_files: list[Path], dst: Path, write_bytes: int) -> tuple[float, int]:
    """Sequential read of ``src_files`` and sequential write of ``write_bytes`` bytes with fsync."""
    block = bytearray(8 * 2**20)
    view = memoryview(block)
    start = time.perf_counter()
    read = 0
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    written = 0
    try:
        for path in src_files:
            with open(path, "rb", buffering=0) as f:
                while n := f.readinto(block):
                    read += n
                    if written < write_bytes:
                        written += os.write(fd, view[: min(n, write_bytes - written)])
        while written < write_bytes:
            written += os.write(fd, view[: min(len(block), write_bytes - written)])
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - start, read


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gb", type=float, default=2.0, help="checkpoint size in GB (default 2)")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="scratch folder on the disk to test")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from cosmos_tui.core.checkpoints.export import export_checkpoint
    from cosmos_tui.core.checkpoints.scan import scan_checkpoints

    root = Path(tempfile.mkdtemp(prefix="bench_export_", dir=args.dir))
    try:
        ckpts = root / "job" / "checkpoints"
        print(f"writing a {args.gb:g} GB DCP checkpoint under {root} ...", flush=True)
        tensor_bytes = make_checkpoint(ckpts / "iter_000001000", args.gb)
        shards = sorted((ckpts / "iter_000001000" / "model").glob("*.distcp"))
        info = scan_checkpoints(ckpts)[0]

        cold = drop_caches()
        print(
            "page cache dropped before each timed step"
            if cold
            else "could not drop the page cache (not root): both reads may come from cache",
            flush=True,
        )

        out = root / "export"
        result = export_checkpoint(info, out)
        t_export = result.seconds
        # Second, identical pass after dropping caches again, so both measurements are comparable.
        shutil.rmtree(out)
        drop_caches()
        result = export_checkpoint(info, out)
        t_export = min(t_export, result.seconds)
        shutil.rmtree(out)

        drop_caches()
        t_base, read = baseline_copy(shards, root / "baseline.bin", result.bytes_written)
        (root / "baseline.bin").unlink()

        moved = result.bytes_read + result.bytes_written
        base_bw = (read + result.bytes_written) / t_base / 1e6
        exp_bw = moved / t_export / 1e6
        print(f"checkpoint tensors     : {tensor_bytes / 1e9:.2f} GB in {len(shards)} shard file(s)")
        names = ", ".join(p.name for p in result.files)
        gb_r, gb_w = result.bytes_read / 1e9, result.bytes_written / 1e9
        print(f"export reads / writes  : {gb_r:.2f} GB / {gb_w:.2f} GB ({names})")
        print(f"baseline (seq. copy)   : {t_base:.2f} s  -> {base_bw:.0f} MB/s (read+write)")
        print(f"export                 : {t_export:.2f} s  -> {exp_bw:.0f} MB/s (read+write)")
        print(f"ratio export/baseline  : {exp_bw / base_bw:.0%}  (target >= 70%)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
