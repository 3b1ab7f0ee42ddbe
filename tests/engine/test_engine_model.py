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
        net.set_recompute(every, False)
        calls[0] = 0
        flow_loss(net, _batch(cfg), torch.Generator().manual_seed(1), cfg.model.task).backward()
        grads.append([p.grad.clone() for p in net.parameters()])
        forwards.append(calls[0])
    assert forwards == [4, 8, 6]  # 4 blocks; all recomputed; blocks 0 and 3 recomputed
    for other in grads[1:]:
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads[0], other, strict=True))


def test_recomputing_in_backward_gives_the_same_gradients() -> None:
    cfg = compose_config(["experiment=s2mv_text2world_tiny", *SMALL, "model.depth=4"])
    runs = []
    for every, mode in ((0, ""), (0, "gelu"), (0, "elementwise"), (0, "attention"), (3, "elementwise")):
        torch.manual_seed(0)
        net = VideoDiT(cfg.model)
        net.init_weights()
        net.set_recompute(every, mode)
        loss = flow_loss(net, _batch(cfg), torch.Generator().manual_seed(1), cfg.model.task)
        loss.backward()
        runs.append((loss.detach(), [p.grad.clone() for p in net.parameters()]))
    assert [b.recompute for b in net.blocks] == ["", "elementwise", "elementwise", ""]
    for loss, grads in runs[1:]:
        assert torch.equal(loss, runs[0][0])
        assert all(torch.equal(a, b) for a, b in zip(runs[0][1], grads, strict=True))


def _saved_bytes(block: torch.nn.Module, x: torch.Tensor, *rest: torch.Tensor) -> int:
    """Bytes a (compiled) block keeps for backward, leaving out its parameters and input."""
    skip = {p.data_ptr() for p in block.parameters()} | {x.data_ptr()}
    sizes: list[int] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in skip:
            sizes.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        block(x, *rest)
    return sum(sizes)


def test_recompute_modes_keep_fewer_activations() -> None:
    """Compiled, as on GPU: ``gelu`` drops the MLP's activation (4 widths), ``elementwise`` keeps
    the matmul and attention outputs alone, ``attention`` the self-attention's output alone."""
    cfg = compose_config(["experiment=s2mv_text2world_tiny", "model.hidden=128", "model.heads=2"])
    from cosmos_engine.model import Block

    torch.manual_seed(0)
    n, hidden = 256, cfg.model.hidden
    x = torch.randn(1, n, hidden, requires_grad=True)
    rest = (torch.randn(1, hidden), torch.randn(1, 8, 1024), torch.arange(8)[None] < 5)
    saved = {}
    for mode in ("", "gelu", "elementwise", "attention"):
        block = Block(cfg.model)
        block.recompute = mode
        compiled = torch.compile(block, backend="aot_eager", fullgraph=True)
        compiled(x, *rest)  # compile
        saved[mode] = _saved_bytes(compiled, x, *rest)
    width = n * hidden * 4  # one fp32 activation of the block's width
    assert saved["gelu"] <= saved[""] - 4 * width, saved
    # kept: self-attention q, k, v and output projections (4), cross-attention q and output (2),
    # the MLP's two layers (4 + 1), both attention outputs (2); the text's keys and values
    assert saved["elementwise"] <= 13 * width + 2 * 8 * 1024 * 4 * 2, saved
    assert saved["elementwise"] < 0.6 * saved[""], saved
    # kept: the self-attention's output and its log-sum-exp (the input is the caller's), and the
    # region's other inputs (the text, the timestep embedding): no matmul output
    text = 8 * 1024 * 4
    assert width < saved["attention"] <= width + text + 8 * 1024, saved


def test_cross_attention_in_query_chunks_gives_the_same_result(monkeypatch) -> None:
    import cosmos_engine.model as model

    assert model.query_chunks(16384, 512) == 8 and model.query_chunks(8192, 512) == 4
    assert model.query_chunks(3000, 16) == 1  # 3000 // 2048 = 1
    assert model.query_chunks(16384, 16384) == 1  # self-attention length: never split
    torch.manual_seed(0)
    att = model.Attention(64, 4, context_dim=32).double()
    x = torch.randn(2, 300, 64, dtype=torch.double, requires_grad=True)
    ctx = torch.randn(2, 12, 32, dtype=torch.double, requires_grad=True)
    mask = torch.arange(12)[None].repeat(2, 1) < torch.tensor([[9], [12]])
    outs = []
    for tokens in (10**9, 100, 60):  # 1, 3 and 5 chunks of 300 queries
        monkeypatch.setattr(model, "CROSS_CHUNK_TOKENS", tokens)
        y = att(x, ctx, mask)
        outs.append((y, torch.autograd.grad(y.pow(2).sum(), [x, ctx, *att.parameters()])))
    for y, grads in outs[1:]:
        assert torch.equal(y, outs[0][0])
        for a, b in zip(grads, outs[0][1], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
