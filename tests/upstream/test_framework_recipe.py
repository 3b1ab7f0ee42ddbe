"""A cosmos-framework recipe is checked before anything starts, against the schema in the
checkout's own source (read with ast, never imported), and its parallel layout against the launch's
world size; the launcher's exports are the adapter's env; ``preset render`` shows the recipe.

The checkout is the FakeCheckout (``make_fake_framework_checkout``), whose ``sft_config.py`` is a
schema in upstream's shape written for the tests."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from replay_engine.checkout import SCHEMA_PY, make_fake_framework_checkout

from cosmos_tui.cli.app import app
from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.engines.framework_recipe import check_recipe, load_recipe, parse_schema, read_schema
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.preflight import check_preset
from cosmos_tui.core.presets import apply_sets, load_preset, preset_from_dict, resolve_preset

ADAPTER = get_adapter("cosmos-framework")
RECIPES = Path("examples/toml/sft_config")


def _preset(repo: Path, recipe: str = "vision_sft_nano", *overrides: str, nproc: int = 8, **more):
    data = {
        "engine": {"kind": "cosmos-framework", "repo": str(repo)},
        "experiment": {"name": recipe, "overrides": list(overrides)},
        "launch": {"nproc_per_node": nproc, **more.pop("launch", {})},
        **more,
    }
    return preset_from_dict(data, source="test")


def _recipe(repo: Path, name: str, body: str) -> Path:
    path = repo / RECIPES / f"{name}.toml"
    head = f'[job]\ntask = "vfm"\nexperiment = "{name}"\nproject = "p"\ngroup = "g"\nname = "{name}"\n'
    path.write_text(head + body)
    return path


def test_the_schema_is_read_from_the_checkout_source(tmp_path: Path) -> None:
    schema = read_schema(make_fake_framework_checkout(tmp_path))
    assert schema is not None and schema.forbid_extra and schema.tasks == ("vfm", "vlm")
    model = schema.models["ModelConfig"]
    assert model["parallelism"].kind == "section" and model["parallelism"].section == "ParallelismConfig"
    assert model["lora_rank"].kind == "int" and "model_config" not in model
    optim = schema.models["OptimizerConfig"]
    assert optim["betas"].kind == "list" and optim["betas"].item.kind == "float"
    assert optim["lr_multipliers"].kind == "dict" and optim["lr_multipliers"].item.kind == "float"
    loader = schema.models["DataloaderTrainConfig"]
    assert loader["max_samples_per_batch"].optional and loader["max_caption_tokens"].optional
    assert schema.models["SFTExperimentConfig"]["custom"].item.kind == "any"
    # Not the schema: no SFTExperimentConfig, or not Python at all.
    assert parse_schema(SCHEMA_PY.replace("SFTExperimentConfig", "Other")) is None
    assert parse_schema("def (:") is None
    assert read_schema(tmp_path / "nowhere") is None


def test_an_unknown_key_names_the_file_the_key_the_allowed_keys_and_the_closest(tmp_path: Path) -> None:
    schema = read_schema(make_fake_framework_checkout(tmp_path))
    data = {
        "job": {"experiment": "x"},
        "model": {"parallelism": {"data_paralel_shard_degree": 4}, "lora_rnk": 8},
        "trainer": {"max_iters": 10},
        "custom": {"anything": {"goes": [1, "two"]}},
    }
    problems = check_recipe(data, schema, "my.toml")
    assert problems == [
        "recipe my.toml: [model.parallelism] has no key 'data_paralel_shard_degree' "
        "(model.parallelism.data_paralel_shard_degree); did you mean 'data_parallel_shard_degree'? "
        "allowed: cfg_parallel_shard_degree, context_parallel_shard_degree, "
        "data_parallel_replicate_degree, data_parallel_shard_degree",
        "recipe my.toml: [model] has no key 'lora_rnk' (model.lora_rnk); did you mean 'lora_rank'? "
        "allowed: lora_enabled, lora_rank, parallelism, tokenizer",
        "recipe my.toml: [trainer] has no key 'max_iters' (trainer.max_iters); did you mean 'max_iter'? "
        "allowed: logging_iter, max_iter",
    ]
    assert check_recipe({"job": {"experiment": "x"}, "zzz": 1}, schema, "f") == [
        "recipe f: the top level has no key 'zzz' (zzz); "
        "allowed: checkpoint, custom, dataloader_train, job, model, optimizer, trainer"
    ]


@pytest.mark.parametrize(
    ("section", "key", "value", "accepted"),
    [
        ("optimizer", "lr", 1, True),  # an int for a float
        ("optimizer", "lr", "1e-4", True),  # pydantic's lax mode parses a number from a string
        ("optimizer", "lr", "fast", False),
        ("trainer", "max_iter", 5.0, True),
        ("trainer", "max_iter", 5.5, False),
        ("trainer", "max_iter", "7", True),
        ("trainer", "max_iter", True, False),
        ("model", "lora_enabled", "yes", True),
        ("model", "lora_enabled", 2, False),
        ("job", "name", 5, False),  # no int -> str coercion in pydantic v2
        ("optimizer", "betas", [1, "0.9"], True),
        ("optimizer", "betas", 0.9, False),
        ("optimizer", "lr_multipliers", {"a": "x"}, False),
        ("model", "parallelism", 4, False),  # a section given a scalar
    ],
)
def test_values_follow_pydantic_lax_mode(
    tmp_path: Path, section: str, key: str, value: object, accepted: bool
) -> None:
    """The cases were checked against upstream's own SFTExperimentConfig.model_validate at 5eee9ed."""
    schema = read_schema(make_fake_framework_checkout(tmp_path))
    problems = check_recipe({"job": {"experiment": "x"}, section: {key: value}}, schema, "r.toml")
    assert (problems == []) is accepted, problems
    if not accepted:
        assert problems[0].startswith(f"recipe r.toml: {section}.{key} must be ")


