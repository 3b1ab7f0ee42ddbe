"""The EMA update: on the device, and streamed from host memory in buckets (``model.ema.offload``).

On CPU the streamed path runs the same copy-in, lerp, copy-back code without CUDA streams, so its
bucketing and run merging are checked here against the plain foreach lerp. The GPU checks
(pinned memory, freed GPU memory, FSDP2's offloaded shards, DCP resume, ``.pt`` export) are in
``gpu_ema_check.py``, run by the last tests when CUDA is there.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cosmos_engine.compose import compose_config
from cosmos_engine.ema import EMA, offload_to_host
from cosmos_engine.model import VideoDiT
from cosmos_engine.parallel import DiffusionModel
from engine_runs import TINY, TORCHRUN, engine_env, python_cmd, run

HERE = Path(__file__).resolve().parent


def _model(offloaded: bool) -> DiffusionModel:
    cfg = compose_config(["experiment=s2mv_text2world_tiny"])
    torch.manual_seed(0)
    net = VideoDiT(cfg.model)
    net.init_weights()
    ema = copy.deepcopy(net)
    if offloaded:
        offload_to_host(ema)
    return DiffusionModel(net, ema)


def _perturb(model: DiffusionModel, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.net.parameters():
            p.add_(torch.randn(p.shape, generator=gen))


@pytest.mark.parametrize("bucket_bytes", [4 << 10, 256 << 10, 1 << 30])
def test_streamed_update_equals_the_plain_lerp_bit_for_bit(bucket_bytes: int) -> None:
    plain, streamed = _model(False), _model(True)
    ema_plain = EMA(plain, torch.device("cpu"))
    ema_streamed = EMA(streamed, torch.device("cpu"), streamed=True, bucket_bytes=bucket_bytes)
    assert not ema_plain.streamed and ema_streamed.streamed
    for step in range(3):
        _perturb(plain, step)
        _perturb(streamed, step)
        ema_plain.update(0.9)
        ema_streamed.update(0.9)
        for a, b in zip(plain.net_ema.parameters(), streamed.net_ema.parameters(), strict=True):
            assert torch.equal(a, b)
    pairs = zip(plain.net_ema.parameters(), plain.net.parameters(), strict=True)
    moved = [not torch.equal(a, b) for a, b in pairs]
    assert all(moved)  # the EMA lags the weights: the check above compared real updates


def test_buckets_cover_every_parameter_once_and_merge_adjacent_ones() -> None:
    model = _model(True)
    params = list(model.net_ema.parameters())
    ema = EMA(model, torch.device("cpu"), streamed=True, bucket_bytes=64 << 10)
    views = [v for b in ema.buckets for v in b.views]
    assert [shape for _, _, shape in views] == [p.shape for p in params]
    runs = [r for b in ema.buckets for r in b.runs]
    assert len(runs) == len(ema.buckets) < len(params)  # one flat host buffer: one copy per bucket
    assert sum(host.numel() for host, _ in runs) >= sum(p.numel() * p.element_size() for p in params)
    biggest = max(p.numel() * p.element_size() for p in params)
    assert max(b.nbytes for b in ema.buckets) <= max(64 << 10, biggest) + 16 * len(params)
    assert ema.host_bytes == sum(p.numel() * p.element_size() for p in params)


def test_offload_keeps_the_values_in_one_buffer() -> None:
    before = _model(False)
    after = _model(True)
    params = list(after.net_ema.parameters())
    assert len({p.untyped_storage().data_ptr() for p in params}) == 1
    for a, b in zip(before.net_ema.parameters(), params, strict=True):
        assert torch.equal(a, b)


def test_separate_host_tensors_are_streamed_one_run_each() -> None:
    model = _model(False)  # no flat buffer: every parameter is its own allocation
    ema = EMA(model, torch.device("cpu"), streamed=True, bucket_bytes=1 << 30)
    assert len(ema.buckets) == 1
    assert len(ema.buckets[0].runs) == len(list(model.net_ema.parameters()))


def test_offload_is_accepted_and_ignored_on_cpu() -> None:
    cfg = compose_config(["experiment=s2mv_text2world_tiny", "model.ema.offload=true"])
    assert cfg.model.ema.offload


def _gpu_check(tmp_path: Path, nproc: int) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        TORCHRUN,
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(HERE / "gpu_ema_check.py"),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "gpu ema check: ok" in proc.stdout


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_offloaded_ema_on_one_gpu(tmp_path: Path) -> None:
    _gpu_check(tmp_path, 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_engine_run_with_offloaded_ema_saves_async_and_resumes_on_gpu(
    tmp_path: Path, waymo_data: Path
) -> None:
    args = [
        *TINY,
        f"dataloader_train.dataset.dataset_dir={waymo_data}",
        "model.ema.offload=true",
        "checkpoint.async_save=true",
        "checkpoint.save_iter=2",
        "job.name=offload",
    ]
    env = engine_env(tmp_path)
    first = run(python_cmd([*args, "trainer.max_iter=4"]), env, timeout=300)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert "EMA weights in pinned host memory" in first.stdout
    second = run(python_cmd([*args, "trainer.max_iter=6"]), env, timeout=300)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    assert "at iteration 4" in second.stdout
    ckpts = tmp_path / "cosmos_engine" / "s2mv_text2world" / "offload" / "checkpoints"
    assert (ckpts / "latest_checkpoint.txt").read_text() == "iter_000000006\n"


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_offloaded_ema_under_fsdp2_on_two_gpus(tmp_path: Path) -> None:
    _gpu_check(tmp_path, 2)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
