"""One renderer for shell text (issue 19, item 2): random presets, hostile ones among them, rendered
for every target (this machine, each node, the sbatch script).

For each preset: a hostile one (an environment name that is not a POSIX name, a control character
in any value, a resolver call in an override, an ill-formed or reserved ``#SBATCH`` option) is
refused with a UserError; an accepted one renders text that ``bash -n`` accepts and that, run by
bash with recording stubs for ``torchrun``, ``srun`` and ``scontrol`` first on PATH (test doubles:
each appends its argv and environment to a folder), runs exactly the expected commands with
exactly the expected argv and environment values, byte for byte (spaces, quotes, ``$(...)``,
backticks and globs included). The ``#SBATCH`` lines are read back with a transcription of
sbatch's own argument parser (``_get_argument`` in Slurm's src/sbatch/opt.c; a test double, as no
Slurm runs here).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cosmos_tui.core import shell
from cosmos_tui.core.engines.base import LaunchSpec, get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.launch import render
from cosmos_tui.core.launch_multinode import node_commands
from cosmos_tui.core.presets import apply_sets, load_preset, preset_from_dict, resolve_preset
from cosmos_tui.core.slurm import render_sbatch

POSIX_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
NASTY = [
    "a b",
    "it's",
    '"double"',
    "$(touch PWNED)",
    "`touch PWNED`",
    "*",
    "?[a]",
    "~",
    "${HOME}",
    "$HOME",
    "a;b|c&d",
    "\\",
    "-n",
    "",
    "é ü 中",
    "!!",
    "#not a comment",
]
HOSTILE_TEXT = ["a\nb", "\x1b[2J", "ok\r", "x\x00y", "tab\there", "\x7f", "\x85", "a\u2028b"]
HOSTILE_KEYS = ["X=1; touch /tmp/p; Y", "1ABC", "A B", "A-B", "", "$(id)", "A\nB", "Ä", "A;B"]
HOSTILE_OVERRIDES = [
    "job.name=${oc.env:HF_TOKEN}",
    "a=${oc.decode:'1'}",
    "a=$\\{oc.env\\:HOME\\}",
    "a=x${ oc.env : HOME }",
    "a=${${b}:c}",
    "job.name=..",
    "job.group=a/b",
    "+job.project=",
]
HOSTILE_SLURM = [
    ("partition", "gpu\n#SBATCH --uid=0"),
    ("partition", "gpu --uid=0"),
    ("account", 'a"b'),
    ("extra", "--mem=0\nrm -rf /"),
    ("extra", "--output=/etc/passwd"),
    ("extra", "-o /tmp/x"),
    ("extra", "--mem=0 --uid=0"),
    ("extra", "not-an-option"),
    ("extra", "--comment 'unclosed"),
]

text = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
)
safe = text.filter(
    lambda t: not CONTROL.search(t) and (t in NASTY or not ("$" in t and "{" in t and ":" in t))
)
env_key = st.from_regex(r"CT_[A-Za-z0-9_]{0,6}", fullmatch=True)
override = st.one_of(
    st.builds(lambda i, v: f"ct.k{i}={v}", st.integers(0, 9), safe),
    st.sampled_from(["a=${dataloader_train.dataset}", "~ct.gone", "+ct.new=1", "job.name=it's *"]),
)
word = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,7}", fullmatch=True)
# ``launch.slurm.extra`` items as a person writes them: option, value, and how the line spells it.
extra = st.builds(
    lambda name, v, style: (f"--{name}", v, style),
    st.sampled_from(["mem", "constraint", "comment", "qos", "exclusive", "gres"]),
    st.one_of(st.none(), word, st.sampled_from(["a100&ib", "my job", "it's", 'say "hi"', "x#y", "a\\b"])),
    st.sampled_from(["=", " ", "#SBATCH ="]),
)
HOSTILE_KINDS = ("env key", "env value", "override", "override text", "slurm")


@dataclass
class Case:
    """One random preset and what should become of it."""

    env: dict[str, str]
    overrides: list[str]
    slurm: dict[str, object]
    extras: list[tuple[str, str | None]] = field(default_factory=list)
    hostile: str | None = None
    engine: str = "builtin"
    data_root: str | None = None


def _extra_line(option: str, val: str | None, style: str) -> str:
    if val is None:
        return option
    if style == "=":
        return f"{option}={shlex.quote(val)}"
    if style == " ":
        return f"{option} {shlex.quote(val)}"
    return f"#SBATCH {option}={shlex.quote(val)}"


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A preset of safe but awkward values; half of them with one hostile item added."""
    case = Case(draw(st.dictionaries(env_key, safe, max_size=3)), draw(st.lists(override, max_size=3)), {})
    case.engine = draw(st.sampled_from(["builtin", "cosmos-predict2.5"]))
    case.data_root = draw(st.none() | safe.filter(bool))
    if draw(st.booleans()):
        case.slurm["partition"] = draw(word)
    if draw(st.booleans()):
        case.slurm["time"] = draw(st.sampled_from(["04:00:00", "30", "1-00:00"]))
    lines = []
    for option, val, style in draw(st.lists(extra, max_size=2)):
        lines.append(_extra_line(option, val, style))
        case.extras.append((option, val))
    case.slurm["extra"] = lines
    if draw(st.booleans()):
        kind = case.hostile = draw(st.sampled_from(HOSTILE_KINDS))
        at = draw(st.integers(0, 3))
        if kind == "env key":
            case.env[draw(st.sampled_from(HOSTILE_KEYS))] = draw(safe)
        elif kind == "env value":
            case.env[draw(env_key)] = draw(safe) + draw(st.sampled_from(HOSTILE_TEXT)) + draw(safe)
        elif kind == "override":
            case.overrides.insert(at, draw(st.sampled_from(HOSTILE_OVERRIDES)))
        elif kind == "override text":
            case.overrides.insert(at, f"ct.k={draw(safe)}{draw(st.sampled_from(HOSTILE_TEXT))}")
        else:
            key, bad = draw(st.sampled_from(HOSTILE_SLURM))
            if key == "extra":
                lines.insert(at, bad)
            else:
                case.slurm[key] = bad
    return case


