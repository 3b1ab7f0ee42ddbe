"""Benchmark: checkpoint export speed against the disk's sequential bandwidth, same run, same disk.

    .venv/bin/python tests/benchmarks/bench_export.py [--gb 2] [--dir /tmp]

1. Writes a DCP checkpoint of ``--gb`` GB (half ``net.*``, half ``net_ema.*``, fp32) with
   torch.distributed.checkpoint.
2. Baselines: a sequential copy of the same amount of data: read the checkpoint's shard files in
   8 MiB blocks and write as many bytes as the export writes to a new file, then fsync; once plain
   (``cp`` then ``sync``) and once handing each 32 MiB written to the disk at once
   (``sync_file_range``, the same help the export gets), and once more with the reads in a thread
   of their own, overlapping the writes as the export's do: the fastest is the yardstick.
3. Export (``model.pt`` + ``model_ema_fp32.pt`` + ``model_ema_bf16.pt``, fsynced).
Every timed step runs twice, each after dropping the page cache (``/proc/sys/vm/drop_caches``,
needs root; if that is not possible the script says so and reads come from cache), and the best
of the two counts. Prints the times, the bandwidths and the ratio to the faster baseline (target:
export >= 70%). Cleans up after.
"""

from __future__ import annotations

import argparse
import functools
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


def make_checkpoint(step: Path, gb: float, *, tensor_mib: int = 32) -> int:
    import torch
    import torch.distributed.checkpoint as dcp

    # tensor_mib-sized fp32 tensors, half regular, half EMA
    n_tensors = max(4, int(gb * 1e9 / 2 / (tensor_mib * 2**20)))
    rows = tensor_mib * 2**20 // 4 // 1024
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


def baseline_copy(
    src_files: list[Path], dst: Path, write_bytes: int, *, writeback: bool = False
) -> tuple[float, int]:
    """Sequential read of ``src_files`` and sequential write of ``write_bytes`` bytes with fsync;
    ``writeback``: start writing each 32 MiB to disk as soon as it is written."""
    from cosmos_tui.core.checkpoints.stream_write import start_writeback

    block = bytearray(8 * 2**20)
    view = memoryview(block)
    start = time.perf_counter()
    read = 0
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    written = flushed = 0

    def flush(flushed: int, written: int) -> int:
        if writeback and written - flushed >= 32 << 20:
            start_writeback(fd, flushed, written - flushed)
            return written
        return flushed

    try:
        for path in src_files:
            with open(path, "rb", buffering=0) as f:
                while n := f.readinto(block):
                    read += n
                    if written < write_bytes:
                        written += os.write(fd, view[: min(n, write_bytes - written)])
                        flushed = flush(flushed, written)
        while written < write_bytes:
            written += os.write(fd, view[: min(len(block), write_bytes - written)])
            flushed = flush(flushed, written)
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - start, read


def overlapped_copy(src_files: list[Path], dst: Path, write_bytes: int) -> tuple[float, int]:
    """The copy with reading in a thread of its own (8 MiB blocks, 4 in flight) while the main thread
    writes with writeback every 32 MiB, then fsync: the most a copy gets from this disk."""
    import queue
    import threading

    from cosmos_tui.core.checkpoints.stream_write import start_writeback

    q: queue.Queue = queue.Queue(maxsize=4)
    free: queue.Queue = queue.Queue()
    for _ in range(6):
        free.put(bytearray(8 * 2**20))
    total = [0]

    def reader() -> None:
        for path in src_files:
            with open(path, "rb", buffering=0) as f:
                while True:
                    block = free.get()
                    n = f.readinto(block)
                    if not n:
                        free.put(block)
                        break
                    total[0] += n
                    q.put((block, n))
        q.put(None)

    start = time.perf_counter()
    thread = threading.Thread(target=reader)
    thread.start()
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    written = flushed = 0
    try:
        while (item := q.get()) is not None:
            block, n = item
            if written < write_bytes:
                written += os.write(fd, memoryview(block)[: min(n, write_bytes - written)])
            free.put(block)
            if written - flushed >= 32 << 20:
                start_writeback(fd, flushed, written - flushed)
                flushed = written
        filler = bytearray(8 * 2**20)
        while written < write_bytes:
            written += os.write(fd, memoryview(filler)[: min(len(filler), write_bytes - written)])
        os.fsync(fd)
    finally:
        os.close(fd)
        thread.join()
    return time.perf_counter() - start, total[0]


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

        # Warm-up on a tiny checkpoint: the cache drops also evict torch's code, which the first
        # export after them would page back in from disk; a CLI user's torch is warm after import.
        warm = root / "warm" / "checkpoints"
        make_checkpoint(warm / "iter_000000001", 0.0, tensor_mib=1)
        export_checkpoint(scan_checkpoints(warm)[0], root / "warm" / "out")

        out = root / "export"
        times = []
        for _ in range(2):
            drop_caches()
            result = export_checkpoint(info, out)
            times.append(result.seconds)
            shutil.rmtree(out)
        t_export = min(times)

        baselines = {}
        copies = {
            "plain copy, then fsync": functools.partial(baseline_copy, writeback=False),
            "copy, writeback every 32 MiB": functools.partial(baseline_copy, writeback=True),
            "same, read in a 2nd thread": overlapped_copy,
        }
        for label, copy in copies.items():
            runs = []
            for _ in range(2):
                drop_caches()
                t, read = copy(shards, root / "baseline.bin", result.bytes_written)
                (root / "baseline.bin").unlink()
                runs.append(t)
            baselines[label] = (min(runs), read, runs)

        print(f"checkpoint tensors     : {tensor_bytes / 1e9:.2f} GB in {len(shards)} shard file(s)")
        names = ", ".join(p.name for p in result.files)
        gb_r, gb_w = result.bytes_read / 1e9, result.bytes_written / 1e9
        print(f"export reads / writes  : {gb_r:.2f} GB / {gb_w:.2f} GB ({names})")
        best_bw = 0.0
        for label, (t_base, read, runs) in baselines.items():
            bw = (read + result.bytes_written) / t_base / 1e6
            best_bw = max(best_bw, bw)
            each = ", ".join(f"{r:.2f}" for r in runs)
            print(f"baseline {label:<29}: {t_base:.2f} s ({each}) -> {bw:.0f} MB/s (read+write)")
        exp_bw = (result.bytes_read + result.bytes_written) / t_export / 1e6
        each = ", ".join(f"{r:.2f}" for r in times)
        print(f"export {'':<31}: {t_export:.2f} s ({each}) -> {exp_bw:.0f} MB/s (read+write)")
        print(f"ratio export / faster baseline: {exp_bw / best_bw:.0%}  (target >= 70%)")
        print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