def test_the_loader_rules_experiment_and_task(tmp_path: Path) -> None:
    schema = read_schema(make_fake_framework_checkout(tmp_path))
    [missing] = check_recipe({"job": {"task": "vfm"}}, schema, "r.toml")
    assert "[job].experiment is not set" in missing
    [task] = check_recipe({"job": {"experiment": "x", "task": "vla"}}, schema, "r.toml")
    assert task == "recipe r.toml: [job].task = 'vla' is not one upstream knows; use one of 'vfm', 'vlm'"


def test_a_bad_recipe_is_refused_before_launch_with_one_sentence_each(tmp_path: Path) -> None:
    repo = make_fake_framework_checkout(tmp_path)
    _recipe(
        repo, "mine", "[model.parallelism]\ndata_paralel_shard_degree = 4\n[trainer]\nmax_iter = 'lots'\n"
    )
    preset = _preset(repo, "mine")
    checks = check_preset(preset)
    assert [c.level for c in checks] == ["fail", "fail"]
    assert "did you mean 'data_parallel_shard_degree'?" in checks[0].message
    assert checks[1].message.endswith("trainer.max_iter must be an integer, not 'lots'")
    with pytest.raises(UserError, match="did you mean"):
        ADAPTER.render(preset, {})
    assert check_preset(_preset(repo, "vision_sft_nano"))[0].level == "ok"


def test_hostile_and_missing_recipe_files_are_one_sentence(tmp_path: Path) -> None:
    repo = make_fake_framework_checkout(tmp_path)
    os.symlink("/dev/zero", repo / RECIPES / "zero.toml")
    (repo / RECIPES / "broken.toml").write_text("[job\nx=")
    (repo / RECIPES / "latin.toml").write_bytes(b"name = '\xe9'\n")
    zero = repo / RECIPES / "zero.toml"
    assert ADAPTER.problems(_preset(repo, "zero")) == [
        f"recipe TOML {zero} is a character device (such as /dev/zero), not a regular file"
    ]
    [broken] = ADAPTER.problems(_preset(repo, "broken"))
    assert "is not valid TOML" in broken and "line 1" in broken
    assert ADAPTER.problems(_preset(repo, "latin")) == [
        f"recipe TOML {repo / RECIPES / 'latin.toml'} is not UTF-8 text"
    ]
    [missing] = ADAPTER.problems(_preset(repo, "vision_sft_nanoo"))
    assert "does not exist; did you mean vision_sft_nano?" in missing
    assert ADAPTER.job_dir(_preset(repo, "zero"), {}) is None