def _preset_data(case: Case, repo: Path) -> dict[str, object]:
    if case.engine == "builtin":
        base = load_preset(resolve_preset("builtin-demo")).to_dict()
    else:  # an upstream checkout (its package folder only) run by the `python` on PATH: the stub
        (repo / "cosmos_predict2").mkdir(exist_ok=True)  # what marks a folder as the checkout
        base = load_preset(resolve_preset("predict25-video2world-nemo")).to_dict()
        base["engine"].update(repo=str(repo), python="python")
    if case.data_root is not None:
        base.setdefault("data", {})["root"] = case.data_root
    base.setdefault("experiment", {})["overrides"] = ["trainer.max_iter=1", *case.overrides]
    base.setdefault("env", {})["extra"] = case.env
    base.setdefault("launch", {})["slurm"] = case.slurm
    base["launch"]["nproc_per_node"] = 2
    return base


# -- the recording stubs (test doubles of torchrun, srun and scontrol) ----------------------------

STUB = """#!/bin/bash
n=$(find "$REC" -name '*.argv' | wc -l)
n=$(printf '%03d' "$n")
printf '%s\\0' "${0##*/}" "$@" > "$REC/$n.argv"
env -0 > "$REC/$n.env"
"""


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stubs")
    for name in ("torchrun", "srun", "scontrol", "python"):
        path = folder / name
        path.write_text(STUB + ("echo node7\n" if name == "scontrol" else ""))
        path.chmod(0o755)
    return folder


@dataclass(frozen=True)
class Call:
    argv: list[str]
    env: dict[str, str]


