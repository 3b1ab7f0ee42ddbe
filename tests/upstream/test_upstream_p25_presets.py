"""The Predict2.5 presets beyond the nemo examples: GR00T GR1 (2B, 14B), multiview Waymo and
action-conditioned Bridge, rendered against their upstream docs (cosmos-predict2.5 at 7e5ffc8).

Goldens are the docs' blocks verbatim: docs/post-training_video2world_gr00t.md §2.1 / §2.2,
docs/post-training_multiview.md §2, docs/post-training_video2world_action.md. These docs start
training as a module (``-m scripts.train``) where the nemo docs write ``scripts/train.py``; the
adapter renders the entry each experiment's doc writes.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from golden_doc import read_doc_block
from test_upstream_golden import GOLDEN, fake_checkout

from cosmos_tui.core.datasets.layouts import get_layout, min_frames_for
from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.presets import apply_sets, load_preset, resolve_preset

CASES = [
    ("p25_groot_gr1_2b.sh", "predict25-groot-gr1-2b"),
    ("p25_groot_gr1_14b.sh", "predict25-groot-gr1-14b"),
    ("p25_multiview_waymo.sh", "predict25-multiview-waymo"),
    ("p25_action_bridge.sh", "predict25-action-bridge"),
]
IDS = [c[1] for c in CASES]


def _render(tmp_path: Path, preset_name: str) -> tuple[list[str], Path]:
    preset = load_preset(resolve_preset(preset_name))
    repo = fake_checkout(tmp_path, preset.engine.kind)
    preset = apply_sets(preset, [f"engine.repo={repo}"])
    adapter = get_adapter(preset.engine.kind)
    assert adapter.problems(preset) == []
    spec = adapter.render(preset, {})
    return spec.shell().splitlines(), repo


#: Words of a doc command that the shell reads the same quoted, and that cosmos-tui quotes: the
#: Bridge doc's ``~dataloader_train.dataloaders`` is a tilde prefix bash leaves alone only while no
#: user of that name exists.
SHELL_QUOTED = {"p25_action_bridge.sh": ("~dataloader_train.dataloaders",)}


@pytest.mark.parametrize(("golden", "preset_name"), CASES, ids=IDS)
def test_preset_renders_the_doc_command_byte_for_byte(tmp_path: Path, golden: str, preset_name: str) -> None:
    rendered, _ = _render(tmp_path, preset_name)
    (doc,) = read_doc_block(GOLDEN / golden).commands
    for word in SHELL_QUOTED.get(golden, ()):
        assert f" {word}" in doc
        doc = doc.replace(f" {word}", f" {shlex.quote(word)}")
    assert rendered[-1] == doc


@pytest.mark.parametrize(("golden", "preset_name"), CASES, ids=IDS)
def test_dry_run_starts_the_entry_the_doc_writes(tmp_path: Path, golden: str, preset_name: str) -> None:
    rendered, repo = _render(tmp_path, preset_name)
    assert rendered[0] == f"cd {shlex.quote(str(repo.resolve()))}"
    preset = apply_sets(load_preset(resolve_preset(preset_name)), [f"engine.repo={repo}"])
    dry = get_adapter(preset.engine.kind).dryrun_argv(preset)
    assert dry is not None
    assert dry[dry.index("scripts.train") - 1 :][:2] == ["-m", "scripts.train"]
    assert "scripts/train.py" not in dry


def test_nemo_experiments_keep_the_path_entry_their_docs_write(tmp_path: Path) -> None:
    preset = load_preset(resolve_preset("predict25-lora-nemo-json"))
    repo = fake_checkout(tmp_path, preset.engine.kind)
    preset = apply_sets(preset, [f"engine.repo={repo}"])
    spec = get_adapter(preset.engine.kind).render(preset, {})
    assert "torchrun --nproc_per_node=8 scripts/train.py --config=" in spec.shell().splitlines()[-1]


@pytest.mark.parametrize(
    ("preset_name", "job"),
    [
        ("predict25-groot-gr1-2b", "cosmos_predict_v2p5/video2world/2b_groot_gr1_480"),
        ("predict25-groot-gr1-14b", "cosmos_predict_v2p5/video2world/14b_groot_gr1_480"),
        ("predict25-multiview-waymo", "cosmos_predict_v2p5/multiview/2b_waymo"),
        (
            "predict25-action-bridge",
            "cosmos_predict2_action_conditioned/cosmos_predict_v2p5/2b_bridge_action_conditioned",
        ),
    ],
)
def test_preset_job_folder(tmp_path: Path, preset_name: str, job: str) -> None:
    preset = load_preset(resolve_preset(preset_name))
    out = tmp_path / "out"
    job_dir = get_adapter(preset.engine.kind).job_dir(preset, {"IMAGINAIRE_OUTPUT_ROOT": str(out)})
    assert job_dir == out / job


def test_waymo_preset_runs_on_the_eight_ranks_its_context_parallelism_needs() -> None:
    """The experiment sets model_parallel.context_parallel_size=8 (experiments/multiview/waymo.py)."""
    preset = load_preset(resolve_preset("predict25-multiview-waymo"))
    assert preset.launch.nproc_per_node * preset.launch.nnodes == 8


@pytest.mark.parametrize(
    ("preset_name", "frames", "size"),
    [("predict25-groot-gr1-2b", 94, (432, 768)), ("predict25-groot-gr1-14b", 46, (432, 768))],
)
def test_groot_presets_validate_against_the_groot_loader_facts(
    preset_name: str, frames: int, size: tuple[int, int]
) -> None:
    """groot.py: VideoDataset(num_frames=93 | 45, video_size=(432, 768)); randint needs one more."""
    preset = load_preset(resolve_preset(preset_name))
    layout = get_layout(preset.data.layout or "")
    assert min_frames_for(layout, preset.experiment.name) == frames
    assert layout.resolution_for(preset.experiment.name) == size


CP4 = "model_parallel.context_parallel_size=4"  # an engine override


@pytest.mark.parametrize(
    ("sets", "warned"),
    [
        ([], False),  # 8 ranks, context parallel 8
        (["launch.nproc_per_node=4"], True),
        (["launch.nproc_per_node=1"], True),
        (["launch.nproc_per_node=12"], True),  # not a multiple of 8
        (["launch.nproc_per_node=8", "launch.nnodes=2"], False),
        (["launch.nproc_per_node=4", "launch.nnodes=2"], False),
        (["launch.nproc_per_node=4", CP4], False),
        (["launch.nproc_per_node=6", CP4], True),
        (["launch.nproc_per_node=8", CP4, "model_parallel.tensor_model_parallel_size=4"], True),  # 16
    ],
)
def test_waymo_warns_when_the_world_size_is_not_a_multiple_of_its_context_parallelism(
    tmp_path: Path, sets: list[str], warned: bool
) -> None:
    preset = load_preset(resolve_preset("predict25-multiview-waymo"))
    repo = fake_checkout(tmp_path, preset.engine.kind)
    preset = apply_sets(preset, [f"engine.repo={repo}", *sets])
    warnings = get_adapter(preset.engine.kind).warnings(preset)
    assert bool(warnings) is warned, warnings
    if warned:
        (text,) = warnings
        assert "context parallelism" in text and "model_parallel.context_parallel_size" in text


def test_other_predict25_experiments_get_no_context_parallel_warning(tmp_path: Path) -> None:
    preset = load_preset(resolve_preset("predict25-groot-gr1-2b"))
    assert get_adapter(preset.engine.kind).warnings(apply_sets(preset, ["launch.nproc_per_node=3"])) == []


def test_preflight_and_preset_validate_show_the_waymo_warning(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cosmos_tui.cli.app import app
    from cosmos_tui.core.preflight import check_engine_warnings

    preset = load_preset(resolve_preset("predict25-multiview-waymo"))
    repo = fake_checkout(tmp_path, preset.engine.kind)
    sets = [f"engine.repo={repo}", "launch.nproc_per_node=4"]
    (check,) = check_engine_warnings(apply_sets(preset, sets))
    assert check.level == "warn" and "nproc_per_node x nnodes is 4" in check.message
    args = ["preset", "validate", "predict25-multiview-waymo", *(a for s in sets for a in ("--set", s))]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output  # a warning, never fatal
    assert "context parallelism 8 (from experiment predict2_multiview_post_train_waymo)" in res.stderr
