"""Presets: one TOML file replays one run.

A preset holds only what differs from the defaults below. Precedence: ``--set`` on the command
line > the preset file > these defaults. Unknown keys, wrong types and values outside the allowed
set fail with one sentence naming the file, the key, the allowed values and close matches.
Secrets never live in presets.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cosmos_tui.core import shell
from cosmos_tui.core.display import printable
from cosmos_tui.core.engines.registry import DEFAULT_KIND, EngineKind
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.interpolation import problem_in_override
from cosmos_tui.core.paths import shipped_presets_dir, state_root

WandbMode = Literal["online", "offline", "disabled"]
Target = Literal["local", "slurm"]

# Names of environment variables that hold secrets. They may be set in the user's environment,
# never in a preset (and never in argv, logs or run records).
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|CREDENTIAL|PRIVATE_KEY)", re.I)


PRESET_MAX_BYTES = 1 << 20
"""A preset file larger than this (1 MiB) is refused before it is read."""

MANAGED_SBATCH_OPTIONS: dict[str, str] = {
    **dict.fromkeys(("--partition", "-p"), "set it with launch.slurm.partition"),
    **dict.fromkeys(("--account", "-A"), "set it with launch.slurm.account"),
    **dict.fromkeys(("--time", "-t"), "set it with launch.slurm.time"),
    **dict.fromkeys(("--job-name", "-J"), "set it with launch.slurm.job_name"),
    **dict.fromkeys(("--gpus-per-node",), "set it with launch.slurm.gpus_per_node"),
    **dict.fromkeys(("--nodes", "-N"), "set it with launch.nnodes"),
    **dict.fromkeys(
        (
            "--output",
            "-o",
            "--error",
            "-e",
            "--open-mode",
            "--export",
            "--signal",
            "--requeue",
            "--no-requeue",
            "--ntasks-per-node",
            "--wrap",
            "--parsable",
        ),
        "the script sets this option itself (its output goes to the run's console.log, its "
        "signal and requeue make a job resumable); remove it",
    ),
}
"""``#SBATCH`` options ``launch.slurm.extra`` may not name, and why."""

SBATCH_OPTIONS_PREFIXING_MANAGED = frozenset({"--gpus", "--ntasks"})
"""Real sbatch options whose names begin a managed one's (``--gpus`` / ``--gpus-per-node``):
sbatch takes an exact name as itself, so these are not abbreviations."""


def managed_sbatch_reason(option: str) -> str | None:
    """Why ``launch.slurm.extra`` may not name ``option`` (an option name as
    :func:`shell.parse_sbatch_extra` returns it), or ``None``.

    sbatch parses ``#SBATCH`` lines with ``getopt_long``, which takes any unambiguous prefix of a
    long option as that option (``--out=F`` is ``--output=F``, ``--sig=KILL`` is ``--signal``), and
    refuses an ambiguous one; so a long option that begins a managed name is refused too, unless it
    is itself a real option (:data:`SBATCH_OPTIONS_PREFIXING_MANAGED`)."""
    if option in MANAGED_SBATCH_OPTIONS:
        return MANAGED_SBATCH_OPTIONS[option]
    if len(option) > 2 and option.startswith("--") and option not in SBATCH_OPTIONS_PREFIXING_MANAGED:
        for name, why in MANAGED_SBATCH_OPTIONS.items():
            if name.startswith("--") and name.startswith(option):
                return f"sbatch reads {option} as an abbreviation of {name}; {why}"
    return None


RESERVED_ENV: dict[str, str] = {
    **dict.fromkeys(("IMAGINAIRE_OUTPUT_ROOT", "OUTPUT_ROOT"), "set it with env.output_root"),
    "HF_HOME": "set it with env.HF_HOME",
    "COSMOS_VERBOSE": "set it with env.cosmos_verbose",
    **dict.fromkeys(
        (
            "PATH",
            "LD_PRELOAD",
            "LD_AUDIT",
            "BASH_ENV",
            "ENV",
            "SHELLOPTS",
            "BASHOPTS",
            "PS4",
            "PROMPT_COMMAND",
            "IFS",
        ),
        "it changes which programs the shell and the loader run, so a preset may not set it",
    ),
    "PYTHONUNBUFFERED": "the launch sets it itself",
}
"""``env.extra`` names a preset may not set, and why (secrets are refused by :data:`SECRET_NAME`,
Slurm's own ``SLURM_*`` variables by their prefix)."""

