"""Golden commands: every training and conversion command of the seed guides and the upstream
post-training docs, rendered from the shipped presets, byte for byte.

Each ``golden/*.sh`` is a shell block copied verbatim from its doc. Where the doc is wrong (the
code rejects it or writes elsewhere), its text stays and a ``*_code.sh`` beside it holds what the
code accepts, with a comment saying what differs; the test checks that the doc's text fails
against the code's facts and that cosmos-tui renders the ``*_code.sh`` command. ``golden_doc.read_doc_block``
normalises it with one rule (continuations joined, blank runs collapsed, comments dropped, shell
variables expanded from the block's own ``NAME=value`` lines or from the values a case supplies
below: the preset or ``--set`` supplies the same concrete value). The rendered command is what
the product shows and runs: ``LaunchSpec.shell()``'s last line (``shlex`` quoting, so
``'dataloader_train.sampler.dataset=${dataloader_train.dataset}'`` comes out single-quoted).

Sources:
- t25_guide_*: seed 000 (Cosmos-Transfer2.5 post-training guide), "W&B" options 1 and 2.
- t25_singleview_edge: cosmos-transfer2.5 2ff49d0 docs/post-training_singleview.md "Step 3: Start
  Training".
- t25_auto_multiview: cosmos-transfer2.5 docs/post-training_auto_multiview.md §2.
- t25_agibot_edge: cosmos-transfer2.5 docs/post-training_agibot_multiview.md §2.2 (at 2ff49d0):
  ``data.root`` alone renders the dataset folder and the sampler override the doc writes, which
  the adapter adds (the preset has no sampler override).
- p25_*: cosmos-predict2.5 docs/post-training_video2world_cosmos_nemo_assets.md §2.1 and
  docs/post-training_cosmos_nemo_assets_lora.md §2.2 / §3.1.
- p1_s2mv_*_node: seed 003 (Predict1 Single2MultiView guide) and upstream-contracts.md §1.2.
- p1_s2mv_inference: cosmos-predict1 2b446eb examples/post-training_diffusion_single2multiview.md
  "Running Inference" (rejected by the script's argparse; p1_s2mv_inference_code.sh is accepted).
- c3_fd_droid_*: cosmos-framework 5eee9ed docs/action_fd_droid_posttrain.md "Validate The Config"
  and "Run Training" (the multi-node block's override is refused; c3_fd_droid_multi_node_code.sh
  has the Hydra key). c3_launch_vision_sft_*: the command examples/launch_sft_<recipe>.sh runs.
- convert_dcp_t25: cosmos-transfer2.5 2ff49d0 docs/post-training_singleview.md "Convert DCP to
  PyTorch" (globs a job folder no experiment writes; convert_dcp_t25_code.sh names the real one).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from golden_doc import read_doc_block

from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.engines.conversion import plan_dcp_conversion
from cosmos_tui.core.engines.predict1 import (
    P1_ACCEPTED_TRANSFORMERS,
    P1_DOC_NOTE,
    p1_inference_argv,
    place_p1_ema,
)
from cosmos_tui.core.presets import apply_sets, load_preset, resolve_preset

GOLDEN = Path(__file__).parent / "golden"
PACKAGES = {
    "cosmos-transfer2.5": "cosmos_transfer2",
    "cosmos-predict2.5": "cosmos_predict2",
    "cosmos-predict1": "cosmos_predict1",
}

# (golden file, shipped preset, --set items, values the doc leaves to the reader)
TRAIN_CASES = [
    ("t25_guide_wandb_on.sh", "transfer25-vid2vid", ["experiment.name=$EXP"], {}),
    ("t25_guide_wandb_off.sh", "transfer25-vid2vid", ["experiment.name=$EXP", "wandb.mode=disabled"], {}),
    ("t25_singleview_edge.sh", "transfer25-singleview-edge", ["data.root=assets/videoufo"], {}),
    ("t25_auto_multiview.sh", "transfer25-auto-multiview", [], {}),
    (
        "t25_agibot_edge.sh",
        "transfer25-auto-multiview",
        [
            "experiment.name=transfer2_agibot_posttrain_edge_example",
            "data.root=assets/robot_multiview_control_posttrain-agibot",
            "launch.master_port=12345",
        ],
        {},
    ),
    ("p25_video2world_nemo.sh", "predict25-video2world-nemo", [], {}),
    ("p25_lora_nemo_txt.sh", "predict25-lora-nemo-txt", [], {}),
    ("p25_lora_nemo_json.sh", "predict25-lora-nemo-json", [], {}),
    ("p1_s2mv_single_node.sh", "predict1-s2mv-text2world", [], {}),
    (
        "p1_s2mv_multi_node.sh",
        "predict1-s2mv-text2world",
        ["launch.nnodes=4", "launch.rdzv_id=123", "launch.rdzv_endpoint=$MASTER_ADDR:1234"],
        {"MASTER_ADDR": "10.0.0.7"},
    ),
]


def fake_checkout(root: Path, kind: str) -> Path:
    """A folder shaped like the root of an upstream checkout (package folder only)."""
    repo = root / kind
    (repo / PACKAGES[kind]).mkdir(parents=True, exist_ok=True)
    return repo


@pytest.mark.parametrize(
    ("golden", "preset_name", "sets", "supplied"), TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES]
)
def test_shipped_preset_renders_the_doc_command(
    tmp_path: Path, golden: str, preset_name: str, sets: list[str], supplied: dict[str, str]
) -> None:
    doc = read_doc_block(GOLDEN / golden, supplied)
    assert len(doc.commands) == 1, doc.commands
    variables = {**doc.variables}
    sets = [
        s.replace("$EXP", variables.get("EXP", "")).replace("$MASTER_ADDR", variables.get("MASTER_ADDR", ""))
        for s in sets
    ]
    preset = load_preset(resolve_preset(preset_name))
    repo = fake_checkout(tmp_path, preset.engine.kind)
    preset = apply_sets(preset, [f"engine.repo={repo}", *sets])
    adapter = get_adapter(preset.engine.kind)
    spec = adapter.render(preset, {})
    rendered = spec.shell().splitlines()
    assert rendered[0] == f"cd {shlex.quote(str(repo.resolve()))}"
    assert rendered[-1] == doc.commands[0]
    for name, value in doc.exports.items():
        assert spec.env[name] == value
    assert adapter.warnings(preset) == [] or preset.engine.kind == "cosmos-predict1"


def test_the_rendered_argv_is_what_the_shell_would_pass(tmp_path: Path) -> None:
    doc = read_doc_block(GOLDEN / "t25_singleview_edge.sh")
    preset = load_preset(resolve_preset("transfer25-singleview-edge"))
    repo = fake_checkout(tmp_path, "cosmos-transfer2.5")
    spec = get_adapter(preset.engine.kind).render(
        apply_sets(preset, [f"engine.repo={repo}", "data.root=assets/videoufo"]), {}
    )
    assert list(spec.argv) == shlex.split(doc.commands[0])
    assert "dataloader_train.sampler.dataset=${dataloader_train.dataset}" in spec.argv


def _dcp_step(checkpoints: Path, iteration: int) -> Path:
    step = checkpoints / f"iter_{iteration:09d}"
    (step / "model").mkdir(parents=True)
    (checkpoints / "latest_checkpoint.txt").write_text(f"iter_{iteration:09d}\n")
    return step


def _converter_checkout_and_job_dir(tmp_path: Path, preset_name: str, out: Path) -> tuple[Path, Path]:
    """A checkout of the preset's engine that has upstream's DCP converter script, and the job
    folder the preset's run writes under ``out`` (the ``IMAGINAIRE_OUTPUT_ROOT``)."""
    preset = load_preset(resolve_preset(preset_name))
    repo = fake_checkout(tmp_path, preset.engine.kind)
    (repo / "scripts").mkdir()
    (repo / "scripts" / "convert_distcp_to_pt.py").write_text("")
    preset = apply_sets(preset, [f"engine.repo={repo}"])
    job_dir = get_adapter(preset.engine.kind).job_dir(preset, {"IMAGINAIRE_OUTPUT_ROOT": str(out)})
    assert job_dir is not None
    return repo, job_dir


