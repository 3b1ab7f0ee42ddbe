"""Presets that try to escape (issue 19): job names outside the output root, resolver calls that
read the environment, and files that are not presets (deep nesting, /dev/zero, a FIFO, 100 MB).
Each gets one sentence naming the file or ``--set`` and the key; none hangs or raises a traceback."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.interpolation import resolver_call
from cosmos_tui.core.launch import render
from cosmos_tui.core.presets import (
    PRESET_MAX_BYTES,
    apply_sets,
    load_preset,
    preset_from_dict,
    resolve_preset,
    shipped_presets,
)

pytestmark = pytest.mark.timeout(60)


def _demo(*sets: str):
    return apply_sets(load_preset(resolve_preset("builtin-demo")), list(sets))


@pytest.mark.parametrize("part", ["project", "group", "name"])
@pytest.mark.parametrize(
    "bad", ["..", ".", "", "../../etc", "/abs", "a/b", "a\\b", "x\x00y", "a\nb", "'..'", '"../x"']
)
@pytest.mark.parametrize("prefix", ["", "+", "++"])
def test_job_names_that_leave_the_output_root_are_refused(part: str, bad: str, prefix: str) -> None:
    item = f"{prefix}job.{part}={bad}"
    with pytest.raises(UserError) as refused:
        _demo(item)
    message = refused.value.message
    assert message.startswith("--set: experiment.overrides: ") and "\n" not in message
    with pytest.raises(UserError, match=r"experiment\.overrides"):
        preset_from_dict({"experiment": {"overrides": [item]}}, source="shared.toml")


@pytest.mark.parametrize("name", ["../x", "..", "a/b", "a b", "x\ny", ""])
def test_experiment_names_are_plain(name: str) -> None:
    with pytest.raises(UserError, match=r"experiment\.name"):
        _demo(f"experiment.name={name}")


def test_plain_job_names_still_render_where_they_say() -> None:
    spec = render(_demo("job.project=p", "job.group=g.1", "job.name=it's-fine"), environ={})
    assert spec.job_dir is not None and spec.job_dir.parts[-3:] == ("p", "g.1", "it's-fine")


@pytest.mark.parametrize(
    "item",
    [
        "job.name=${oc.env:HF_TOKEN}",
        "job.name='${oc.env:HF_TOKEN}'",
        "job.name=x-${oc.env:HF_TOKEN,default}-y",
        "job.name=${ oc.env : HF_TOKEN }",
        "job.name=$\\{oc.env\\:HF_TOKEN\\}",
        "trainer.max_iter=${oc.decode:'10'}",
        "+job.note=${oc.create:{a: 1}}",
        "job.name=${oc.select:job.group,x}",
        "job.name=${${job.group}:x}",
        "job.name=${oc.env:HF_TOKEN",
        "job.name=[${oc.env:HF_TOKEN}]",
        "job.name={a: ${oc.env:HF_TOKEN}}",
    ],
)
def test_resolver_calls_are_refused_in_overrides(item: str) -> None:
    with pytest.raises(UserError) as refused:
        _demo(item)
    assert "resolver" in refused.value.message and refused.value.message.startswith("--set: ")
    with pytest.raises(UserError, match="resolver"):
        preset_from_dict({"experiment": {"overrides": [item]}}, source="shared.toml")


def test_resolvers_are_refused_where_preset_values_become_overrides() -> None:
    with pytest.raises(UserError, match=r"data\.root: .*resolver"):
        _demo("data.root=/data/${oc.env:HF_TOKEN}")


def test_node_interpolations_stay_allowed_and_the_shipped_presets_all_load() -> None:
    preset = _demo("dataloader_train.sampler.dataset=${dataloader_train.dataset}", "job.name=${job.group}")
    assert "dataloader_train.sampler.dataset=${dataloader_train.dataset}" in preset.experiment.overrides
    for path in shipped_presets().values():
        load_preset(path)
    assert resolver_call("${a.b} ${..c} ${d[0]}") is None
    assert resolver_call("${a.b}${oc.env:X}") == "${oc.env:X}"


# -- files that are not presets -------------------------------------------------------------------


def _refused(path: Path) -> str:
    with pytest.raises(UserError) as refused:
        load_preset(path)
    message = refused.value.message
    assert message.startswith(str(path)) and "\n" not in message
    return message


def test_deeply_nested_toml_is_one_sentence(tmp_path: Path) -> None:
    for body in ("a = " + "[" * 600 + "]" * 600, "a = " + "{b = " * 600 + "1" + "}" * 600):
        path = tmp_path / "deep.toml"
        path.write_text(body)
        assert "nested too deeply" in _refused(path)
    deep_set = "experiment.overrides=" + "[" * 600 + "]" * 600
    with pytest.raises(UserError, match=r"experiment\.overrides"):
        _demo(deep_set)


def test_dev_zero_a_fifo_and_a_huge_file_are_refused_without_reading(tmp_path: Path) -> None:
    assert "not a regular file" in _refused(Path("/dev/zero"))
    link = tmp_path / "zero.toml"
    link.symlink_to("/dev/zero")
    assert "not a regular file" in _refused(link)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    done = threading.Event()
    result: list[str] = []
    thread = threading.Thread(target=lambda: (result.append(_refused(fifo)), done.set()), daemon=True)
    thread.start()
    assert done.wait(10), "reading a FIFO preset hung"
    assert "not a regular file" in result[0]
    big = tmp_path / "big.toml"
    with big.open("wb") as f:
        f.truncate(100 << 20)
    assert "too big for a preset" in _refused(big)
    assert str(PRESET_MAX_BYTES) in _refused(big)
    assert "folder" in _refused(tmp_path)


def test_cli_says_one_sentence_for_each(tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 600 + "]" * 600)
    for target in (str(deep), "/dev/zero"):
        result = CliRunner().invoke(app, ["preset", "validate", target])
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "RecursionError" not in result.output
    result = CliRunner().invoke(app, ["preset", "render", "builtin-demo", "--set", "job.name=../../x"])
    assert result.exit_code == 1 and "one folder under the output root" in result.stderr
    for whole in ("job={name:../../x}", "+job={project:..}", "~job"):  # the whole node at once
        result = CliRunner().invoke(app, ["run", "builtin-demo", "--dry-run", "--set", whole])
        assert result.exit_code != 0 and "sets the whole job node" in result.output, (whole, result.output)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("IMAGINAIRE_OUTPUT_ROOT", "env.output_root"),
        ("HF_HOME", "env.HF_HOME"),
        ("LD_PRELOAD", "may not set it"),
        ("BASH_ENV", "may not set it"),
        ("PATH", "may not set it"),
        ("SLURM_NNODES", "Slurm sets it"),
        ("HF_TOKEN", "looks like a secret"),
    ],
)
def test_env_extra_refuses_names_the_launch_owns(name: str, needle: str) -> None:
    with pytest.raises(UserError) as refused:
        _demo(f"env.extra.{name}=x")
    message = refused.value.message
    assert needle in message and name in message and "'x'" not in message
