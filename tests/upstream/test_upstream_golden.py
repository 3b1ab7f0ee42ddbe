"""Golden commands: every training and conversion command of the seed guides and the upstream
post-training docs, rendered from the shipped presets, byte for byte.

Each ``golden/*.sh`` is a shell block copied verbatim from its doc. ``golden_doc.read_doc_block``
normalises it with one rule (continuations joined, blank runs collapsed, comments dropped, shell
variables expanded from the block's own ``NAME=value`` lines or from the values a case supplies
below: the preset or ``--set`` supplies the same concrete value). The rendered command is what
the product shows and runs: ``LaunchSpec.shell()``'s last line (``shlex`` quoting, so
``'dataloader_train.sampler.dataset=${dataloader_train.dataset}'`` comes out single-quoted).

Sources:
- t25_guide_*: seed 000 (Cosmos-Transfer2.5 post-training guide), "W&B" options 1 and 2.
- t25_singleview_edge: upstream-contracts.md §1.1 (cosmos-transfer2.5 docs/post-training_singleview.md).
- t25_auto_multiview: cosmos-transfer2.5 docs/post-training_auto_multiview.md §2.
- t25_agibot_edge: cosmos-transfer2.5 docs/post-training_agibot_multiview.md §2.2 (at 2ff49d0):
  ``data.root`` alone renders the dataset folder and the sampler override the doc writes, which
  the adapter adds (the preset has no sampler override).
- p25_*: cosmos-predict2.5 docs/post-training_video2world_cosmos_nemo_assets.md §2.1 and
  docs/post-training_cosmos_nemo_assets_lora.md §2.2 / §3.1.
- p1_*: seed 003 (Predict1 Single2MultiView guide) and upstream-contracts.md §1.2 / §4.2.
- convert_dcp_t25: upstream-contracts.md §4.1.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from golden_doc import read_doc_block

from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.engines.conversion import p1_inference_argv, plan_dcp_conversion
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
    ("t25_singleview_edge.sh", "transfer25-singleview-edge", ["data.root=datasets/your_dataset"], {}),
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
        apply_sets(preset, [f"engine.repo={repo}", "data.root=datasets/your_dataset"]), {}
    )
    assert list(spec.argv) == shlex.split(doc.commands[0])
    assert "dataloader_train.sampler.dataset=${dataloader_train.dataset}" in spec.argv


def _dcp_step(checkpoints: Path, iteration: int) -> Path:
    step = checkpoints / f"iter_{iteration:09d}"
    (step / "model").mkdir(parents=True)
    (checkpoints / "latest_checkpoint.txt").write_text(f"iter_{iteration:09d}\n")
    return step


def test_t25_conversion_command(tmp_path: Path) -> None:
    preset = load_preset(resolve_preset("transfer25-singleview-edge"))
    repo = fake_checkout(tmp_path, "cosmos-transfer2.5")
    (repo / "scripts").mkdir()
    (repo / "scripts" / "convert_distcp_to_pt.py").write_text("")
    preset = apply_sets(preset, [f"engine.repo={repo}", f"env.output_root={tmp_path / 'out'}"])
    job_dir = get_adapter(preset.engine.kind).job_dir(preset, {})
    assert job_dir is not None
    step = _dcp_step(job_dir / "checkpoints", 500)
    doc = read_doc_block(GOLDEN / "convert_dcp_t25.sh", {"CHECKPOINTS_DIR": str(job_dir / "checkpoints")})
    plan = plan_dcp_conversion(step, repo)
    assert plan.method == "upstream-script"
    assert shlex.join(plan.argv) == doc.commands[0]
    assert plan.cwd == repo


def test_p25_lora_conversion_command_and_job_dir(tmp_path: Path) -> None:
    out = tmp_path / "imaginaire"
    preset = load_preset(resolve_preset("predict25-lora-nemo-txt"))
    repo = fake_checkout(tmp_path, "cosmos-predict2.5")
    (repo / "scripts").mkdir()
    (repo / "scripts" / "convert_distcp_to_pt.py").write_text("")
    preset = apply_sets(preset, [f"engine.repo={repo}"])
    # The doc derives CHECKPOINTS_DIR from IMAGINAIRE_OUTPUT_ROOT; our table must land on it.
    job_dir = get_adapter(preset.engine.kind).job_dir(preset, {"IMAGINAIRE_OUTPUT_ROOT": str(out)})
    assert job_dir is not None
    _dcp_step(job_dir / "checkpoints", 1000)
    doc = read_doc_block(GOLDEN / "convert_dcp_p25_lora.sh", {"IMAGINAIRE_OUTPUT_ROOT": str(out)})
    assert doc.variables["CHECKPOINTS_DIR"] == str(job_dir / "checkpoints")
    plan = plan_dcp_conversion(Path(doc.variables["CHECKPOINT_DIR"]), repo)
    assert shlex.join(plan.argv) == doc.commands[0]


def test_p1_inference_command() -> None:
    doc = read_doc_block(GOLDEN / "p1_s2mv_inference.sh")
    values = [
        "assets/front.mp4",
        "A car drives.",
        "left view",
        "right view",
        "back",
        "back left",
        "back right",
        "out",
    ]
    expected = doc.commands[0]
    for v in values:
        expected = expected.replace("…", shlex.quote(v), 1)
    prompts = dict(
        zip(
            ["prompt", "prompt_left", "prompt_right", "prompt_back", "prompt_back_left", "prompt_back_right"],
            values[1:7],
            strict=True,
        )
    )
    assert shlex.join(p1_inference_argv(values[0], prompts, values[7])) == expected
