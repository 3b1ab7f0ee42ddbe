"""Download throughput of cosmos-tui's resumable, sha256-verified fetch vs. plain hf_hub_download.

Both fetch the same 64 MiB file from HfTestServer on 127.0.0.1 into a fresh HF cache; the ratio
shows the cost of the verification pass and the persistent partial file.
Run: .venv/bin/python tests/benchmarks/bench_hub_download.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.catalog_toml import catalog, model, repo
from support.hf_test_server import HfTestServer

SIZE = 64 * 1024 * 1024
TOML = catalog(
    repo("w", "bench/A", "weights", files=["w.bin"], licence_url="x"),
    model(
        "bench",
        "builtin",
        "predict1-waymo",
        family="b",
        name="b",
        experiments=[],
        uses=["w"],
        min_gpus=0,
        gpu_memory_gb=0,
    ),
)


def main() -> None:
    data = os.urandom(SIZE)
    with HfTestServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.add_repo("bench/A", {"w.bin": data})
        server.add_repo("bench/B", {"w.bin": data})
        os.environ.update(HF_ENDPOINT=server.url, HF_HOME=str(Path(tmp) / "hf"))
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        from huggingface_hub import hf_hub_download

        from cosmos_tui.core import hub
        from cosmos_tui.core.catalog import parse_catalog
        from cosmos_tui.core.hub import settings

        settings.hf()  # import huggingface_hub before timing, as the baseline already did
        model = parse_catalog(TOML).get("bench")
        t0 = time.perf_counter()
        hub.download(hub.plan_download(model))
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        hf_hub_download("bench/B", "w.bin", cache_dir=str(Path(tmp) / "base"), endpoint=server.url)
        base = time.perf_counter() - t0
    mib = SIZE / 1024**2
    print(f"cosmos-tui download (resumable + sha256 verify): {mib / ours:7.1f} MiB/s ({ours:.2f} s)")
    print(f"baseline hf_hub_download:                        {mib / base:7.1f} MiB/s ({base:.2f} s)")
    print(f"ratio ours/baseline time: {ours / base:.2f}x")


if __name__ == "__main__":
    main()