def test_t25_conversion_command(tmp_path: Path) -> None:
    out = tmp_path / "out"
    repo, job_dir = _converter_checkout_and_job_dir(tmp_path, "transfer25-singleview-edge", out)
    step = _dcp_step(job_dir / "checkpoints", 500)
    supplied = {"IMAGINAIRE_OUTPUT_ROOT": str(out)}

    # The doc's text, verbatim: its glob names no folder the experiment writes, so the block
    # fails at its `$(cat $CHECKPOINTS_DIR/latest_checkpoint.txt)`.
    doc_text = (GOLDEN / "convert_dcp_t25.sh").read_text()
    first = tmp_path / "first_line.sh"
    first.write_text(next(line for line in doc_text.splitlines() if line.startswith("CHECKPOINTS_DIR=")))
    pattern = read_doc_block(first, supplied).variables["CHECKPOINTS_DIR"].removeprefix(f"{out}/")
    assert "*" in pattern and not list(out.glob(pattern)) and list(out.glob("*/*/*/checkpoints"))
    with pytest.raises(FileNotFoundError):
        read_doc_block(GOLDEN / "convert_dcp_t25.sh", supplied)

    # What the code writes, and what cosmos-tui renders.
    code = read_doc_block(GOLDEN / "convert_dcp_t25_code.sh", supplied)
    assert code.variables["CHECKPOINTS_DIR"] == str(job_dir / "checkpoints")
    plan = plan_dcp_conversion(step, repo)
    assert plan.method == "upstream-script"
    assert shlex.join(plan.argv) == code.commands[0]
    assert plan.cwd == repo
    same = [
        line for line in (GOLDEN / "convert_dcp_t25.sh").read_text().splitlines() if "2B_edge" not in line
    ]
    assert all(line in (GOLDEN / "convert_dcp_t25_code.sh").read_text() for line in same)


