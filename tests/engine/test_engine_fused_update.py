"""The fused AdamW + EMA step (:mod:`cosmos_engine.fused_update`).

Its Triton kernel needs a CUDA GPU: those tests are skipped on CPU machines (CI) and were run on
the lent H100 and H200 x2 (``python3 -m pytest -q tests/engine/test_engine_fused_update.py``). On
CPU :func:`~cosmos_engine.fused_update.available` is false, so every CPU engine test trains with
``torch.optim.AdamW`` and the separate EMA update.
"""

from __future__ import annotations

import copy

import pytest
import torch
from cosmos_engine import fused_update
from cosmos_engine.compose import compose_config
from cosmos_engine.model import VideoDiT

GPU = pytest.mark.skipif(
    not fused_update.available(torch.device("cuda")) or not torch.cuda.is_available(),
    reason="needs a CUDA GPU with Triton",
)


def _net(device: torch.device) -> torch.nn.Module:
    cfg = compose_config(["experiment=s2mv_text2world_tiny"])
    torch.manual_seed(0)
    with torch.device(device):
        net = VideoDiT(cfg.model)
        net.init_weights()
    return net


def _adamw(params: list[torch.Tensor], **kw) -> torch.optim.AdamW:
    return torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1, **kw)


def test_only_a_plain_adamw_on_a_gpu_with_triton_is_fused() -> None:
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert not fused_update.available(torch.device("cpu"))
    assert fused_update.supports(_adamw(params))
    assert not fused_update.supports(_adamw(params, amsgrad=True))
    assert not fused_update.supports(_adamw(params, maximize=True))
    assert not fused_update.supports(torch.optim.SGD(params, lr=0.1))
    with pytest.raises(ValueError, match="amsgrad"):
        fused_update.FusedAdamWEMA(_adamw(params, amsgrad=True), None)


@GPU
def test_fused_step_matches_torch_adamw_then_lerp() -> None:
    dev = torch.device("cuda")
    ref_net, net = _net(dev), _net(dev)
    ref_ema, ema = copy.deepcopy(ref_net), copy.deepcopy(net)
    ref_opt = _adamw(list(ref_net.parameters()), fused=True)
    opt = _adamw(list(net.parameters()), fused=True)
    pairs = list(zip(ema.parameters(), net.parameters(), strict=True))
    fused = fused_update.FusedAdamWEMA(opt, pairs)
    skipped = next(net.parameters())  # no gradient: not stepped, its EMA still moves
    gen = torch.Generator(device=dev).manual_seed(0)
    for step in range(4):
        scale = torch.tensor([1.0 + step], device=dev)
        for a, b in zip(ref_net.parameters(), net.parameters(), strict=True):
            g = torch.randn(a.shape, device=dev, generator=gen)
            a.grad = None if b is skipped else g.clone()
            b.grad = None if b is skipped else g
        ref_opt.grad_scale = scale
        ref_opt.step()
        ref_opt.grad_scale = None
        with torch.no_grad():
            torch._foreach_lerp_(list(ref_ema.parameters()), list(ref_net.parameters()), 0.1)
        fused.step(scale, 0.1)
    for pair in (
        (net.parameters(), ref_net.parameters()),
        (ema.parameters(), ref_ema.parameters()),
        (
            [opt.state[p]["exp_avg_sq"] for p in net.parameters() if p is not skipped],
            [ref_opt.state[p]["exp_avg_sq"] for p in ref_net.parameters() if p in ref_opt.state],
        ),
    ):
        for a, b in zip(*pair, strict=True):
            torch.testing.assert_close(a, b, rtol=2e-5, atol=1e-7)
    assert skipped not in opt.state and set(fused.steps.values()) == {4}
    assert all(float(opt.state[p]["step"]) == 4 for p in opt.state)


@GPU
def test_torch_adamw_resumes_from_the_fused_state() -> None:
    """The optimizer state the fused step leaves is AdamW's own: ``opt.step()`` carries on."""
    dev = torch.device("cuda")
    net, ref = _net(dev), _net(dev)
    opt, ref_opt = _adamw(list(net.parameters()), fused=True), _adamw(list(ref.parameters()), fused=True)
    fused = fused_update.FusedAdamWEMA(opt, None)
    gen = torch.Generator(device=dev).manual_seed(1)
    for step in range(3):
        for a, b in zip(net.parameters(), ref.parameters(), strict=True):
            a.grad = torch.randn(a.shape, device=dev, generator=gen)
            b.grad = a.grad.clone()
        ref_opt.step()
        if step < 2:
            fused.step(None, None)
        else:
            opt.load_state_dict(copy.deepcopy(opt.state_dict()))
            opt.step()
    for a, b in zip(net.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=2e-5, atol=1e-7)


@pytest.mark.skipif(
    torch.cuda.device_count() < 2 or not fused_update.available(torch.device("cuda")),
    reason="needs two CUDA GPUs with Triton",
)
def test_fsdp2_runs_match_with_and_without_the_fused_step(tmp_path, waymo_data) -> None:
    """On FSDP2's shards (torchrun, 2 GPUs) the fused step trains as AdamW and the EMA lerp do."""
    from engine_runs import TINY, engine_env, metrics, run, torchrun_cmd

    results = {}
    for fused in ("true", "false"):
        root = tmp_path / fused
        overrides = [
            *TINY,
            f"dataloader_train.dataset.dataset_dir={waymo_data}",
            "trainer.max_iter=4",
            "checkpoint.save_iter=4",
            "checkpoint.export_pt=true",
            f"trainer.fused_update={fused}",
            "job.name=fused",
        ]
        proc = run(torchrun_cmd(overrides), engine_env(root), timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        job = root / "cosmos_engine" / "s2mv_text2world" / "fused"
        ema = torch.load(job / "export" / "iter_000000004_ema_model.pt", weights_only=True)
        results[fused] = ([r["loss"] for r in metrics(job)], ema)
    (losses, ema), (ref_losses, ref_ema) = results["true"], results["false"]
    assert len(losses) == 4
    assert losses == pytest.approx(ref_losses, rel=1e-4)
    assert ema.keys() == ref_ema.keys()
    for key in ema:
        torch.testing.assert_close(ema[key], ref_ema[key], rtol=1e-4, atol=1e-6)
