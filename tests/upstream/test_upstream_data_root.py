"""``data.root`` reaches every copy of the dataset an upstream experiment holds, and the dry run
composes the config the way training does (issue #20, items 1 and 2).

The ReplayEngine test double holds, like the composed upstream configs, a separate copy of the
dataset for the sampler (and for Predict1 and the Predict2.5 LoRA-json experiment, the validation
loader and its sampler), each with its own default folder; it builds the Transfer2.5 samplers only
inside a process group, as upstream's ``dataloader_local`` does.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from replay_engine.checkout import make_fake_checkout
from support.runs import wait_run

from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.launch import resolve_job_dir
from cosmos_tui.core.preflight import check_dryrun
from cosmos_tui.core.presets import apply_sets, load_preset, resolve_preset
from cosmos_tui.core.runs import TERMINAL, prepare, start_run

SAMPLER = "dataloader_train.sampler.dataset"
VAL = "dataloader_val.dataset"
VAL_SAMPLER = "dataloader_val.sampler.dataset"

# shipped preset -> the dataset copies its upstream experiment holds besides dataloader_train.dataset
COPIES = {
    "predict1-s2mv-text2world": {SAMPLER, VAL, VAL_SAMPLER},
    "predict25-video2world-nemo": {SAMPLER},
    "predict25-lora-nemo-json": {SAMPLER, VAL, VAL_SAMPLER},
    "transfer25-auto-multiview": {SAMPLER},
    "transfer25-singleview-edge": {SAMPLER},
}


def _preset(name: str, tmp_path: Path, *sets: str):
    preset = load_preset(resolve_preset(name))
    repo = make_fake_checkout(tmp_path, preset.engine.kind)
    base = [f"engine.repo={repo}", f"engine.python={sys.executable}", f"env.output_root={tmp_path / 'out'}"]
    return apply_sets(preset, [*base, *sets])


def _dataset_dirs(config: object, prefix: str = "") -> dict[str, str]:
    """``node -> dataset_dir`` for every dataset copy in a composed config."""
    found: dict[str, str] = {}
    if isinstance(config, dict):
        for key, value in config.items():
            path = f"{prefix}{key}"
            if key == "dataset_dir":
                found[prefix.rstrip(".")] = value
            else:
                found |= _dataset_dirs(value, path + ".")
    return found


@pytest.mark.parametrize("name", sorted(COPIES))
def test_the_dry_run_composes_every_dataset_copy_on_data_root(tmp_path: Path, name: str) -> None:
    root = tmp_path / "my data"
    job = resolve_job_dir(_preset(name, tmp_path, f"data.root={root}"), {})
    assert job.source == "dryrun", job.note
    dirs = _dataset_dirs(job.config)
    assert set(dirs) == {"dataloader_train.dataset", *COPIES[name]}
    assert set(dirs.values()) == {str(root)}


def test_the_overrides_are_rendered_once_and_quoted_for_the_shell(tmp_path: Path) -> None:
    root = "/data/my set"
    preset = _preset("predict1-s2mv-text2world", tmp_path, f"data.root={root}")
    spec = get_adapter(preset.engine.kind).render(preset, {})
    line = spec.shell().splitlines()[-1]
    assert line.endswith(
        "-- experiment=text2world_singletomultiview_7b_example_waymo "
        "'dataloader_train.dataset.dataset_dir=/data/my set' "
        "'dataloader_train.sampler.dataset=${dataloader_train.dataset}' "
        "'dataloader_val.dataset=${dataloader_train.dataset}' "
        "'dataloader_val.sampler.dataset=${dataloader_train.dataset}'"
    )
    assert shlex.split(line) == list(spec.argv)
    # The single-view preset carries the documented sampler override itself: not written twice.
    edge = _preset("transfer25-singleview-edge", tmp_path, f"data.root={root}")
    argv = get_adapter(edge.engine.kind).render(edge, {}).argv
    assert sum(a.startswith(f"{SAMPLER}=") for a in argv) == 1


def test_a_validation_folder_of_ones_own_is_kept_and_its_sampler_follows_it(tmp_path: Path) -> None:
    preset = _preset(
        "predict25-lora-nemo-json",
        tmp_path,
        f"data.root={tmp_path / 'train'}",
        f"experiment.overrides+={VAL}.dataset_dir={tmp_path / 'validation'}",
    )
    dirs = _dataset_dirs(resolve_job_dir(preset, {}).config)
    assert dirs[SAMPLER] == str(tmp_path / "train")
    assert dirs[VAL] == dirs[VAL_SAMPLER] == str(tmp_path / "validation")


@pytest.mark.parametrize(
    "sets",
    [
        ["data.root=${oc.env:HF_TOKEN}"],
        ["data.root=/data", "experiment.overrides+=dataloader_val.dataset=${oc.env:HF_TOKEN}"],
    ],
)
def test_a_resolver_call_from_the_user_is_still_refused(tmp_path: Path, sets: list[str]) -> None:
    with pytest.raises(UserError, match="resolver call"):
        preset = _preset("predict1-s2mv-text2world", tmp_path, *sets)
        get_adapter(preset.engine.kind).render(preset, {})


def test_the_singleview_dry_run_composes_as_for_training(tmp_path: Path) -> None:
    # The shipped preset carries 'dataloader_train.sampler.dataset=${dataloader_train.dataset}';
    # upstream's sampler exists only inside a process group, so a plain `python -m scripts.train
    # --dryrun` cannot override it.
    preset = _preset("transfer25-singleview-edge", tmp_path)
    assert get_adapter(preset.engine.kind).dryrun_argv(preset)[1:5] == [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=1",
    ]
    job = resolve_job_dir(preset, {})
    assert job.source == "dryrun", job.note
    assert SAMPLER in _dataset_dirs(job.config)
    prepared = prepare(preset)
    assert [c for c in prepared.checks if c.name == "dryrun"] == []


def test_a_dry_run_that_fails_is_visible(tmp_path: Path) -> None:
    # An experiment the checkout does not have: the dry run dies with upstream's own error, which
    # the launch would die of too, so it is a failed check (the table still names the job folder).
    preset = _preset(
        "transfer25-singleview-edge", tmp_path, "experiment.name=transfer2_singleview_posttrain_depth_example"
    )
    prepared = prepare(preset)
    assert prepared.job_dir_source == "adapter"
    [check] = [c for c in prepared.checks if c.name == "dryrun"]
    assert check.level == "fail"
    # The engine's own error line, not torchrun's failure summary.
    assert check.message.startswith(
        "the engine's --dryrun exited 1: KeyError: \"Could not find "
        "'experiment/transfer2_singleview_posttrain_depth_example'\""
    )
    # A dry run that cannot run here (no GPU for NCCL on a login node) is only a warning.
    note = "the engine's --dryrun exited 1: RuntimeError: ProcessGroupNCCL is only supported with GPUs"
    [warn] = check_dryrun(preset, "adapter", note)
    assert warn.level == "warn" and "cosmos-tui's own table" in warn.message


@pytest.mark.slow
def test_training_reads_every_dataset_copy_from_data_root(tmp_path: Path) -> None:
    # The experiment's default folders do not exist in the checkout: a copy left on its default
    # path would stop the run with upstream's FileNotFoundError.
    data = tmp_path / "waymo"
    data.mkdir()
    preset = _preset(
        "predict1-s2mv-text2world",
        tmp_path,
        f"data.root={data}",
        "launch.nproc_per_node=1",
        "trainer.max_iter=2",
        "checkpoint.save_iter=2",
    )
    record = start_run(preset, force=True)  # force: preflight wants GPUs for upstream engines
    record = wait_run(record.id, lambda r: r.status in TERMINAL, 150.0)
    log = record.console_log.read_text()
    assert record.status == "finished", (record.reason, log[-2000:])
    for node in ("dataloader_train.dataset", SAMPLER, VAL, VAL_SAMPLER):
        assert f"Dataset {node}: {data}" in log


# What Hydra 1.3's override parser reads back as the same string (checked once against
# hydra-core 1.3.8: ``OverridesParser.create().parse_override(f"k={value}").value() == root``).
@pytest.mark.parametrize(
    ("root", "value"),
    [
        ("/data/waymo", "/data/waymo"),
        ("/data/my set", "/data/my set"),
        ("/a,b", '"/a,b"'),  # bare, a sweep over "/a" and "b"
        ("/a[1]", '"/a[1]"'),
        ("it's", '"it\'s"'),
        ("/a=b", '"/a=b"'),
        ("/ü/x", '"/ü/x"'),
        ("/a#b", '"/a#b"'),
        ("123", '"123"'),  # bare, an int
        ("null", '"null"'),
        ('a"b', '"a\\"b"'),
        ("x\\", '"x\\\\"'),
        ("/a b ", '"/a b "'),  # bare, the trailing blank is dropped
    ],
)
def test_the_folder_is_written_so_hydra_reads_it_back(tmp_path: Path, root: str, value: str) -> None:
    preset = _preset("predict1-s2mv-text2world", tmp_path, f"data.root={root}")
    argv = get_adapter(preset.engine.kind).render(preset, {}).argv
    assert f"dataloader_train.dataset.dataset_dir={value}" in argv
    waymo = _preset(
        "predict25-video2world-nemo",
        tmp_path,
        "experiment.name=predict2_multiview_post_train_waymo",
        f"data.root={root}",
    )
    quoted = value if value.startswith('"') else f'"{value}"'
    assert f"dataloader_train.dataset.video_file_dirs=[{quoted}]" in get_adapter(
        waymo.engine.kind
    ).module_args(waymo)