def test_p25_lora_conversion_command_and_job_dir(tmp_path: Path) -> None:
    out = tmp_path / "imaginaire"
    # The doc derives CHECKPOINTS_DIR from IMAGINAIRE_OUTPUT_ROOT; our table must land on it.
    repo, job_dir = _converter_checkout_and_job_dir(tmp_path, "predict25-lora-nemo-txt", out)
    _dcp_step(job_dir / "checkpoints", 1000)
    doc = read_doc_block(GOLDEN / "convert_dcp_p25_lora.sh", {"IMAGINAIRE_OUTPUT_ROOT": str(out)})
    assert doc.variables["CHECKPOINTS_DIR"] == str(job_dir / "checkpoints")
    plan = plan_dcp_conversion(Path(doc.variables["CHECKPOINT_DIR"]), repo)
    assert shlex.join(plan.argv) == doc.commands[0]


P1_PROMPTS = {
    "PROMPT": "A car drives.",
    "PROMPT_LEFT": "left view",
    "PROMPT_RIGHT": "right view",
    "PROMPT_BACK": "back",
    "PROMPT_BACK_LEFT": "back left",
    "PROMPT_BACK_RIGHT": "back right",
}


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_p1_inference_command_follows_the_code_and_says_where_the_doc_differs() -> None:
    doc = read_doc_block(GOLDEN / "p1_s2mv_inference.sh", P1_PROMPTS)
    code = read_doc_block(GOLDEN / "p1_s2mv_inference_code.sh", P1_PROMPTS)
    assert doc.command_env == code.command_env == {"CUDA_HOME": "$CONDA_PREFIX", "PYTHONPATH": "$(pwd)"}
    doc_argv, code_argv = shlex.split(doc.commands[0]), shlex.split(code.commands[0])

    # The doc's value is not among the script's argparse choices (cosmos-predict1 2b446eb); ours is.
    assert _flag(doc_argv, "--diffusion_transformer_dir") not in P1_ACCEPTED_TRANSFORMERS
    assert _flag(code_argv, "--diffusion_transformer_dir") in P1_ACCEPTED_TRANSFORMERS
    differs = {i for i, (a, b) in enumerate(zip(doc_argv, code_argv, strict=True)) if a != b}
    assert [doc_argv[i - 1] for i in sorted(differs)] == ["--checkpoint_dir", "--diffusion_transformer_dir"]

    prompts = {k.lower(): v for k, v in P1_PROMPTS.items()}
    save_name = _flag(doc_argv, "--video_save_name")
    rendered = p1_inference_argv(_flag(doc_argv, "--view_condition_video"), prompts, save_name)
    assert rendered == code_argv
    # Next to the command, cosmos-tui says what the doc passes and why it is not used.
    assert _flag(doc_argv, "--diffusion_transformer_dir") in P1_DOC_NOTE and "rejects" in P1_DOC_NOTE