def test_a_recipe_job_name_that_leaves_the_output_root_is_refused(tmp_path: Path) -> None:
    repo = make_fake_framework_checkout(tmp_path)
    path = _recipe(repo, "escape", "")
    path.write_text(path.read_text().replace('name = "escape"', 'name = "../../../etc"'))
    [problem] = ADAPTER.problems(_preset(repo, "escape"))
    assert problem.startswith(
        "recipe examples/toml/sft_config/escape.toml: [job].name: job.name='../../../etc'"
    )
    assert ADAPTER.job_dir(_preset(repo, "escape"), {"IMAGINAIRE_OUTPUT_ROOT": str(tmp_path)}) is None
    # An override fixes it, and wins for the job folder too.
    fixed = _preset(repo, "escape", "job.name=fine")
    assert ADAPTER.problems(fixed) == []
    assert ADAPTER.job_dir(fixed, {"IMAGINAIRE_OUTPUT_ROOT": str(tmp_path)}) == tmp_path / "p" / "g" / "fine"


def test_the_parallel_layout_is_judged_as_upstream_judges_it(tmp_path: Path) -> None:
    repo = make_fake_framework_checkout(tmp_path)  # vision_sft_super has CP 2
    assert ADAPTER.problems(_preset(repo, "vision_sft_super", nproc=8)) == []
    [odd] = ADAPTER.problems(_preset(repo, "vision_sft_super", nproc=3))
    assert odd.startswith("context x CFG parallel (2) does not divide 3 ranks")
    hsdp = _recipe(
        repo,
        "hsdp",
        "[model.parallelism]\ndata_parallel_shard_degree = 8\ndata_parallel_replicate_degree = 32\n",
    )
    assert hsdp.is_file()
    [wrong] = ADAPTER.problems(_preset(repo, "hsdp", nproc=8))
    assert wrong.startswith(
        "data_parallel_shard_degree 8 x data_parallel_replicate_degree 32 is 256, not 8 ranks"
    )
    one_node = _preset(repo, "hsdp", "model.config.parallelism.data_parallel_replicate_degree=1", nproc=8)
    assert ADAPTER.problems(one_node) == []
    two_nodes = _preset(
        repo, "hsdp", "model.config.parallelism.data_parallel_replicate_degree=-1", launch={"nnodes": 2}
    )
    assert ADAPTER.problems(two_nodes) == []  # -1: world // shard
    # More shards than ranks: upstream clamps and warns; cosmos-tui says so before the launch.
    small = _preset(repo, "hsdp", "model.config.parallelism.data_parallel_replicate_degree=1", nproc=4)
    assert ADAPTER.problems(small) == []
    assert ADAPTER.warnings(small) == [
        "data_parallel_shard_degree 8 is more than 4 ranks (nproc_per_node x nnodes): upstream clamps it to 4"
    ]
    cfg = _preset(repo, "vision_sft_nano", "model.config.parallelism.cfg_parallel_shard_degree=2")
    assert "only for inference" in ADAPTER.problems(cfg)[0]
    # A degree neither the TOML nor an override sets is the Hydra experiment's: not judged.
    _recipe(repo, "silent", "")
    assert ADAPTER.problems(_preset(repo, "silent", nproc=3)) == []


def test_an_override_written_as_the_toml_path_is_refused(tmp_path: Path) -> None:
    """upstream's docs/action_fd_droid_posttrain.md writes ``-- model.parallelism.X=N``; after
    ``--`` overrides go to Hydra unchanged (PATH_REMAPS only rewrites the TOML), where the key is
    ``model.config.parallelism.X``."""
    repo = make_fake_framework_checkout(tmp_path)
    [problem] = ADAPTER.problems(
        _preset(repo, "vision_sft_nano", "model.parallelism.data_parallel_replicate_degree=1")
    )
    assert problem.endswith(
        "the key is the Hydra one: model.config.parallelism.data_parallel_replicate_degree"
    )
    assert (
        ADAPTER.problems(_preset(repo, "vision_sft_nano", "model.config.lora_rank=8", "trainer.max_iter=3"))
        == []
    )


