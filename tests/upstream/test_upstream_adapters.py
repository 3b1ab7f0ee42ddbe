"""Upstream adapters: what they refuse, what they warn about, where jobs land, and the Predict1
Single2MultiView weights wherever they were downloaded."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.engines.jobdir import table_job_name
from cosmos_tui.core.engines.transfer25 import context_parallel_proposal
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.launch import resolve_job_dir
from cosmos_tui.core.presets import Preset, apply_sets, load_preset, resolve_preset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from replay_engine.checkout import make_fake_checkout


def _shipped(name: str, *sets: str) -> Preset:
    return apply_sets(load_preset(resolve_preset(name)), list(sets))


def test_refusals_are_one_clear_sentence_each(tmp_path: Path) -> None:
    t25 = get_adapter("cosmos-transfer2.5")
    with pytest.raises(UserError, match=r"set engine\.repo"):
        t25.render(_shipped("transfer25-singleview-edge"), {})
    with pytest.raises(UserError, match="is not a folder"):
        t25.render(_shipped("transfer25-singleview-edge", f"engine.repo={tmp_path / 'nope'}"), {})
    empty = tmp_path / "empty"
    empty.mkdir()
    # An empty folder (or one holding some other project) is no checkout: refused before launch.
    with pytest.raises(UserError, match=r"holds no cosmos-transfer2\.5 checkout \(no cosmos_transfer2/"):
        t25.render(_shipped("transfer25-singleview-edge", f"engine.repo={empty}"), {})
    p1_repo = make_fake_checkout(tmp_path, "cosmos-predict1")
    with pytest.raises(
        UserError, match=r"is a cosmos-predict1 checkout but engine\.kind is cosmos-transfer2\.5"
    ):
        t25.render(_shipped("transfer25-singleview-edge", f"engine.repo={p1_repo}"), {})
    # A Slurm target renders for a checkout that only exists on the cluster.
    spec = t25.render(
        _shipped("transfer25-auto-multiview", "engine.repo=/cluster/t25", "launch.target=slurm"), {}
    )
    assert spec.cwd == Path("/cluster/t25")
    with pytest.raises(UserError, match="builtin default"):
        get_adapter("cosmos-predict2.5").render(
            apply_sets(Preset(), ["engine.kind=cosmos-predict2.5", f"engine.repo={tmp_path}"]), {}
        )


@pytest.mark.parametrize("sets", [["wandb.mode=online"], ["wandb.mode=offline"], ["job.wandb_mode=online"]])
def test_predict1_refuses_wandb_instead_of_dying(tmp_path: Path, sets: list[str]) -> None:
    repo = make_fake_checkout(tmp_path, "cosmos-predict1")
    with pytest.raises(UserError, match=r"has no job\.wandb_mode key") as e:
        get_adapter("cosmos-predict1").render(
            _shipped("predict1-s2mv-text2world", f"engine.repo={repo}", *sets), {}
        )
    assert "\n" not in str(e.value)
    ok = get_adapter("cosmos-predict1").render(
        _shipped("predict1-s2mv-text2world", f"engine.repo={repo}", "wandb.mode=disabled"), {}
    )
    assert not any(a.startswith("job.wandb_mode") for a in ok.argv)


def test_transfer25_context_parallel_warning(tmp_path: Path) -> None:
    t25 = get_adapter("cosmos-transfer2.5")
    base = ["engine.repo=/x", "launch.nproc_per_node=8"]
    assert t25.warnings(_shipped("transfer25-singleview-edge", *base)) == []
    (warning,) = t25.warnings(
        _shipped("transfer25-singleview-edge", *base, "launch.nnodes=2", "launch.rdzv_endpoint=h:1")
    )
    assert "state_t=24" in warning and "model_parallel.context_parallel_size=8" in warning
    fixed = ["launch.nnodes=2", "launch.rdzv_endpoint=h:1", "model_parallel.context_parallel_size=8"]
    assert t25.warnings(_shipped("transfer25-singleview-edge", *base, *fixed)) == []
    (warning,) = t25.warnings(
        _shipped("transfer25-singleview-edge", *base, "experiment.overrides+=model.config.state_t=20")
    )
    assert "state_t=20" in warning and "context_parallel_size=4" in warning
    assert context_parallel_proposal(16, 24) == 8 and context_parallel_proposal(5, 24) == 1


def test_job_table_follows_job_overrides() -> None:
    name = table_job_name("cosmos-predict2.5", "predict2_video2world_training_2b_cosmos_nemo_assets")
    assert (name.project, name.group, name.name) == (
        "cosmos_predict_v2p5",
        "video2world",
        "2b_cosmos_nemo_assets",
    )
    moved = table_job_name(
        "cosmos-transfer2.5", "transfer2_auto_multiview_post_train_example", ["job.name=mine", "job.group=g"]
    )
    assert (moved.project, moved.group, moved.name) == ("cosmos_transfer_v2p5", "g", "mine")
    assert table_job_name("cosmos-transfer2.5", "unknown_experiment") is None
    assert (
        table_job_name("cosmos-transfer2.5", "unknown", ["job.project=p", "job.group=g", "job.name=n"])
        is not None
    )


def test_dryrun_gives_the_job_dir_when_the_checkout_is_here(tmp_path: Path) -> None:
    repo = make_fake_checkout(tmp_path, "cosmos-transfer2.5")
    out = tmp_path / "out"
    preset = _shipped(
        "transfer25-auto-multiview",
        f"engine.repo={repo}",
        f"engine.python={sys.executable}",
        f"env.output_root={out}",
    )
    job = resolve_job_dir(preset, {})
    assert job.source == "dryrun"
    assert (
        job.path == out / "cosmos_transfer_v2p5" / "auto_multiview" / "2b_cosmos_multiview_post_train_example"
    )
    assert not out.exists(), "the dry run composes into a scratch root: nothing is written here"
    assert isinstance(job.config, dict) and job.config["job"]["name"] == job.path.name
    assert get_adapter(preset.engine.kind).job_dir(preset, {}) == job.path  # the table agrees


def test_predict1_points_load_path_at_the_downloaded_weights(tmp_path: Path) -> None:
    repo = make_fake_checkout(tmp_path, "cosmos-predict1")
    p1 = get_adapter("cosmos-predict1")
    preset = _shipped("predict1-s2mv-text2world", f"engine.repo={repo}", f"env.HF_HOME={tmp_path / 'hf'}")
    assert "not downloaded" in p1.warnings(preset)[0]
    # What the upstream downloader names the folder: the experiment would not find it.
    other = repo / "checkpoints" / "Cosmos-Predict1-7B-SingleToMultiView-Sample-AV" / "t2w_model.pt"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"w")
    argv = p1.render(preset, {}).argv
    assert argv[-1] == f"checkpoint.load_path={other}" and p1.warnings(preset) == []
    # Where the experiment looks: no override needed.
    expected = (
        repo / "checkpoints" / "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView" / "t2w_model.pt"
    )
    expected.parent.mkdir(parents=True)
    expected.write_bytes(b"w")
    assert not any(a.startswith("checkpoint.load_path") for a in p1.render(preset, {}).argv)
    # An explicit override always wins.
    pinned = apply_sets(preset, ["checkpoint.load_path=/data/t2w.pt"])
    assert [a for a in p1.render(pinned, {}).argv if a.startswith("checkpoint.load_path")] == [
        "checkpoint.load_path=/data/t2w.pt"
    ]


def test_predict1_finds_weights_in_the_hf_cache(tmp_path: Path) -> None:
    repo = make_fake_checkout(tmp_path, "cosmos-predict1")
    hf = tmp_path / "hf"
    snap = hf / "hub" / "models--nvidia--Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView"
    (snap / "refs").mkdir(parents=True)
    (snap / "refs" / "main").write_text("0" * 40)
    weights = snap / "snapshots" / ("0" * 40) / "v2w_model.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"w")
    preset = _shipped("predict1-s2mv-video2world", f"engine.repo={repo}", f"env.HF_HOME={hf}")
    assert get_adapter("cosmos-predict1").render(preset, {}).argv[-1] == f"checkpoint.load_path={weights}"


def test_predict1_env_follows_the_documented_setup(tmp_path: Path) -> None:
    repo = make_fake_checkout(tmp_path, "cosmos-predict1")
    conda = tmp_path / "conda"
    (conda / "conda-meta").mkdir(parents=True)
    (conda / "bin").mkdir()
    (conda / "bin" / "python").symlink_to(sys.executable)
    preset = _shipped(
        "predict1-s2mv-text2world", f"engine.repo={repo}", f"engine.python={conda / 'bin' / 'python'}"
    )
    env = get_adapter("cosmos-predict1").render(preset, {}).env
    assert env == {"PYTHONPATH": str(repo.resolve()), "CUDA_HOME": str(conda), "OUTPUT_ROOT": "checkpoints"}