def _run_script(script: str, stubs: Path, rec: Path, extra_env: dict[str, str] | None = None) -> list[Call]:
    for old in rec.glob("*"):
        old.unlink()
    check = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert check.returncode == 0, check.stderr + script
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "REC": str(rec), "HOME": str(rec), **(extra_env or {})}
    proc = subprocess.run(
        ["bash", "-c", script], env=env, cwd=rec, capture_output=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace") + script
    assert not (rec / "PWNED").exists() and not Path.cwd().joinpath("PWNED").exists(), script
    calls = []
    for path in sorted(rec.glob("*.argv")):
        argv = path.read_bytes().decode().split("\0")[:-1]
        env_items = path.with_suffix(".env").read_bytes().decode().split("\0")[:-1]
        calls.append(Call(argv, dict(item.split("=", 1) for item in env_items)))
    return calls


def _contiguous(seq: list[str], sub: list[str]) -> bool:
    return any(seq[i : i + len(sub)] == sub for i in range(len(seq) - len(sub) + 1))


def _assert_env(call: Call, expected: dict[str, str]) -> None:
    for key, val in expected.items():
        assert call.env.get(key) == val, (key, val, call.env.get(key))


def sbatch_arguments(line: str) -> list[str]:
    """The arguments sbatch reads from one ``#SBATCH`` line: a transcription of ``_get_argument``
    (Slurm src/sbatch/opt.c) — blanks split, a backslash escapes the next character, single or
    double quotes group, an unquoted ``#`` ends the line (test double)."""
    rest, args = line.removeprefix("#SBATCH"), []
    i = 0
    while True:
        while i < len(rest) and rest[i].isspace():
            i += 1
        if i >= len(rest):
            return args
        arg, quoted, q, escape = [], False, "", False
        while i < len(rest) and (quoted or not rest[i].isspace()):
            c = rest[i]
            if escape:
                escape = False
            elif c == "\\":
                escape, i = True, i + 1
                continue
            elif quoted:
                if c == q:
                    quoted, i = False, i + 1
                    continue
            elif c in "\"'":
                quoted, q, i = True, c, i + 1
                continue
            elif c == "#":
                if arg:
                    args.append("".join(arg))
                return args
            arg.append(c)
            i += 1
        args.append("".join(arg))


# -- the property --------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_random_presets_render_safely_for_every_target(case: Case, stubs: Path, tmp_path_factory) -> None:
    rec = tmp_path_factory.mktemp("rec")
    data = _preset_data(case, tmp_path_factory.mktemp("checkout"))
    event("refused" if case.hostile else "accepted")
    if case.hostile:
        with pytest.raises(UserError) as refused:
            preset_from_dict(data, source="random.toml")
        assert refused.value.message.startswith("random.toml: ")
        assert "\n" not in refused.value.message
        return
    preset = preset_from_dict(data, source="random.toml")

    # this machine
    spec = render(preset, environ={})
    calls = _run_script(spec.shell(multiline=True), stubs, rec)
    assert [c.argv[0] for c in calls] == ["torchrun"]
    assert calls[0].argv[1:] == list(spec.argv[1:])
    _assert_env(calls[0], {**case.env, **spec.env})
    assert _contiguous(calls[0].argv, ["trainer.max_iter=1", *case.overrides])

    # each node of a two-node job
    two = apply_sets(preset, ["launch.nnodes=2", "launch.rdzv_endpoint=node7:29400"])
    for node in node_commands(two):
        calls = _run_script(node.spec.shell(), stubs, rec)
        assert [c.argv[0] for c in calls] == ["torchrun"]
        assert calls[0].argv[1:] == list(node.spec.argv[1:])
        _assert_env(calls[0], case.env)
        assert shlex.split(node.run_command)[:2] == ["cosmos-tui", "run"]

    # the sbatch script
    script = render_sbatch(apply_sets(preset, ["launch.nnodes=2"]), source="random.toml")
    slurm_env = {"SLURM_JOB_NODELIST": "node[7-8]", "SLURM_NNODES": "2", "SLURM_JOB_ID": "123"}
    calls = _run_script(script.text, stubs, rec, slurm_env)
    assert [c.argv[0] for c in calls] == ["scontrol", "srun"]
    assert calls[0].argv[1:] == ["show", "hostnames", "node[7-8]"]
    adapter_args = get_adapter(preset.engine.kind).module_args(preset)
    assert spec.python == (sys.executable if case.engine == "builtin" else "python")
    assert calls[1].argv[1:] == [
        "--nodes=2",
        "--ntasks-per-node=1",
        "--kill-on-bad-exit=1",
        spec.python,
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        "--nproc_per_node=2",
        "--rdzv_id=123",
        "--rdzv_backend=c10d",
        "--rdzv_endpoint=node7:20123",
        *adapter_args,
    ]
    _assert_env(calls[1], {**case.env, "PYTHONUNBUFFERED": "1", "MASTER_ADDR": "node7"})
    options = [sbatch_arguments(ln) for ln in script.text.splitlines() if ln.startswith("#SBATCH")]
    assert all(len(args) in (1, 2) for args in options), options
    for key in ("partition", "time"):
        if key in case.slurm:
            assert [f"--{key}={case.slurm[key]}"] in options
    expected_extra = [[o] if v is None else [f"{o}={v}"] for o, v in case.extras]
    assert options[-len(expected_extra) :] == expected_extra if expected_extra else True


# -- the renderer on its own, whatever built the values -------------------------------------------


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_export_refuses_names_that_are_not_posix_names(key: str) -> None:
    with pytest.raises(UserError, match="environment variable"):
        shell.export(key, "v")
    spec = LaunchSpec(("torchrun", "-m", "x"), Path("/tmp"), {key: "v"})
    with pytest.raises(UserError):
        spec.shell()


@pytest.mark.parametrize("bad", HOSTILE_TEXT)
def test_every_rendered_value_refuses_control_characters(bad: str) -> None:
    for render_one in (
        lambda: shell.export("A", bad),
        lambda: shell.quote(bad, "x"),
        lambda: shell.join(["ok", bad]),
        lambda: shell.sbatch_line("--partition", bad),
        lambda: LaunchSpec(("torchrun", bad), Path("/tmp")).shell(),
        lambda: LaunchSpec(("torchrun",), Path(f"/tmp/{bad}")).shell(),
    ):
        with pytest.raises(UserError, match=r"newline|control character"):
            render_one()


def test_a_preset_built_in_code_is_refused_at_render_for_every_target() -> None:
    """Validation at load time is one layer; the renderers refuse on their own too (a preset whose
    fields were set without validation, as model_construct allows)."""
    preset = load_preset(resolve_preset("builtin-demo"))
    preset.env.__dict__["extra"] = {"X=1; touch /tmp/p; Y": "v"}
    with pytest.raises(UserError, match="not an environment variable name"):
        render(preset, environ={})
    with pytest.raises(UserError, match="not an environment variable name"):
        render_sbatch(preset)
    preset.env.__dict__["extra"] = {}
    preset.experiment.__dict__["overrides"] = ["job.name=${oc.env:HF_TOKEN}"]
    with pytest.raises(UserError, match="resolver"):
        render(preset, environ={})
    with pytest.raises(UserError, match="resolver"):
        render_sbatch(preset)
    preset.experiment.__dict__["overrides"] = []
    preset.launch.slurm.__dict__["partition"] = "gpu\n#SBATCH --uid=0"
    with pytest.raises(UserError, match="newline"):
        render_sbatch(preset)
    preset.launch.slurm.__dict__["partition"] = None
    preset.launch.slurm.__dict__["extra"] = ["--output=/etc/x"]
    with pytest.raises(UserError, match="sets this option itself"):
        render_sbatch(preset)


@pytest.mark.parametrize(
    ("item", "managed"),
    [
        ("--out=/tmp/x", "--output"),
        ("--outp=/tmp/x", "--output"),
        ("--expo=NONE", "--export"),
        ("--sig=KILL", "--signal"),
        ("--open-m=truncate", "--open-mode"),
        ("--no-req", "--no-requeue"),
        ("--err=/tmp/x", "--error"),
        ("--part=debug", "--partition"),
        ("--gpus-per=4", "--gpus-per-node"),
    ],
)
def test_an_abbreviated_managed_sbatch_option_is_refused(item: str, managed: str) -> None:
    """sbatch's getopt_long takes an unambiguous prefix as the whole option, and a later line wins:
    ``--out=F`` after the script's own ``--output`` would move its log (with ``--open-mode=append``)
    into any file the preset names."""
    with pytest.raises(UserError) as refused:
        apply_sets(load_preset(resolve_preset("builtin-demo")), [f"launch.slurm.extra+={item}"])
    assert f"abbreviation of {managed}" in refused.value.message
    preset = load_preset(resolve_preset("builtin-demo"))
    preset.launch.slurm.__dict__["extra"] = [item]  # past the preset's validation: the script checks too
    with pytest.raises(UserError, match=f"abbreviation of {managed}"):
        render_sbatch(preset)


def test_real_sbatch_options_that_begin_a_managed_name_are_kept() -> None:
    preset = apply_sets(
        load_preset(resolve_preset("builtin-demo")),
        ["launch.slurm.extra+=--gpus=8", "launch.slurm.extra+=--ntasks=4", "launch.slurm.extra+=--mem=0"],
    )
    lines = render_sbatch(preset).text.splitlines()
    for line in ("#SBATCH --gpus=8", "#SBATCH --ntasks=4", "#SBATCH --mem=0"):
        assert line in lines


def test_sbatch_values_with_blanks_and_quotes_are_quoted_for_sbatch() -> None:
    for val in ("my job", 'say "hi"', "back\\slash", "x#y", ":lead"):
        line = shell.sbatch_line("--comment", val)
        assert sbatch_arguments(line) == [f"--comment={val}"], line
    assert shell.sbatch_line("-q", "high") == "#SBATCH -q high"
    with pytest.raises(UserError, match="not an sbatch option"):
        shell.sbatch_line("--bad option", "x")


@pytest.mark.parametrize(
    ("sets", "needle"),
    [
        (['env.extra={"X=1; touch /tmp/p; Y" = "v"}'], "not an environment variable name"),
        (["env.extra.X; touch /tmp/p; Y=v"], "not an environment variable name"),
        (["launch.slurm.partition=gpu\n#SBATCH --uid=0"], "newline"),
        (['launch.slurm.extra=["--mem=0\\n#SBATCH --uid=0"]'], "newline"),
        (["launch.slurm.account=a b"], "one word"),
        (["launch.slurm.extra+=--export=NONE"], "sets this option itself"),
        (["launch.slurm.extra+=--mem=1 --uid=0"], "more than one option"),
        (["launch.slurm.extra+=--out=/tmp/x"], "abbreviation of --output"),
    ],
)
def test_set_gives_one_sentence_naming_the_key(sets: list[str], needle: str) -> None:
    with pytest.raises(UserError) as refused:
        apply_sets(load_preset(resolve_preset("builtin-demo")), sets)
    message = refused.value.message
    assert message.startswith("--set: ") and needle in message and "\n" not in message
    key = sets[0].split("=", 1)[0].removesuffix("+").split(";")[0]
    assert key.rsplit(".", 1)[0] in message


def test_cli_render_refuses_a_hostile_env_key_and_prints_no_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cosmos_tui.cli.app import app

    evil = tmp_path / "evil.toml"
    evil.write_text('[env.extra]\n"X=1; touch /tmp/p; Y" = "v"\n')
    for target in ("local", "slurm", "multinode"):
        extra = ["--nnodes", "2", "--rdzv-endpoint", "h:1"] if target == "multinode" else []
        result = CliRunner().invoke(app, ["preset", "render", str(evil), "--target", target, *extra])
        assert result.exit_code == 1, result.output
        assert "export" not in result.stdout and "touch" not in result.stdout
        assert "not an environment variable name" in result.stderr
        assert "Traceback" not in result.output


def test_the_environment_is_not_consulted_by_the_render() -> None:
    """The rendered text names values only; nothing of the caller's environment is pasted in."""
    preset = apply_sets(load_preset(resolve_preset("builtin-demo")), ["env.extra.CT_A=$HOME"])
    text = render(preset, environ={"HOME": "/should/not/appear"}).shell()
    assert "export CT_A='$HOME'" in text and "/should/not/appear" not in text
    assert os.environ.get("CT_A") is None