def test_the_launchers_exports_are_the_env(tmp_path: Path) -> None:
    repo = make_fake_framework_checkout(tmp_path).resolve()
    env = ADAPTER.env(_preset(repo, "vision_sft_super"))
    assert env == {
        "PYTHONPATH": str(repo),
        "LD_LIBRARY_PATH": "",
        "PYTORCH_ALLOC_CONF": "expandable_segments:True",
        "DATASET_PATH": str(repo / "examples/data/BridgeData2-Subset-Synthetic-Captions/sft_dataset_bridge"),
        "BASE_CHECKPOINT_PATH": str(repo / "examples/checkpoints/Cosmos3-Super"),
        "WAN_VAE_PATH": str(repo / "examples/checkpoints/wan22_vae/Wan2.2_VAE.pth"),
    }
    droid = ADAPTER.env(_preset(repo, "action_policy_droid_nano", data={"root": "/data/droid"}))
    assert droid["DATASET_PATH"] == droid["DROID_ROOT"] == "/data/droid"
    droid = ADAPTER.env(_preset(repo, "action_policy_droid_nano"))
    assert (
        droid["DROID_ROOT"] == droid["DATASET_PATH"]
    )  # the launcher's DROID_ROOT=${DROID_ROOT:-$DATASET_PATH}
    libero = ADAPTER.env(_preset(repo, "action_policy_libero_10_nano", data={"root": "/data/libero_10"}))
    assert libero["LIBERO_ROOT"] == "/data/libero_10" and "DATASET_PATH" not in libero
    mine = ADAPTER.env(
        _preset(
            repo,
            "vision_sft_nano",
            data={"root": "/d"},
            env={"extra": {"BASE_CHECKPOINT_PATH": "/ck", "DATASET_PATH": "/x"}},
        )
    )
    assert mine["BASE_CHECKPOINT_PATH"] == "/ck" and mine["DATASET_PATH"] == "/x"  # env.extra wins
    # A recipe of the user's own gets the launcher of the Hydra experiment it names.
    _recipe(repo, "my_run", "").write_text(
        '[job]\nexperiment = "vision_sft_edge"\nproject = "p"\ngroup = "g"\nname = "n"\n'
    )
    assert ADAPTER.env(_preset(repo, "my_run"))["BASE_CHECKPOINT_PATH"].endswith("Cosmos3-Edge")
    assert ADAPTER.env(_preset(repo, "llava_ov")) == {"PYTHONPATH": str(repo)}


COSMOS3_PRESETS = sorted(
    p.stem for p in (Path(__file__).resolve().parents[2] / "presets").glob("cosmos3-*.toml")
)


@pytest.mark.parametrize("name", COSMOS3_PRESETS)
def test_every_shipped_cosmos3_preset_names_a_shipped_launcher(tmp_path: Path, name: str) -> None:
    from cosmos_tui.core.engines.framework import LAUNCHERS

    preset = load_preset(resolve_preset(name))
    assert preset.engine.kind == "cosmos-framework"
    recipe = Path(preset.experiment.config).stem
    assert recipe == preset.experiment.name and recipe in LAUNCHERS
    assert name == "cosmos3-" + recipe.replace("_", "-")


def test_preset_render_shows_the_recipe_as_comments(tmp_path: Path) -> None:
    repo = make_fake_framework_checkout(tmp_path)
    res = CliRunner().invoke(
        app, ["preset", "render", "cosmos3-vision-sft-nano", "--set", f"engine.repo={repo}"]
    )
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    at = lines.index(f"# {repo.resolve() / RECIPES / 'vision_sft_nano.toml'}, as the engine reads it:")
    assert lines[at + 1].startswith("#   # A small vision SFT recipe")
    assert '#   experiment = "vision_sft_nano"' in lines
    assert all(line.startswith("#") for line in lines[at:] if line)
    res = CliRunner().invoke(
        app, ["preset", "render", "cosmos3-vision-sft-nano", "--set", f"engine.repo={repo}", "--json"]
    )
    data = json.loads(res.stdout)
    assert data["config_file"].endswith("vision_sft_nano.toml") and "[job]" in data["config_text"]
    assert data["argv"][-2:] == ["--sft-toml", "examples/toml/sft_config/vision_sft_nano.toml"]


