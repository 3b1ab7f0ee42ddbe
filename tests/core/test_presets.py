from __future__ import annotations

from pathlib import Path

import pytest

from cosmos_tui.core.engines.base import LaunchSpec, get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.presets import Preset, apply_sets, dump_preset, load_preset, preset_from_dict


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "p.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_defaults_roundtrip_to_an_empty_file(tmp_path: Path) -> None:
    assert dump_preset(Preset()) == ""
    assert load_preset(_write(tmp_path, "")) == Preset()


def test_preset_holds_only_what_differs(tmp_path: Path) -> None:
    p = preset_from_dict(
        {"launch": {"nproc_per_node": 2}, "experiment": {"overrides": ["trainer.max_iter=5"]}}
    )
    text = dump_preset(p)
    assert "nproc_per_node = 2" in text and "nnodes" not in text
    assert load_preset(_write(tmp_path, text)) == p


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[lanuch]\nnproc_per_node = 2\n", "unknown key 'lanuch'; did you mean 'launch'?"),
        ("[launch]\nnproc_per_nod = 2\n", "did you mean 'launch.nproc_per_node'?"),
        ("[launch]\ntarget = 'slurmm'\n", "did you mean 'slurm'?"),
        ("[engine]\nkind = 'cosmos-predict'\n", "engine.kind"),
        ("[launch]\nnproc_per_node = 'two'\n", "launch.nproc_per_node"),
        ("[launch]\nnproc_per_node = 100000\n", "launch.nproc_per_node"),
        ("[env.extra]\nHF_TOKEN = 'hf_x'\n", "secrets never live in presets"),
        ("[experiment]\noverrides = ['nonsense']\n", "is not `key=value`"),
        ("[launch\n", "not valid TOML"),
        (b"[model]\nid = '\xff'\n", "not UTF-8"),
    ],
)
def test_bad_presets_name_file_and_key(tmp_path: Path, text: str | bytes, needle: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UserError) as e:
        load_preset(path)
    assert str(path) in str(e.value)
    assert needle in str(e.value)


def test_sets_take_precedence_and_unknown_keys_become_engine_overrides() -> None:
    p = apply_sets(
        Preset(),
        ["launch.nproc_per_node=4", "wandb.mode=offline", "trainer.max_iter=7", "~foo", "env.extra.A=b"],
    )
    assert p.launch.nproc_per_node == 4
    assert p.wandb.mode == "offline"
    assert p.experiment.overrides == ["trainer.max_iter=7", "~foo"]
    assert p.env.extra == {"A": "b"}
    shared = apply_sets(Preset(), ["model.config.state_t=20", "model.id=builtin-s2mv-small"])
    assert shared.experiment.overrides == ["model.config.state_t=20"]
    assert shared.model.id == "builtin-s2mv-small"
    with pytest.raises(UserError, match=r"did you mean 'launch\.nnodes'"):
        apply_sets(Preset(), ["launch.nnode=2"])


def test_builtin_render_is_a_torchrun_command(tmp_path: Path) -> None:
    p = apply_sets(Preset(), ["launch.nproc_per_node=2", f"data.root={tmp_path}", "trainer.max_iter=3"])
    spec = get_adapter("builtin").render(p, {})
    assert isinstance(spec, LaunchSpec)
    assert spec.argv[:2] == ("torchrun", "--nproc_per_node=2")
    assert spec.argv[spec.argv.index("--") + 1 :] == (
        "experiment=s2mv_text2world_tiny",
        f"dataloader_train.dataset.dataset_dir={tmp_path.resolve()}",
        "trainer.max_iter=3",
    )
    assert spec.exec_argv()[1:3] == ["-m", "torch.distributed.run"]


def test_multinode_needs_a_rendezvous() -> None:
    with pytest.raises(UserError, match="rdzv_endpoint"):
        get_adapter("builtin").render(apply_sets(Preset(), ["launch.nnodes=2"]), {})
    spec = get_adapter("builtin").render(
        apply_sets(Preset(), ["launch.nnodes=2", "launch.rdzv_endpoint=10.0.0.1:29400", "launch.rdzv_id=7"]),
        {},
    )
    assert "--rdzv_endpoint 10.0.0.1:29400" in " ".join(spec.argv)


def test_restarts_on_one_node_use_a_c10d_rendezvous() -> None:
    """torchrun's static rendezvous hands restarted ranks the dead attempt's addresses."""
    adapter = get_adapter("builtin")
    plain = adapter.render(apply_sets(Preset(), ["launch.master_port=29500"]), {})
    assert "--master_port=29500" in plain.argv
    restarting = adapter.render(
        apply_sets(Preset(), ["launch.master_port=29500", "launch.max_restarts=2"]), {}
    )
    assert "--rdzv_backend=c10d" in restarting.argv and "--rdzv_endpoint=localhost:29500" in restarting.argv
    assert "--max_restarts=2" in restarting.argv and not any(
        a.startswith("--master_port") for a in restarting.argv
    )
    unported = adapter.render(apply_sets(Preset(), ["launch.max_restarts=1"]), {})
    assert "--standalone" in unported.argv