_JOB_OVERRIDE = re.compile(r"^\+{0,2}job\.(project|group|name)=(.*)$", re.S)
_WHOLE_JOB = re.compile(r"^(?:\+{0,2}|~)job(?:=|$)")
"""An override that sets (or deletes) the whole ``job`` node: its name parts would escape the check."""
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_SLURM_VALUE = re.compile(r"[A-Za-z0-9_.,:+@%=/\-\[\]]+")


def _strings(value: Any) -> Iterable[str]:
    """Every string in ``value`` (keys of mappings included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def job_name_problem(part: str, value: str) -> str | None:
    """Why ``value`` cannot be ``job.<part>`` (a folder under the output root), or ``None``."""
    value = value.strip().strip("'\"")
    if not value or value in (".", "..") or "/" in value or "\\" in value or "\x00" in value:
        return (
            f"job.{part}={value!r} would not be one folder under the output root; use a plain name "
            "(no '/', '\\', '.' or '..', not empty)"
        )
    return shell.problem_in_text(value)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        """No string anywhere in a preset holds a newline or control character: each one may reach a
        command line, a script or a terminal."""
        for text in _strings(value):
            problem = shell.problem_in_text(text)
            if problem:
                raise ValueError(f"{text!r} {problem}")
        return value


class ModelSection(_Section):
    id: str = Field("builtin-s2mv-tiny", description="Catalog id of the model (`cosmos-tui models list`).")


class EngineSection(_Section):
    kind: EngineKind = Field(DEFAULT_KIND, description="Which engine runs the job.")
    repo: str | None = Field(
        None, description="Upstream engines: path to the official repo checkout (the command runs there)."
    )
    python: str | None = Field(
        None, description="Upstream engines: the checkout's Python; detected from .venv or conda when unset."
    )


class ExperimentSection(_Section):
    name: str = Field("s2mv_text2world_tiny", description="Experiment name, as `experiment=NAME`.")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _EXPERIMENT_NAME.fullmatch(value) or value in (".", ".."):
            raise ValueError(
                "an experiment name is letters, digits, '_', '.', '+' and '-' (it names the job folder)"
            )
        return value

    config: str | None = Field(
        None, description="Upstream engines: the `--config=` file, relative to the repo root."
    )
    overrides: list[str] = Field(
        default_factory=list,
        description="Overrides in the engine's own grammar (`key=value`, `+key=value`, `~key`).",
    )

    @field_validator("overrides")
    @classmethod
    def _overrides_are_assignments(cls, value: list[str]) -> list[str]:
        for item in value:
            if not (item.startswith("~") or "=" in item):
                raise ValueError(f"override {item!r} is not `key=value`, `+key=value` or `~key`")
            key = item.split("=", 1)[0].lstrip("+~")
            if not _OVERRIDE_KEY.match(key):
                raise ValueError(
                    f"override {item!r} has no key Hydra can read (write `a.b=value`, `+a.b=value` or `~a.b`)"
                )
            if key == "experiment":
                raise ValueError("set the experiment with `experiment.name`, not an `experiment=` override")
            problem = problem_in_override(item)
            if problem:
                raise ValueError(f"override {item!r}: {problem}")
            if _WHOLE_JOB.match(item):
                raise ValueError(
                    f"override {item!r} sets the whole job node; set job.project, job.group and "
                    "job.name one by one (each is checked to be one folder under the output root)"
                )
            job = _JOB_OVERRIDE.match(item)
            problem = job and job_name_problem(job.group(1), job.group(2))
            if problem:
                raise ValueError(f"override {item!r}: {problem}")
        return value


_OVERRIDE_KEY = re.compile(r"^[A-Za-z_][\w-]*(?:[./@][\w-]+)*$")
"""A Hydra override key: dotted (or ``group/option``, ``@package``) names, none empty."""


class DataSection(_Section):
    layout: str | None = Field(None, description="Dataset layout id (`cosmos-tui data layouts`).")
    root: str | None = Field(None, description="Dataset root folder; passed to the engine's dataset_dir key.")

    @field_validator("root")
    @classmethod
    def _no_resolver(cls, value: str | None) -> str | None:
        problem = problem_in_override(value or "")
        if problem:
            raise ValueError(problem)
        return value


class SlurmSection(_Section):
    partition: str | None = Field(None, description="`#SBATCH --partition`.")
    account: str | None = Field(None, description="`#SBATCH --account`.")
    time: str | None = Field(None, description="`#SBATCH --time`, e.g. `04:00:00`.")
    job_name: str | None = Field(None, description="`#SBATCH --job-name`; defaults to the experiment name.")
    gpus_per_node: int | None = Field(
        None, ge=0, le=64, description="GPUs per node; defaults to nproc_per_node."
    )
    extra: list[str] = Field(default_factory=list, description="Extra `#SBATCH` lines, without the prefix.")

    @field_validator("job_name")
    @classmethod
    def _slurm_job_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9._+-]{1,128}", value):
            raise ValueError(
                "a Slurm job name is letters, digits, '.', '_', '+' or '-' (Slurm output patterns "
                "mangle other characters)"
            )
        return value

    @field_validator("partition", "account", "time")
    @classmethod
    def _one_plain_word(cls, value: str | None) -> str | None:
        if value is not None and not _SLURM_VALUE.fullmatch(value):
            raise ValueError(
                "a Slurm name or time is one word of letters, digits and . , : + @ % = / - [ ] "
                "(no blanks or quotes, which sbatch would split into further options)"
            )
        return value

    @field_validator("extra")
    @classmethod
    def _sbatch_options(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                option, _ = shell.parse_sbatch_extra(item, "")
            except UserError as e:
                raise ValueError(e.message.strip()) from None
            reason = managed_sbatch_reason(option)
            if reason:
                raise ValueError(f"{item!r}: {reason}")
        return value


class LaunchSection(_Section):
    nproc_per_node: int = Field(1, ge=1, le=64, description="Processes (GPUs) per node.")
    nnodes: int = Field(1, ge=1, le=4096, description="Number of nodes.")
    node_rank: int | None = Field(None, ge=0, description="This node's rank (static rendezvous).")
    rdzv_endpoint: str | None = Field(None, description="c10d rendezvous `HOST:PORT` for multi-node runs.")
    rdzv_id: str | None = Field(None, description="Rendezvous id shared by every node of one job.")
    master_port: int | None = Field(
        None, ge=1, le=65535, description="`--master_port`; a free one when unset."
    )
    max_restarts: int = Field(0, ge=0, le=100, description="torchrun `--max-restarts`.")
    target: Target = Field("local", description="Where the job runs.")
    slurm: SlurmSection = Field(default_factory=SlurmSection, description="Slurm options (target = slurm).")


class EnvSection(_Section):
    HF_HOME: str | None = Field(None, description="Hugging Face cache root for the job.")
    output_root: str | None = Field(
        None,
        description="Job output root: IMAGINAIRE_OUTPUT_ROOT (builtin, Transfer2.5, Predict2.5) or "
        "OUTPUT_ROOT (Predict1).",
    )
    cosmos_verbose: bool = Field(False, description="Set COSMOS_VERBOSE=1 (upstream console filter off).")
    extra: dict[str, str] = Field(default_factory=dict, description="Other environment variables.")

    @field_validator("extra")
    @classmethod
    def _no_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            problem = shell.problem_in_env_name(name)
            if problem:
                raise ValueError(problem)
            reserved = RESERVED_ENV.get(name) or (
                "Slurm sets it for each job" if name.startswith("SLURM_") else None
            )
            if reserved:
                raise ValueError(f"{name} cannot go in env.extra: {reserved}")
            if SECRET_NAME.search(name):
                raise ValueError(
                    f"{name} looks like a secret; secrets never live in presets, set it in your "
                    "environment or use `cosmos-tui hf login`"
                )
        return value


class WandbSection(_Section):
    mode: WandbMode | None = Field(None, description="W&B mode; unset leaves the engine's default.")


class PipelineSection(_Section):
    """Optional steps of the engine's pipeline around training (engines that have them)."""

    export: bool = Field(True, description="Export the last checkpoint once training finished.")
    verify: bool = Field(True, description="Smoke-test the export (cosmos-framework: `--verify`).")
    diffusers: bool = Field(False, description="Convert the export to Diffusers as the last step.")


