"""The shipped catalog: valid, complete for the models the issue names, and strict on bad data."""

from __future__ import annotations

import pytest

from cosmos_tui.core.catalog import load_catalog, parse_catalog
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.machine_fit import Gpu, machine_fit


def test_required_models_and_files() -> None:
    c = load_catalog()
    edge = c.get("transfer2.5-2b-edge")
    weights = edge.repos[0]
    assert weights.files == ("general/edge/61f5694b-0ad5-4ecd-8ad7-c8545627d125_ema_bf16.pt",)
    assert weights.pinned
    assert {r.repo_id for r in edge.repos_for()} == {
        "nvidia/Cosmos-Transfer2.5-2B",
        "nvidia/Cosmos-Predict2.5-2B",  # the Wan2.1 tokenizer lives there
        "nvidia/Cosmos-Reason1-7B",
    }
    assert "nvidia/Cosmos-Guardrail1" in {r.repo_id for r in edge.repos_for(inference=True)}
    for variant in ("depth", "seg", "blur", "auto-multiview"):
        assert c.get(f"transfer2.5-2b-{variant}").engine == "cosmos-transfer2.5"
    s2mv = c.get("predict1-7b-s2mv-text2world")
    assert s2mv.repos[0].repo_id == "nvidia/Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView"
    assert s2mv.repos[0].local_dir == "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView"
    assert s2mv.experiments == ("text2world_singletomultiview_7b_example_waymo",)
    assert c.get("predict1-7b-s2mv-video2world").repos[0].files == ("v2w_model.pt",)
    assert c.get("predict2.5-14b").repos[0].repo_id == "nvidia/Cosmos-Predict2.5-14B"
    builtin = [m for m in c if m.engine == "builtin"]
    assert builtin and all(not m.repos for m in builtin)
    assert all("…" not in f for m in c for r in m.repos for f in r.files)  # no truncated names


def test_unknown_model_suggests_close_ids() -> None:
    with pytest.raises(UserError, match=r"Did you mean predict2\.5-2b"):
        load_catalog().get("predict2.5-2B-x")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("schema = 1\n[[models]]\nid='a'\n", "family"),
        ("schema = 1\nmodels = []\nbogus = 1\n", "bogus"),
        ("schema = = 1", "not valid TOML"),
    ],
)
def test_bad_catalog_text_is_a_user_error(text: str, match: str) -> None:
    with pytest.raises(UserError, match=match):
        parse_catalog(text)


def test_machine_fit() -> None:
    c = load_catalog()
    big = c.get("transfer2.5-2b-edge")
    assert not machine_fit(big, gpus=()).can_run
    h100 = Gpu(0, "NVIDIA H100 80GB HBM3", 79.6, 9.0)
    assert machine_fit(big, gpus=(h100,) * 8).can_run
    verdict = machine_fit(big, gpus=(h100,) * 4)
    assert not verdict.can_run and "needs 8 GPUs" in verdict.summary
    t4 = Gpu(0, "Tesla T4", 15.0, 7.5)
    reasons = machine_fit(big, gpus=(t4,) * 8).reasons
    assert any("GB per GPU" in r for r in reasons) and any("compute capability" in r for r in reasons)
    assert machine_fit(c.get("builtin-s2mv-tiny"), gpus=()).can_run