def test_apply_sets_keeps_the_recipe_check(tmp_path: Path) -> None:
    repo = make_fake_framework_checkout(tmp_path)
    preset = apply_sets(load_preset(resolve_preset("cosmos3-vision-sft-nano")), [f"engine.repo={repo}"])
    assert ADAPTER.problems(preset) == []
    bad = apply_sets(preset, ['experiment.overrides=["model.parallelism.context_parallel_shard_degree=2"]'])
    assert (
        ADAPTER.problems(bad)
        and "model.config.parallelism.context_parallel_shard_degree" in ADAPTER.problems(bad)[0]
    )


def test_the_launchers_input_checks_are_said_before_the_launch(tmp_path: Path, monkeypatch) -> None:
    repo = make_fake_framework_checkout(tmp_path).resolve()
    preset = _preset(repo, "vision_sft_nano", data={"root": str(tmp_path / "nodata")})
    notes = ADAPTER.warnings(preset)
    assert notes[0] == f"DATASET_PATH {tmp_path / 'nodata'} is not a folder; set data.root to your dataset"
    assert (
        notes[1].startswith("WAN_VAE_PATH ")
        and f"--checkpoint-dir {repo / 'examples/checkpoints'}" in notes[1]
    )
    # The base checkpoint is the convert step's to write (Cosmos3-Nano is a registered name) ...
    assert not any(n.startswith("BASE_CHECKPOINT_PATH") for n in notes)
    # ... but a folder of another name is the user's to provide.
    mine = _preset(repo, "vision_sft_nano", env={"extra": {"BASE_CHECKPOINT_PATH": str(tmp_path / "mine")}})
    assert any(
        n.startswith(f"BASE_CHECKPOINT_PATH {tmp_path / 'mine'} is not a folder")
        for n in ADAPTER.warnings(mine)
    )
    # The caller's environment wins over a launcher default, as the launcher's ${VAR:=default} does.
    monkeypatch.setenv("DATASET_PATH", str(tmp_path))
    assert "DATASET_PATH" not in ADAPTER.env(_preset(repo, "vision_sft_nano"))
    assert ADAPTER.env(_preset(repo, "vision_sft_nano", data={"root": "/d"}))["DATASET_PATH"] == "/d"


def test_the_recipe_iterations_reach_the_disk_forecast(tmp_path: Path) -> None:
    repo = make_fake_framework_checkout(tmp_path)  # the recipe: max_iter 12, save_iter 6
    preset = _preset(repo, "vision_sft_nano", "trainer.max_iter=30")
    assert ADAPTER.planned_overrides(preset) == [
        "trainer.max_iter=12",
        "checkpoint.save_iter=6",
        "trainer.max_iter=30",
    ]
    from cosmos_tui.core.preflight import job_settings

    settings = job_settings(preset, tmp_path / "job")
    assert (settings.max_iter, settings.save_iter) == (30, 6)


def test_recipe_and_schema_are_read_again_only_when_the_file_changes(tmp_path: Path) -> None:
    repo = make_fake_framework_checkout(tmp_path)
    path = _recipe(repo, "cached", "[model]\nlora_rank = 4\n")
    first = load_recipe(path)
    first["model"]["lora_rank"] = 99  # a caller's copy: the next read does not see it
    assert load_recipe(path)["model"]["lora_rank"] == 4
    _recipe(repo, "cached", "[model]\nlora_rank = 16\n")
    assert load_recipe(path)["model"]["lora_rank"] == 16  # edited: read again
    assert read_schema(repo) is read_schema(repo)  # parsed once for one version of the source
    schema_file = repo / "cosmos_framework/configs/toml_config/sft_config.py"
    schema_file.write_text(schema_file.read_text().replace("lora_rank", "lora_rank_renamed"))
    assert "lora_rank_renamed" in read_schema(repo).models["ModelConfig"]
    path.unlink()
    with pytest.raises(OSError):
        load_recipe(path)  # a file gone since is not served from memory