def test_p1_placement_is_what_the_code_accepted_command_loads(tmp_path: Path) -> None:
    repo = fake_checkout(tmp_path, "cosmos-predict1")
    checkpoints = repo / "checkpoints"
    for shared in ("Cosmos-Tokenize1-CV8x8x8-720p", "google-t5/t5-11b", "nvidia/Cosmos-Guardrail1"):
        (checkpoints / shared).mkdir(parents=True)
    base = checkpoints / "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView" / "t2w_model.pt"
    base.parent.mkdir(parents=True)
    base.write_bytes(b"base weights")
    job = (
        checkpoints
        / "posttraining"
        / "diffusion_text2world"
        / "text2world_singletomultiview_7b_example_waymo"
    )
    ema = job / "checkpoints" / "iter_000001000_ema_model.pt"
    ema.parent.mkdir(parents=True)
    ema.write_bytes(b"post-trained")

    plan = place_p1_ema(ema, repo)
    argv = shlex.split(read_doc_block(GOLDEN / "p1_s2mv_inference_code.sh", P1_PROMPTS).commands[0])
    root = repo / _flag(argv, "--checkpoint_dir")
    assert (root / _flag(argv, "--diffusion_transformer_dir")).read_bytes() == b"post-trained"
    assert (root / "model.pt").read_bytes() == b"post-trained"  # where the doc copies it
    assert base.read_bytes() == b"base weights"  # the downloaded weights are untouched
    for shared in ("Cosmos-Tokenize1-CV8x8x8-720p", "google-t5/t5-11b", "nvidia/Cosmos-Guardrail1"):
        assert (root / shared).resolve() == (checkpoints / shared).resolve()
    assert plan.outputs == (root / "model.pt", root / _flag(argv, "--diffusion_transformer_dir"))
    assert "ln -sfn ../google-t5" in plan.shell()
    place_p1_ema(ema, repo, yes=True)  # again: links already there are kept
    assert (root / "google-t5").is_symlink()


# cosmos-framework (Cosmos 3) at 5eee9ed: docs/action_fd_droid_posttrain.md's blocks, verbatim, and
# each vision launcher's command written out from examples/launch_sft_<recipe>.sh (docs/training.md
# runs those scripts; what they run is the code, so the golden is the code's command).
C3_LAUNCH_CASES = [
    ("c3_launch_vision_sft_nano.sh", "cosmos3-vision-sft-nano"),
    ("c3_launch_vision_sft_super.sh", "cosmos3-vision-sft-super"),
    ("c3_launch_vision_sft_edge.sh", "cosmos3-vision-sft-edge"),
]


