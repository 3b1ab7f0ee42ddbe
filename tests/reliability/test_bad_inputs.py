"""Bad inputs, fuzzed with hypothesis where it fits: each gives one clear message and a non-zero
exit (or a report of findings), never a traceback, never a hang, never executed code.

Preset files (wrong types, unknown keys, huge values, path traversal in names, non-UTF-8),
``--set`` override strings, random CLI arguments, randomly corrupted mp4 and embedding files,
hostile log lines, hostile pickles wherever embeddings or checkpoint metadata are read.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
import string
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.waymo import synth_waymo
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.datasets.validate import validate
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.logline import parse_line
from cosmos_tui.core.monitor.metrics import parse_iter_line, parse_jsonl_record, scan_bytes
from cosmos_tui.core.presets import Preset, apply_sets, load_preset, resolve_preset

pytestmark = pytest.mark.timeout(240)
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SECTIONS = ["model", "engine", "experiment", "data", "launch", "env", "wandb", "bogus", ""]
KEYS = [
    "id",
    "kind",
    "name",
    "overrides",
    "layout",
    "root",
    "nproc_per_node",
    "nnodes",
    "master_port",
    "max_restarts",
    "target",
    "mode",
    "extra",
    "HF_HOME",
    "rdzv_endpoint",
    "zzz",
    "../x",
]
VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=30),
    st.just("x" * 100_000),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.text(max_size=10), max_size=3),
    st.dictionaries(st.sampled_from(KEYS), st.text(max_size=5), max_size=2),
)
PRESETS = st.dictionaries(
    st.sampled_from(SECTIONS),
    st.one_of(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4), VALUES),
    max_size=5,
)


def _clean(result) -> None:
    """A CLI result that ended on purpose: exit 0/1/2, no traceback, no stray exception."""
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in text, text[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2), (result.exit_code, text[-1000:])


# -- presets --------------------------------------------------------------------------------------


@FUZZ
@given(data=PRESETS)
def test_fuzzed_preset_files_load_or_say_why(tmp_path: Path, data: dict) -> None:
    path = tmp_path / "fuzz.toml"
    try:
        path.write_bytes(tomli_w.dumps(data).encode())
    except (TypeError, ValueError):
        return  # not representable in TOML (NaN inside arrays and the like)
    try:
        assert isinstance(load_preset(path), Preset)
    except UserError as e:
        assert str(e).strip()
    _clean(CliRunner().invoke(app, ["preset", "validate", str(path)]))


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe\x00bad", b'[model]\nid = "\xc3\x28"\n', b"\x00" * 100, b"[[[", b"a = 1\n" * 50_000],
)
def test_non_utf8_and_garbage_preset_files(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(raw)
    with pytest.raises(UserError):
        load_preset(path)
    result = CliRunner().invoke(app, ["preset", "validate", str(path)])
    _clean(result)
    assert result.exit_code != 0


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "..", "../presets/builtin-demo", "/etc/shadow", "a/../../b", "nul\x00l", ""]
)
def test_path_traversal_in_preset_names(name: str) -> None:
    try:
        path = resolve_preset(name)
    except UserError:
        pass
    else:  # an explicit path is allowed, but then it must load as a preset or say why
        with pytest.raises(UserError):
            load_preset(path)
    _clean(CliRunner().invoke(app, ["preset", "validate", name]))


# -- overrides and CLI arguments ----------------------------------------------------------------

OVERRIDE = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda s, k, v: f"{s}.{k}={v}", st.sampled_from(SECTIONS), st.sampled_from(KEYS), st.text(max_size=20)
    ),
)


@FUZZ
@given(sets=st.lists(OVERRIDE, min_size=1, max_size=4))
@example(sets=["experiment.overrides=", "="])  # found by this test: an AttributeError traceback
def test_fuzzed_override_strings(sets: list[str]) -> None:
    try:
        assert isinstance(apply_sets(Preset(), sets), Preset)
    except UserError as e:
        assert str(e)


WORDS = [
    "models",
    "list",
    "show",
    "preset",
    "validate",
    "render",
    "new",
    "runs",
    "logs",
    "stop",
    "rm",
    "resume",
    "rerun",
    "ckpt",
    "verify",
    "export",
    "prune",
    "pin",
    "forecast",
    "data",
    "layouts",
    "synth",
    "--json",
    "--yes",
    "--dry-run",
    "--set",
    "--layout",
    "-n",
    "--lines",
    "builtin-demo",
    "latest",
    "x=1",
    "launch.nproc_per_node=0",
    "../../etc",
    "-1",
    "99999999999999999999",
    "--help",
    "\x00",
    "é",
    "",
]
COMMANDS = ["models", "preset", "runs", "ckpt", "data"]


@FUZZ
@given(
    group=st.sampled_from(COMMANDS),
    rest=st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=6),
)
def test_fuzzed_cli_arguments(tmp_path: Path, group: str, rest: list[str]) -> None:
    if group == "data" and "synth" in rest:
        rest = [w for w in rest if w != "synth"]
    _clean(CliRunner().invoke(app, [group, *rest], catch_exceptions=True))


# -- dataset trees ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_waymo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_waymo(tmp_path_factory.mktemp("fuzzdata") / "w", clips=2, frames=8, size=(32, 48))


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4))
def test_random_corruption_of_mp4_and_embeddings_gives_findings(
    small_waymo: Path, tmp_path_factory, seed: int, n: int
) -> None:
    root = tmp_path_factory.mktemp("corrupt") / "w"
    shutil.copytree(small_waymo, root)
    rng = random.Random(seed)
    files = sorted(p for p in root.rglob("*") if p.suffix in (".mp4", ".pkl"))
    for path in rng.sample(files, n):
        data = bytearray(path.read_bytes())
        how = rng.choice(["truncate", "flip", "junk", "empty"])
        if how == "truncate":
            data = data[: rng.randrange(len(data))]
        elif how == "flip":
            for _ in range(rng.randint(1, 64)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif how == "junk":
            data = bytearray(rng.randbytes(rng.randint(1, 4096)))
        else:
            data = bytearray()
        path.write_bytes(bytes(data))
    report = validate(root, "predict1-waymo", deep=rng.random() < 0.5, workers=1)
    assert report is not None


# -- log lines ------------------------------------------------------------------------------------

ANSI = st.lists(
    st.sampled_from(["\x1b[31m", "\x1b[0m", "\x1b[2K", "\x1b[1;32;40m", "\r", "\x1b]0;t\x07", "\x1b["])
)


@FUZZ
@given(raw=st.binary(max_size=2000), ansi=ANSI, text=st.text(max_size=200))
def test_log_parsers_never_raise_on_junk(raw: bytes, ansi: list[str], text: str) -> None:
    junk = raw.decode("utf-8", "replace")
    for line in (junk, "".join(ansi) * 50 + text, f"Iteration {text}: Hit counter: {junk}", text):
        parse_line(line)
        parse_iter_line(line)
        parse_jsonl_record(line)
    scan_bytes(raw + b"\n" + "".join(ansi).encode() * 100)


def test_one_megabyte_lines_and_ansi_floods(tmp_path: Path) -> None:
    big = "x" * (1 << 20)
    flood = "\x1b[31m\x1b[0m" * (1 << 17)
    for line in (big, flood, "Iteration 1: Hit counter: 1/5 | Loss: " + "9" * (1 << 20) + " | Time: 1s"):
        parse_line(line)
        parse_iter_line(line)
    scan_bytes((big + "\n" + flood + "\n").encode() * 2)


# -- hostile pickles ------------------------------------------------------------------------------


class Hostile:
    """A pickle that creates a marker file when (and only when) it is unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickles_in_embeddings_and_checkpoint_metadata_are_never_run(
    small_waymo: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "PWNED"
    root = tmp_path / "w"
    shutil.copytree(small_waymo, root)
    evil = pickle.dumps(Hostile(marker))
    for path in [*root.glob("t5_xxl/*/*.pkl"), *root.glob("cache/*.pkl")][:4]:
        path.write_bytes(evil)
    ckpts = tmp_path / "job" / "checkpoints"
    for part in ("model", "optim", "scheduler", "trainer"):
        (ckpts / "iter_000000002" / part).mkdir(parents=True)
        (ckpts / "iter_000000002" / part / ".metadata").write_bytes(evil)
    (ckpts / "latest_checkpoint.txt").write_text("iter_000000002\n")
    runner = CliRunner()
    calls = [
        ["data", "validate", str(root), "--layout", "predict1-waymo"],
        ["data", "validate", str(root), "--layout", "predict1-waymo", "--fix"],
        ["ckpt", "list", str(ckpts), "--json"],
        ["ckpt", "verify", str(ckpts)],
        ["ckpt", "export", str(ckpts / "iter_000000002"), "--out", str(tmp_path / "out")],
    ]
    for argv in calls:
        result = runner.invoke(app, argv)
        _clean(result)
        assert not marker.exists(), f"{argv} executed the pickle"
    assert runner.invoke(app, calls[0]).exit_code == 1
    assert runner.invoke(app, calls[3]).exit_code == 1


def test_load_path_to_a_pt_crafted_to_run_code_is_refused(tmp_path: Path, small_waymo: Path) -> None:
    import subprocess
    import sys

    import torch

    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pt"
    torch.save({"net.x": Hostile(marker)}, evil)
    cmd = [
        sys.executable,
        "-m",
        "cosmos_engine.train",
        "--",
        "experiment=s2mv_text2world_tiny",
        f"dataloader_train.dataset.dataset_dir={small_waymo}",
        f"checkpoint.load_path={evil}",
        "trainer.max_iter=1",
        "job.wandb_mode=disabled",
        "dataloader_train.num_workers=0",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "IMAGINAIRE_OUTPUT_ROOT": str(tmp_path / "out")}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and str(evil) in errors[0], done.stderr[-2000:]
    assert not marker.exists()


def test_hostile_names_in_argv_are_not_shell_expanded(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED2"
    name = f"$(touch {marker});`touch {marker}`"
    _clean(CliRunner().invoke(app, ["preset", "validate", name]))
    _clean(CliRunner().invoke(app, ["runs", "show", name]))
    assert not marker.exists()
    assert string.printable  # keeps the import honest for readers grepping for fuzz alphabets
