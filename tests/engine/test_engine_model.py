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
