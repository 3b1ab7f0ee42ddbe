"""Config composition: Hydra's override grammar, one-line errors with close matches, --dryrun."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cosmos_engine.compose import compose_config, split_overrides
from cosmos_engine.errors import ConfigError
from cosmos_engine.experiments import EXPERIMENTS
from cosmos_engine.train import main, separator_in_launcher


def test_every_listed_family_and_size_is_registered() -> None:
    expected = {f"s2mv_{t}_{s}" for t in ("text2world", "video2world") for s in ("tiny", "small", "2b")}
    expected |= {
        f"transfer_singleview_{c}_{s}" for c in ("edge", "vis", "depth", "seg") for s in ("tiny", "2b")
    }
    expected |= {f"transfer_multiview_hdmap_{s}" for s in ("tiny", "2b")}
    assert set(EXPERIMENTS) == expected
    for name in expected:
        cfg = compose_config([f"experiment={name}"])
        assert (cfg.job.project, cfg.job.name) == ("cosmos_engine", name)
        assert cfg.job.group == name.rsplit("_", 1)[0]


def test_overrides_set_add_and_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGINAIRE_OUTPUT_ROOT", str(tmp_path))
    cfg = compose_config(
        [
            "experiment=s2mv_video2world_tiny",
            "trainer.max_iter=7",
            "dataloader_train.dataset.video_size=[32,48]",
            "+trainer.callbacks.extra.every_n=3",
            "~trainer.grad_clip_norm",
            "job.name=mine",
        ]
    )
    assert cfg.trainer.max_iter == 7
    assert cfg.dataloader_train.dataset.video_size == [32, 48]
    assert cfg.trainer.callbacks["extra"] == {"every_n": 3}
    assert cfg.trainer.grad_clip_norm == 1.0  # deleted -> back to the base default
    assert cfg.model.task == "video2world"
    assert cfg.job.path_local == tmp_path / "cosmos_engine" / "s2mv_video2world" / "mine"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["trainer.maxiter=3"], "unknown config key 'trainer.maxiter'; did you mean trainer.max_iter"),
        (["+trainer.max_itr=3"], "unknown config key 'trainer.max_itr'; did you mean trainer.max_iter"),
        (
            ["experiment=s2mv_txt2world_tiny"],
            "unknown experiment 's2mv_txt2world_tiny'; did you mean s2mv_text2world_tiny",
        ),
        (["trainer.max_iter=abc"], "bad value for 'trainer.max_iter'"),
        (["trainer.max_iter=="], "cannot parse override 'trainer.max_iter=='"),
        (  # Hydra's own message names no override here: the one it refuses is found and named
            ["experiment=s2mv_text2world_tiny", "trainer.memory_budget=70;rm -rf /", "trainer.max_iter=3"],
            "cannot parse override 'trainer.memory_budget=70;rm -rf /';",
        ),
        (["trainer.memory_budget=lots"], "trainer.memory_budget must be 'auto', a number of GB"),
        (["trainer.recompute=attentionx"], "trainer.recompute='attentionx' is not allowed"),
        (["job.wandb_mode=loud"], "job.wandb_mode='loud' is not allowed"),
        (["trainer.recompute=everything"], "trainer.recompute='everything' is not allowed"),
        (["model.hidden=65"], "must be a multiple of model.heads"),
        (
            ["experiment=s2mv_text2world_tiny", "dataloader_train.dataset.num_frames=7"],
            "multiples of model.patch_size",
        ),
    ],
)
def test_bad_overrides_give_one_sentence(overrides: list[str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        compose_config(overrides)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_the_separator_is_required() -> None:
    assert split_overrides(["--", "a=1"]) == ["a=1"]
    with pytest.raises(ConfigError, match='must be separated with a "--" token'):
        split_overrides(["a=1"])


def test_cli_bad_override_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cosmos_engine.train",
            "--",
            "experiment=s2mv_text2world_tiny",
            "trainer.max_iters=5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: unknown config key 'trainer.max_iters'; did you mean trainer.max_iter?"
    ]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_dryrun_writes_the_composed_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("IMAGINAIRE_OUTPUT_ROOT", str(tmp_path))
    code = main(["--dryrun", "--", "experiment=transfer_singleview_edge_tiny", "trainer.max_iter=3"])
    assert code == 0
    path = (
        tmp_path
        / "cosmos_engine"
        / "transfer_singleview_edge"
        / "transfer_singleview_edge_tiny"
        / "config.yaml"
    )
    assert capsys.readouterr().out.strip() == str(path)
    data = yaml.safe_load(path.read_text())
    assert data["trainer"]["max_iter"] == 3
    assert data["dataloader_train"]["dataset"]["control_type"] == "edge"
    assert data["job"]["name"] == "transfer_singleview_edge_tiny"
    assert not (path.parent / "checkpoints").exists()


def test_main_without_separator_exits_2(capsys) -> None:
    assert main(["experiment=s2mv_text2world_tiny"]) == 2
    assert 'separated with a "--" token' in capsys.readouterr().err


def test_a_separator_swallowed_by_torchrun_is_found_in_the_launcher_command() -> None:
    # torchrun drops a "--" right after "-m MOD"; the engine reads the agent's command line instead.
    agent = ["/venv/bin/python", "/venv/bin/torchrun", "--standalone", "--nproc_per_node=2", "-m"]
    assert separator_in_launcher([*agent, "cosmos_engine.train", "--", "experiment=x"])
    assert not separator_in_launcher([*agent, "cosmos_engine.train", "experiment=x"])
    assert separator_in_launcher(
        ["python", "-m", "torch.distributed.run", "engine/cosmos_engine/train.py", "--"]
    )
    assert separator_in_launcher(["python", "something_else.py"])


ENGINE_CANARY = "hf_CanaryEngineResolverQq55"


@pytest.mark.parametrize(
    "item",
    [
        "job.name=${oc.env:HF_TOKEN}",
        "job.name='${oc.env:HF_TOKEN}'",
        "job.name=x${oc.env:HF_TOKEN}",
        # Hydra unescapes these into ${oc.env:HF_TOKEN} before OmegaConf sees the value
        "job.name=$\\{oc.env\\:HF_TOKEN\\}",
        "+job.note=${oc.decode:'1'}",
    ],
)
def test_the_engine_refuses_resolver_calls_and_writes_nothing(
    item: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Defence in depth under the manager's own check: the engine itself never resolves the
    environment into its config, its job folder or its output."""
    monkeypatch.setenv("IMAGINAIRE_OUTPUT_ROOT", str(tmp_path))
    monkeypatch.setenv("HF_TOKEN", ENGINE_CANARY)
    with pytest.raises(ConfigError, match="resolver"):
        compose_config(["experiment=s2mv_text2world_tiny", item])
    assert main(["--dryrun", "--", "experiment=s2mv_text2world_tiny", item]) == 2
    captured = capsys.readouterr()
    assert ENGINE_CANARY not in captured.out + captured.err
    assert not any(tmp_path.iterdir()), "nothing may be written for a refused config"


def test_the_engine_keeps_node_interpolations_and_refuses_escaping_job_names() -> None:
    cfg = compose_config(["experiment=s2mv_text2world_tiny", "job.name=${job.group}-copy"])
    assert cfg.job.name == "s2mv_text2world-copy"
    for bad in ("..", "a/b", "a\\b", "a\nb", ""):
        with pytest.raises(ConfigError, match=r"job\.name"):
            compose_config(["experiment=s2mv_text2world_tiny", f"job.name='{bad}'"])