class Preset(_Section):
    """A whole preset. Every section is optional in the file."""

    model: ModelSection = Field(default_factory=ModelSection)
    engine: EngineSection = Field(default_factory=EngineSection)
    experiment: ExperimentSection = Field(default_factory=ExperimentSection)
    data: DataSection = Field(default_factory=DataSection)
    launch: LaunchSection = Field(default_factory=LaunchSection)
    env: EnvSection = Field(default_factory=EnvSection)
    wandb: WandbSection = Field(default_factory=WandbSection)
    pipeline: PipelineSection = Field(default_factory=PipelineSection)
    description: str | None = Field(None, description="One line saying what this preset is for.")

    def to_dict(self) -> dict[str, Any]:
        """Only what differs from the defaults, as plain data (the form written to files)."""
        return self.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


SECTIONS: tuple[str, ...] = tuple(Preset.model_fields)


# -- errors -----------------------------------------------------------------------------------


def _fields_at(loc: Iterable[Any]) -> list[str]:
    """The field names allowed at the parent of ``loc`` (for close-match hints)."""
    model: Any = Preset
    for part in list(loc)[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if (
            field is None
            or not isinstance(field.annotation, type)
            or not issubclass(field.annotation, BaseModel)
        ):
            return []
        model = field.annotation
    return list(getattr(model, "model_fields", {}))


def _explain(error: dict[str, Any], source: str) -> str:
    loc = [str(p) for p in error["loc"]]
    key = ".".join(loc) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(loc)
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f"; did you mean '{'.'.join([*loc[:-1], close[0]])}'?" if close else ""
        return f"{source}: unknown key '{key}'{hint} (allowed here: {', '.join(allowed)})"
    if kind == "literal_error":
        allowed = error.get("ctx", {}).get("expected", "")
        got = error.get("input")
        options = re.findall(r"'([^']*)'", allowed)
        close = difflib.get_close_matches(str(got), options, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"{source}: {key} = {_short_repr(got)} is not allowed (allowed: {allowed}){hint}"
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    got = _short_repr(given)
    if loc[:2] == ["env", "extra"] or isinstance(given, (list, dict)) or got in message:
        # The message names the item already (and env.extra values may be secrets: never echoed).
        return f"{source}: {key}: {message}"
    return f"{source}: {key}: {message} (got {got})"


def _short_repr(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters (a preset value may be huge or deeply nested)."""
    try:
        text = repr(value)
    except RecursionError:
        return "a value nested too deeply"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def preset_from_dict(data: dict[str, Any], *, source: str = "preset") -> Preset:
    """Validate plain data into a :class:`Preset`; errors name ``source`` and the key."""
    try:
        return Preset.model_validate(data)
    except ValidationError as e:
        raise UserError(_explain(e.errors()[0], source)) from None
    except RecursionError:
        raise UserError(f"{source}: values nested too deeply to be a preset") from None


def _read_preset_bytes(path: Path) -> bytes:
    """The bytes of a preset file: a regular file of at most :data:`PRESET_MAX_BYTES` (a FIFO,
    a device such as /dev/zero or an oversized file is refused before reading it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UserError(
            f"{path}: no such preset file; `cosmos-tui preset list` shows the shipped ones"
        ) from None
    except OSError as e:
        raise UserError(f"{path}: cannot read the preset ({(e.strerror or str(e)).lower()})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise UserError(f"{path}: a preset must be a TOML file, and this is {kind}")
    with os.fdopen(fd, "rb") as f:
        if info.st_size > PRESET_MAX_BYTES:
            raise UserError(
                f"{path}: {info.st_size} bytes is too big for a preset (at most {PRESET_MAX_BYTES}); "
                "check that this is the preset you meant"
            )
        try:
            raw = f.read(PRESET_MAX_BYTES + 1)
        except OSError as e:
            raise UserError(f"{path}: cannot read the preset ({(e.strerror or str(e)).lower()})") from None
    if len(raw) > PRESET_MAX_BYTES:
        raise UserError(f"{path}: the file grew past {PRESET_MAX_BYTES} bytes while it was read")
    return raw


def _toml(text: str) -> dict[str, Any]:
    """``tomllib.loads``, with nesting too deep for it reported as a TOML error."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError("arrays or tables nested too deeply") from None


def load_preset(path: str | Path) -> Preset:
    """Read and validate a preset file."""
    path = Path(path)
    raw = _read_preset_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(
            f"{path}: the file is not UTF-8 text (bad byte at offset {e.start}); save it as UTF-8"
        ) from None
    try:
        data = _toml(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML ({e}); fix the syntax and try again") from None
    except RecursionError:
        raise UserError(
            f"{path}: nested too deeply to read (hundreds of levels); no preset is, fix or replace the file"
        ) from None
    return preset_from_dict(data, source=str(path))


def dump_preset(preset: Preset) -> str:
    """The TOML text of ``preset``, holding only what differs from the defaults."""
    return tomli_w.dumps(preset.to_dict())


def save_preset(preset: Preset, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``preset`` to ``path``; refuse to replace an existing file unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise UserError(f"{path} already exists; pass --yes to replace it or choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dump_preset(preset), encoding="utf-8")
    tmp.replace(path)
    return path


# -- --set ------------------------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML array or table when it parses as one, else the plain string
    (pydantic turns ``"4"`` into 4 and ``"true"`` into True where the field wants it)."""
    try:
        value = _toml(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    return value if isinstance(value, (list, dict)) else text


# Top-level preset sections that are also roots of the engines' own configs (upstream has
# `model.config.state_t`): a dotted key under them that is not a preset field goes to the engine.
_SHARED_ROOTS = {"model"}


def _engine_key(head: str) -> bool:
    section, _, rest = head.partition(".")
    if section not in _SHARED_ROOTS or not rest:
        return False
    model = Preset.model_fields[section].annotation
    return rest.split(".", 1)[0] not in getattr(model, "model_fields", {})


def apply_sets(preset: Preset, sets: Iterable[str], *, source: str = "--set") -> Preset:
    """Apply ``--set`` items to a copy of ``preset``.

    ``SECTION.key=value`` (a section of the preset: model, engine, experiment, data, launch, env,
    wandb) sets that preset field, except that ``model.<key>`` other than ``model.id`` is the
    engine's own (upstream ``model.config.state_t``); ``experiment.overrides+=ITEM`` appends one
    override; anything
    else (``trainer.max_iter=10``, ``+key=v``, ``~key``) is an engine override, appended after the
    preset's own so it wins.
    """
    data = preset.model_dump(mode="json")
    for item in sets:
        head = item.split("=", 1)[0].rstrip("+")
        section = head.split(".", 1)[0]
        if "=" in item and section in SECTIONS and not head.startswith(("+", "~")) and not _engine_key(head):
            key, value = item.split("=", 1)
            if key.endswith("+"):
                key = key[:-1]
                node = data
                *parents, leaf = key.split(".")
                for p in parents:
                    node = node.setdefault(p, {})
                node.setdefault(leaf, [])
                if not isinstance(node[leaf], list):
                    raise UserError(f"{source} {item!r}: {key} is not a list, use `=` instead of `+=`")
                node[leaf].append(value)
                continue
            node = data
            *parents, leaf = key.split(".")
            for p in parents:
                if not isinstance(node.get(p, {}), dict):
                    raise UserError(f"{source} {item!r}: {p} is not a section")
                node = node.setdefault(p, {})
            node[leaf] = _parse_value(value)
        elif item.startswith("~") or "=" in item:
            overrides = data["experiment"].get("overrides")
            if not isinstance(overrides, list):  # an earlier item replaced the list
                raise UserError(
                    f"{source} {item!r}: experiment.overrides is not a list here (an earlier item set it "
                    f"to {overrides!r}); add overrides one at a time with experiment.overrides+=ITEM"
                )
            overrides.append(item)
        else:
            raise UserError(f"{source} {item!r}: expected `key=value` (for example `trainer.max_iter=100`)")
    return preset_from_dict(data, source=source)


# -- finding presets ----------------------------------------------------------------------------


def shipped_presets() -> dict[str, Path]:
    """Shipped presets by name (file stem)."""
    return {p.stem: p for p in sorted(shipped_presets_dir().glob("*.toml"))}


PRESET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
"""A saved preset's name: its file stem, runnable by name (``cosmos-tui run NAME``)."""


def saved_presets_dir() -> Path:
    """Where presets saved by name (the wizard's "Save preset") live: ``STATE/presets``."""
    return state_root() / "presets"


def saved_presets() -> dict[str, Path]:
    """Presets saved by name, by name; a shipped name always means the shipped preset."""
    folder = saved_presets_dir()
    if not folder.is_dir():
        return {}
    shipped = shipped_presets()
    return {p.stem: p for p in sorted(folder.glob("*.toml")) if p.stem not in shipped and p.is_file()}


def save_named_preset(preset: Preset, name: str, *, overwrite: bool = False) -> Path:
    """Save ``preset`` as ``name`` among the saved presets, so ``cosmos-tui run NAME`` runs it."""
    if not PRESET_NAME.fullmatch(name) or name.endswith(".toml"):
        raise UserError(
            f"{printable(name)!r} cannot name a preset; use letters, digits, '.', '_' and '-' "
            "(up to 80, starting with a letter or digit)"
        )
    if name in shipped_presets():
        raise UserError(f"'{name}' is a shipped preset's name; choose another name")
    return save_preset(preset, saved_presets_dir() / f"{name}.toml", overwrite=overwrite)


def resolve_preset(name_or_path: str | Path) -> Path:
    """A path as given, or the shipped (else saved) preset of that name."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists() or "/" in str(name_or_path):
        if not path.exists():
            raise UserError(f"{path}: no such preset file; `cosmos-tui preset list` shows the shipped ones")
        return path
    shipped = {**saved_presets(), **shipped_presets()}
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    close = difflib.get_close_matches(str(name_or_path), list(shipped), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `cosmos-tui preset list` shows them"
    raise UserError(f"no preset named '{name_or_path}'{hint}")
