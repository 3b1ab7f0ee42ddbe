"""The video DiT: patching, conditioning paths, the 2B shape on the meta device, the info CLI."""

from __future__ import annotations

import json

import pytest
import torch
from cosmos_engine.compose import compose_config
from cosmos_engine.flow import flow_loss
from cosmos_engine.info import main as info_main
from cosmos_engine.model import VideoDiT, count_params


@pytest.fixture(autouse=True)
def one_thread():
    """Other test processes share the 2 cores; one intra-op thread keeps these steps fast."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SMALL = ["dataloader_train.dataset.video_size=[32,48]", "dataloader_train.dataset.max_text_len=8"]


def _batch(cfg, b: int = 1) -> dict[str, torch.Tensor]:
    ds = cfg.dataloader_train.dataset
    v = max(1, ds.sample_n_views)
    g = torch.Generator().manual_seed(0)
    shape = (b, v, ds.num_frames, 3, *ds.video_size)
    out = {
        "video": torch.rand(shape, generator=g) * 2 - 1,
        "view_ids": torch.arange(v).repeat(b, 1),
        "text": torch.randn(b, ds.max_text_len, 1024, generator=g),
        "text_mask": torch.arange(ds.max_text_len).repeat(b, 1) < 5,
    }
    if cfg.model.task == "control":
        out["control"] = torch.rand(shape, generator=g) * 2 - 1
    return out


def test_patchify_round_trips() -> None:
    cfg = compose_config(["experiment=s2mv_text2world_tiny"])
    net = VideoDiT(cfg.model)
    x = torch.randn(2, 2, 8, 3, 64, 96)
    tokens = net._patchify(x)
    assert tokens.shape == (2, 2 * 4 * 4 * 6, 3 * 2 * 16 * 16)
    assert torch.equal(net._unpatchify(tokens, tuple(x.shape)), x)


def test_every_task_trains_a_step_and_the_loss_drops_on_a_fixed_batch() -> None:
    for name in ("s2mv_text2world_tiny", "s2mv_video2world_tiny", "transfer_singleview_depth_tiny"):
        cfg = compose_config([f"experiment={name}", *SMALL])
        torch.manual_seed(0)
        net = VideoDiT(cfg.model)
        net.init_weights()
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
        batch = _batch(cfg)
        losses = []
        for _ in range(6):
            loss = flow_loss(net, batch, torch.Generator().manual_seed(1), cfg.model.task)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        assert all(torch.isfinite(torch.tensor(losses)))
        assert losses[-1] < losses[0], (name, losses)


def test_video2world_ignores_the_given_first_view_in_the_loss() -> None:
    cfg = compose_config(["experiment=s2mv_video2world_tiny", *SMALL])
    torch.manual_seed(0)
    net = VideoDiT(cfg.model)
    net.init_weights()
    batch = _batch(cfg)
    a = flow_loss(net, batch, torch.Generator().manual_seed(3), "video2world")
    changed = dict(batch)
    changed["video"] = batch["video"].clone()
    changed["video"][:, 0] = 0.0  # the condition view changes the input, but it carries no loss itself
    b = flow_loss(net, changed, torch.Generator().manual_seed(3), "video2world")
    assert torch.isfinite(a) and torch.isfinite(b)
    # with zero-initialised output, prediction is 0 and the loss is the target's energy on views 1..
    assert torch.allclose(a, b)


def test_2b_shape_builds_on_meta_and_reports_its_parameter_count(capsys) -> None:
    cfg = compose_config(["experiment=s2mv_text2world_2b"])
    with torch.device("meta"):
        net = VideoDiT(cfg.model)
    n = count_params(net)
    assert (cfg.model.hidden, cfg.model.depth) == (2048, 28)
    assert 1.8e9 < n < 2.2e9
    assert info_main(["--json", "--", "experiment=s2mv_text2world_2b"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["params"] == n
    assert facts["tokens_per_sample"] == 3 * (56 // 4) * (576 // 16) * (1024 // 16)


def test_info_lists_experiments_and_reports_bad_names(capsys) -> None:
    assert info_main(["--list"]) == 0
    assert "transfer_multiview_hdmap_tiny" in capsys.readouterr().out.split()
    assert info_main(["experiment=nope"]) == 2
    assert "unknown experiment 'nope'" in capsys.readouterr().err


def _grads_on_a_fresh_copy(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4))
    (m(torch.randn(32, 8)).pow(2).sum() * 50).backward()
    return m


def test_clip_folded_into_the_fused_optimizer_matches_clip_grad_norm() -> None:
    """On GPU the trainer clips inside fused AdamW (``grad_scale``); CPU has fused AdamW too, so the
    two ways are compared here on the same gradients. eps is large so the step depends on the scale."""
    from cosmos_engine.trainer import clip_in_optimizer

    results = []
    for how in ("clip_grad_norm_", "folded", "unclipped"):
        m = _grads_on_a_fresh_copy(0)
        opt = torch.optim.AdamW(m.parameters(), lr=0.1, eps=1.0, fused=True)
        params = list(m.parameters())
        if how == "clip_grad_norm_":
            norm = torch.nn.utils.clip_grad_norm_(params, 0.5)
        elif how == "folded":
            norm = clip_in_optimizer(opt, params, 0.5)
            assert opt.grad_scale is not None and float(opt.grad_scale) > 1  # the norm is over 0.5
        else:
            norm = clip_in_optimizer(opt, params, 0.0)  # 0 disables clipping
            assert getattr(opt, "grad_scale", None) is None
        opt.step()
        results.append((float(norm), [p.detach().clone() for p in params]))
    (n_ref, ref), (n_fold, folded), (n_off, unclipped) = results
    assert n_ref == pytest.approx(n_fold, rel=1e-6) == pytest.approx(n_off, rel=1e-6)
    assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(ref, folded, strict=True))
    assert not all(torch.allclose(a, b, rtol=1e-3) for a, b in zip(ref, unclipped, strict=True))


def test_a_foreach_optimizer_clips_the_gradients_themselves() -> None:
    from cosmos_engine.trainer import clip_in_optimizer

    m = _grads_on_a_fresh_copy(1)
    opt = torch.optim.AdamW(m.parameters(), lr=0.1, foreach=True)
    clip_in_optimizer(opt, list(m.parameters()), 0.5)
    assert getattr(opt, "grad_scale", None) is None
    after = torch.nn.utils.get_total_norm([p.grad for p in m.parameters()])
    assert float(after) == pytest.approx(0.5, rel=1e-4)


def test_activation_checkpointing_of_one_block_in_n_gives_the_same_gradients(monkeypatch) -> None:
    cfg = compose_config(["experiment=s2mv_text2world_tiny", *SMALL, "model.depth=4"])
    grads, forwards = [], []
    calls = [0]
    block_type = type(VideoDiT(cfg.model).blocks[0])
    forward = block_type.forward

    def counted(self, *args, **kwargs):
        calls[0] += 1
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(block_type, "forward", counted)
    for every in (0, 1, 3):
        torch.manual_seed(0)
        net = VideoDiT(cfg.model)
        net.init_weights()
        net.activation_checkpointing = every
        calls[0] = 0
        flow_loss(net, _batch(cfg), torch.Generator().manual_seed(1), cfg.model.task).backward()
        grads.append([p.grad.clone() for p in net.parameters()])
        forwards.append(calls[0])
    assert forwards == [4, 8, 6]  # 4 blocks; all recomputed; blocks 0 and 3 recomputed
    for other in grads[1:]:
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads[0], other, strict=True))