def _framework_checkout(root: Path, *recipes: str) -> Path:
    """The FakeCheckout of cosmos-framework, with a small recipe TOML for each of ``recipes``."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
    from replay_engine.checkout import RECIPE_TOML, make_fake_framework_checkout

    repo = make_fake_framework_checkout(root).resolve()
    for recipe in recipes:
        (repo / "examples/toml/sft_config" / f"{recipe}.toml").write_text(
            RECIPE_TOML.format(recipe=recipe, cp=1)
        )
    return repo


@pytest.mark.parametrize(("golden", "preset_name"), C3_LAUNCH_CASES, ids=[c[0] for c in C3_LAUNCH_CASES])
def test_cosmos3_presets_render_their_launchers_command(
    tmp_path: Path, golden: str, preset_name: str
) -> None:
    repo = _framework_checkout(tmp_path, "vision_sft_edge")
    doc = read_doc_block(GOLDEN / golden, {"WORKDIR": str(repo)})
    preset = apply_sets(load_preset(resolve_preset(preset_name)), [f"engine.repo={repo}"])
    adapter = get_adapter(preset.engine.kind)
    spec = adapter.render(preset, {})
    rendered = spec.shell().splitlines()
    assert rendered[0] == f"cd {shlex.quote(str(repo))}"
    assert rendered[-1] == doc.commands[0]
    assert doc.command_env == {"PYTHONPATH": "."} and spec.env["PYTHONPATH"] == str(repo)  # cwd is the repo
    assert {k: spec.env[k] for k in doc.exports} == doc.exports
    assert set(spec.env) == {*doc.exports, "PYTHONPATH"}
    # What the launcher checks before torchrun is said before the launch, until it is there.
    assert [w.split(" ", 1)[0] for w in adapter.warnings(preset)] == ["DATASET_PATH", "WAN_VAE_PATH"]
    Path(spec.env["DATASET_PATH"]).mkdir(parents=True)
    Path(spec.env["WAN_VAE_PATH"]).parent.mkdir(parents=True)
    Path(spec.env["WAN_VAE_PATH"]).write_bytes(b"vae")
    assert adapter.warnings(preset) == []


def test_cosmos3_fd_droid_doc_commands(tmp_path: Path) -> None:
    repo = _framework_checkout(tmp_path, "action_fd_droid_posttrain")
    recipe = repo / "examples/toml/sft_config/action_fd_droid_posttrain.toml"  # FSDP 8, as upstream's
    recipe.write_text(
        recipe.read_text().replace("data_parallel_shard_degree = -1", "data_parallel_shard_degree = 8")
    )
    preset = apply_sets(
        load_preset(resolve_preset("cosmos3-action-fd-droid-posttrain")), [f"engine.repo={repo}"]
    )
    adapter = get_adapter(preset.engine.kind)
    # The doc's block leaves the port to torchrun; the preset keeps the launcher's 50012.
    doc_preset = preset.model_copy(deep=True)
    doc_preset.launch.master_port = None
    single = read_doc_block(GOLDEN / "c3_fd_droid_single_node.sh")
    assert adapter.render(doc_preset, {}).shell().splitlines()[-1] == single.commands[0]
    assert single.command_env == {"PYTHONPATH": "."}

    dryrun = read_doc_block(GOLDEN / "c3_fd_droid_dryrun.sh")
    argv = adapter.dryrun_argv(preset)
    assert shlex.join(["python", *argv[1:]]) == dryrun.commands[0]

    # Multi-node: the doc's override is refused (the key is not Hydra's); the code's is accepted.
    supplied = {"NNODES": "2", "NODE_RANK": "0"}
    doc = read_doc_block(GOLDEN / "c3_fd_droid_multi_node.sh", supplied)
    code = read_doc_block(GOLDEN / "c3_fd_droid_multi_node_code.sh", supplied)
    for block, refused in ((doc, True), (code, False)):
        override = block.commands[0].split(" -- ", 1)[1]
        two = apply_sets(
            preset, ["launch.nnodes=2", f"experiment.overrides=[{override!r}]".replace("'", '"')]
        )
        problems = adapter.problems(two)
        assert bool(problems) is refused, problems
    assert (
        "model.config.parallelism.data_parallel_replicate_degree"
        in adapter.problems(
            apply_sets(
                preset, ['experiment.overrides=["model.parallelism.data_parallel_replicate_degree=2"]']
            )
        )[0]
    )
