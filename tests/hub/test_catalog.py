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


def test_cosmos3_models_name_every_artefact_their_recipes_load() -> None:
    """Read from NVIDIA/cosmos-framework at 5eee9ed: inference/args.py _CHECKPOINTS (base repos),
    inference/common/checkpoints.py (Wan2.2 VAE, Qwen3-VL, DATASETS), guardrail/common/core.py."""
    c = load_catalog()
    for model_id, base in [
        ("cosmos3-nano", "nvidia/Cosmos3-Nano"),
        ("cosmos3-super", "nvidia/Cosmos3-Super"),
        ("cosmos3-edge", "nvidia/Cosmos3-Edge"),
        ("cosmos3-nano-policy-droid", "nvidia/Cosmos3-Nano"),
    ]:
        m = c.get(model_id)
        assert m.engine == "cosmos-framework"
        train = m.repos_for()
        assert train[0].repo_id == base and train[0].whole_repo
        vae = next(r for r in train if r.repo_id == "Wan-AI/Wan2.2-TI2V-5B")
        assert vae.files == ("Wan2.2_VAE.pth",) and not vae.gated
        assert m.compute.min_gpus >= 4 and m.compute.gpu_memory_gb == 80
    assert c.get("Cosmos3-Nano").id == "cosmos3-nano"  # upstream's spelling works on the command line
    assert not c.get("cosmos3-edge").repos[0].gated  # "public, ungated" (docs/training.md)
    # Reasoner backbones are listed, but not part of a training download or an access check.
    nano, super_ = c.get("cosmos3-nano"), c.get("cosmos3-super")
    assert [r.repo_id for r in nano.repos if r.needed_for == "reasoner-sft"] == ["Qwen/Qwen3-VL-8B-Instruct"]
    assert [r.repo_id for r in super_.repos if r.needed_for == "reasoner-sft"] == [
        "Qwen/Qwen3-VL-32B-Instruct"
    ]
    for inference in (False, True):
        assert all(r.needed_for != "reasoner-sft" for r in nano.repos_for(inference=inference))
    assert "nvidia/Cosmos-Guardrail1" in {r.repo_id for r in nano.repos_for(inference=True)}
    assert "nvidia/Cosmos-1.0-Guardrail" in nano.notes  # the vLLM-Omni path's guardrail
    bridge = nano.datasets[0]
    assert (bridge.repo_id, bridge.revision, bridge.subdir) == (
        "nvidia/BridgeData2-Subset-Synthetic-Captions",
        "40d018ac1c1a2a4b9734f17fdb21f3d933c49a01",
        "sft_dataset_bridge",
    )
    assert bridge.pinned and bridge.page_url().endswith(
        "/datasets/nvidia/BridgeData2-Subset-Synthetic-Captions"
    )
    droid = c.get("cosmos3-nano-policy-droid")
    assert droid.dataset_layout == "lerobot-v3" and droid.experiments == ("action_policy_droid_nano",)
    assert [d.repo_id for d in droid.datasets] == ["nvidia/Cosmos3-DROID", "KarlP/droid"]
    keep = droid.datasets[1]
    assert keep.repo_type == "model" and keep.files == ("keep_ranges_1_0_1.json",)
    assert keep.page_url() == "https://huggingface.co/KarlP/droid"
    assert "nvidia/Cosmos3-Nano-Policy-DROID" in {r.repo_id for r in droid.repos_for(inference=True)}


@pytest.mark.parametrize(
    ("datasets", "uses_datasets", "match"),
    [
        ("", '["nope"]', "unknown datasets"),
        ("[datasets.d]\nrepo_id = 'a/b'\nrevision = 'v1.0'\n", '["d"]', "neither 'main' nor a 40-hex"),
        ("[datasets.d]\nrepo_id = 'a/b'\nrepo_type = 'space'\n", '["d"]', "repo_type"),
    ],
)
def test_bad_dataset_entries_are_user_errors(datasets: str, uses_datasets: str, match: str) -> None:
    text = (
        "schema = 1\n" + datasets + "[[models]]\nid='m'\nfamily='f'\nname='n'\nengine='builtin'\n"
        "dataset_layout='predict1-waymo'\nexperiments=['s2mv_text2world_tiny']\n"
        f"datasets={uses_datasets}\n[models.compute]\nmin_gpus=0\ngpu_memory_gb=0\n"
    )
    with pytest.raises(UserError, match=match):
        parse_catalog(text)
