"""The engine-adapter interface: one shape for the builtin engine and the upstream Cosmos repos.

An adapter answers, for a preset: which command runs it (torchrun options, module, ``--config``,
the leading ``--``, overrides), in which folder and with which environment, where its outputs
land, how its checkpoints look, and what it refuses. Everything that launches, renders or
monitors a run goes through :func:`get_adapter` (from :mod:`.registry`, re-exported here).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from cosmos_tui.core import shell
from cosmos_tui.core.checkpoints.scan import CheckpointInfo
from cosmos_tui.core.engines import conversion
from cosmos_tui.core.engines.inference import InferencePlan, SampleContext
from cosmos_tui.core.engines.registry import get_adapter as get_adapter  # re-exported
from cosmos_tui.core.engines.registry import register as register  # re-exported
from cosmos_tui.core.engines.revisions import RevisionSet, select
from cosmos_tui.core.engines.steps import StepSpec, train_only
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.interpolation import problem_in_override
from cosmos_tui.core.monitor.samples import SampleLayout
from cosmos_tui.core.presets import Preset
from cosmos_tui.core.sampling.prompts import SampleRequest

CheckpointLayout = Literal["dcp", "pt"]


@dataclass(frozen=True)
class NodeRole:
    """Where a render runs: one node's share of a multi-node job (``node_rank`` for static
    rendezvous), or this machine's own launch (``standalone``: with no port set, torchrun binds a
    free one itself, so no other process can take it between choosing and binding)."""

    node_rank: int | None = None
    standalone: bool = False


@dataclass(frozen=True)
class SetupCheck:
    """One line of ``doctor``: what was checked, the verdict, and how to fix a failure."""

    name: str
    """Short label: ``uv``, ``cuda``, ``python``."""
    ok: bool | None
    """``True`` passes, ``False`` fails, ``None`` could not be checked here (no GPU, say)."""
    detail: str
    """What was found, in one sentence."""
    fix: str = ""
    """What to do when it fails (empty when it passes)."""


@dataclass(frozen=True)
class LaunchSpec:
    """Exactly what runs: ``argv`` as documented (starting with ``torchrun``), its folder and the
    environment variables it adds to the caller's environment."""

    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    python: str = "python"
    job_dir: Path | None = None

    def exec_argv(self) -> list[str]:
        """The argv to execute: ``torchrun`` run by the engine's own Python, so the right torch runs."""
        if self.argv and self.argv[0] == "torchrun":
            return [self.python, "-m", "torch.distributed.run", *self.argv[1:]]
        return list(self.argv)

    def shell(self, *, multiline: bool = False) -> str:
        """The command as a person would paste it into a shell: ``cd``, ``export``s, then torchrun
        (rendered by :mod:`cosmos_tui.core.shell`: names checked, values quoted, control
        characters refused)."""
        groups = _wrap(list(self.argv)) if multiline else None
        return shell.command(str(self.cwd), self.env, self.argv, groups=groups)


@dataclass(frozen=True)
class StopSentinel:
    """An engine that is asked to save and stop through files rather than signals (Cosmos 3's
    ``TerminationSignalCheckpoint``: SIGTERM is only logged; the trainer polls for a file at each
    step end, saves, writes a second file, exits 0)."""

    env_var: str
    """The variable naming the folder the engine polls (``SLURM_LOG_DIR``)."""
    request: str
    """The file whose appearance asks for the save (``SIGUSR1_RECEIVED``)."""
    saved: str
    """The file the engine writes once the save is complete (``SIGUSR1_CHECKPOINT_SUCCEEDED``)."""


def _wrap(parts: list[str]) -> list[list[str]]:
    """Group argv for a multi-line display: torchrun and its options, ``-m MODULE``, ``--config``,
    then ``-- FIRST_OVERRIDE`` and each further override on its own line."""
    groups: list[list[str]] = []
    current: list[str] = []
    after_separator = False
    for part in parts:
        starts_group = part in ("--", "-m") or part.startswith("--config") or (after_separator and current)
        if part == "--":
            after_separator = True
        if starts_group and current and current != ["--"]:
            groups.append(current)
            current = []
        current.append(part)
    if current:
        groups.append(current)
    return groups


def torchrun_options(preset: Preset, role: NodeRole | None = None) -> list[str]:
    """torchrun's own options from the preset's launch section, in the upstream docs' order."""
    launch = preset.launch
    opts = [f"--nproc_per_node={launch.nproc_per_node}"]
    if launch.nnodes > 1:
        opts.append(f"--nnodes={launch.nnodes}")
        node_rank = role.node_rank if role and role.node_rank is not None else launch.node_rank
        if launch.rdzv_endpoint:
            opts += ["--rdzv_id", launch.rdzv_id or "cosmos-tui", "--rdzv_backend", "c10d"]
            opts += ["--rdzv_endpoint", launch.rdzv_endpoint]
        elif node_rank is not None:
            opts.append(f"--node_rank={node_rank}")
        else:
            raise UserError(
                "a multi-node launch needs launch.rdzv_endpoint (c10d) or launch.node_rank; "
                "set one with --set launch.rdzv_endpoint=HOST:PORT"
            )
    if not launch.rdzv_endpoint:
        single = launch.nnodes == 1
        if single and launch.max_restarts and launch.master_port is not None:
            # A static rendezvous (--master_port) keeps the first attempt's addresses in its store,
            # so restarted ranks dial ports that are gone and hang; a c10d rendezvous on this host
            # gives every attempt a fresh round.
            opts += ["--rdzv_backend=c10d", f"--rdzv_endpoint=localhost:{launch.master_port}"]
        elif launch.master_port is not None:
            opts.append(f"--master_port={launch.master_port}")
        elif single and (launch.max_restarts or (role is not None and role.standalone)):
            opts.append("--standalone")
    if launch.max_restarts:
        opts.append(f"--max_restarts={launch.max_restarts}")
    return opts


CONFIG_ERROR = re.compile(
    r"Could not override|ConfigCompositionException|ConfigKeyError|ConfigAttributeError|"
    r"MissingConfigException|is not in struct|Key '[^']*' not in|unknown config key|"
    r"Could not find '[^']*'|Config group override must be"
)
"""How Hydra, OmegaConf and the builtin engine say a config does not compose (a key that does not
exist, an experiment that is not there, an override of the wrong shape)."""


@dataclass(frozen=True)
class SampleArgs:
    """What one sampling invocation draws (see :meth:`EngineAdapter.sample_argv`)."""

    iteration: int | None
    """The checkpoint's iteration; ``None``: the weights the job started from (``--base``)."""
    prompts_json: Path
    """The samples to draw: a JSON list of ``{"prompt", "seed", "clip"}``."""
    out: Path
    """The output folder, inside the job folder."""
    steps: int
    """ODE solver steps."""
    ema: bool | None
    """EMA weights (``None``: the engine's default, EMA when the job keeps it)."""
    overwrite: bool = False
    """Replace samples already in ``out``."""
    requests: tuple[SampleRequest, ...] = ()
    """The samples themselves (what ``prompts_json`` will hold), for engines whose input files
    are written from them."""
    context: SampleContext | None = None
    """The job's checkout, experiment and dataset, for engines that run from a checkout."""


class EngineAdapter(ABC):
    """How one kind of engine is driven. Subclasses are stateless; methods take the preset."""

    kind: ClassVar[str]
    output_root_var: ClassVar[str] = "IMAGINAIRE_OUTPUT_ROOT"
    default_output_root: ClassVar[str] = "/tmp/imaginaire4-output"
    checkpoint_layout: ClassVar[CheckpointLayout] = "dcp"
    dataset_dir_key: ClassVar[str] = "dataloader_train.dataset.dataset_dir"
    runs_from_checkout: ClassVar[bool] = False
    """Whether the engine runs from a checkout of its repo (``engine.repo``) rather than from
    this Python environment."""
    in_this_environment: ClassVar[bool] = False
    """Whether the engine runs on this environment's packages (its torch is ours)."""
    fit_module: ClassVar[str | None] = None
    """The engine's fit probe (``python -m MODULE --json -- OVERRIDES`` under torchrun: two real
    steps at the run's shape, one JSON line of memory and step time), which ``cosmos-tui fit`` and
    the preflight ``fit`` row read; ``None``: they judge by the published requirements instead."""
    cpu_fallback: ClassVar[str | None] = None
    """With no GPU visible: ``None`` when the engine needs GPUs, else what it does instead, a
    sentence with ``{nproc}`` for the number of processes."""

    job_dir_fallback: ClassVar[str] = "cosmos-tui's own table of upstream experiments"
    """Where the job folder comes from when the engine's ``--dryrun`` does not answer."""

    def config_overrides(self, preset: Preset) -> list[str]:
        """What the preset's config file itself sets that cosmos-tui reads before launch
        (``trainer.max_iter=...``), as overrides that the preset's own follow (and so win)."""
        return []

    def planned_overrides(self, preset: Preset) -> list[str]:
        """:meth:`config_overrides`, then the preset's overrides: what a launch sets, in order."""
        return [*self.config_overrides(preset), *preset.experiment.overrides]

    def dryrun_refuses(self, note: str) -> bool:
        """Whether a failed ``--dryrun`` (``note``: how it ended, with the engine's last line)
        means the engine refuses this config, so the launch would fail the same way, rather than
        that the dry run could not run here. Default: only a config composition error says so."""
        return bool(CONFIG_ERROR.search(note))

    job_files: ClassVar[tuple[str, ...]] = ("config.yaml", "metrics.jsonl", "wandb_id.txt", "wandb")
    """What the engine writes into a job folder besides ``checkpoints/`` (a removal of the job's
    last run takes these; anything else in the folder is the person's)."""
    has_default_dataset: ClassVar[bool] = True
    """Whether an experiment names its own dataset folder, so ``data.root`` may be left unset."""
    reshard_note: ClassVar[str | None] = None
    """What resuming at another world size does, when the engine's checkpoints reshard on load;
    ``None``: the engine may fail to load them (a resume asks for ``--force``)."""
    weights_in_checkout: ClassVar[bool] = False
    """Whether the engine reads its Hugging Face weights from its checkout's ``checkpoints/``
    folder (a download needs ``--checkpoint-dir``) rather than from the Hugging Face cache."""
    sample_layout: ClassVar[SampleLayout | None] = None
    """Where the engine writes the sample images it draws while training (``None``: none)."""
    stop_sentinel: ClassVar[StopSentinel | None] = None
    """How the engine is asked to save and stop through files (``None``: SIGTERM does it)."""
    save_request_file: ClassVar[str | None] = None
    """The file in the job folder that asks the engine to save at its next step boundary (it
    deletes it once saved); ``None``: the engine takes no such request, so none is written."""
    revision_sets: ClassVar[tuple[RevisionSet, ...]] = ()
    """The Hugging Face revisions this engine's code pins, one set per span of its history,
    oldest first (see :mod:`.revisions`)."""

    @abstractmethod
    def python(self, preset: Preset) -> str:
        """The interpreter that runs torchrun and the engine."""

    @abstractmethod
    def cwd(self, preset: Preset) -> Path:
        """The folder the command runs in."""

    @abstractmethod
    def module_args(self, preset: Preset) -> list[str]:
        """Everything after torchrun's options: ``-m MODULE [--config=...] -- experiment=... ...``."""

    def problems(self, preset: Preset) -> list[str]:
        """Sentences saying why this engine cannot run ``preset`` as written (empty when it can)."""
        return []

    def warnings(self, preset: Preset) -> list[str]:
        """Sentences about what will probably go wrong though the command renders (shown before a
        launch, never fatal), e.g. a context-parallel size that does not divide ``state_t``."""
        return []

    def env(self, preset: Preset) -> dict[str, str]:
        """Variables the job needs, on top of the caller's environment (never secrets)."""
        env: dict[str, str] = {}
        if preset.env.output_root:
            env[self.output_root_var] = preset.env.output_root
        if preset.env.HF_HOME:
            env["HF_HOME"] = preset.env.HF_HOME
        if preset.env.cosmos_verbose:
            env["COSMOS_VERBOSE"] = "1"
        env.update(preset.env.extra)
        return env

    def output_root(self, preset: Preset, environ: dict[str, str]) -> Path:
        """Where job folders land, from the preset, else the environment, else the engine default."""
        root = preset.env.output_root or environ.get(self.output_root_var) or self.default_output_root
        root_path = Path(root).expanduser()
        return root_path if root_path.is_absolute() else self.cwd(preset) / root_path

    def job_dir(self, preset: Preset, environ: dict[str, str]) -> Path | None:
        """The job output folder, when it can be known before the run (``None`` when it cannot)."""
        return None

    def dryrun_argv(self, preset: Preset) -> list[str] | None:
        """The engine's own ``--dryrun`` command (composes the config, writes
        ``<job dir>/config.yaml``, prints its path, does not train); ``None`` if it has none.

        Run it in :meth:`cwd` with :meth:`env` added; :func:`cosmos_tui.core.launch.resolve_job_dir`
        does that and reads ``job.*`` from the written config.
        """
        args = self.module_args(preset)
        cut = args.index("--") if "--" in args else len(args)
        return [self.python(preset), *args[:cut], "--dryrun", *args[cut:]]

    def revision(
        self, repo_id: str, files: tuple[str, ...] = (), checkout: Path | None = None
    ) -> tuple[str, str]:
        """``(revision, note)`` at which this engine's code loads ``repo_id`` (its ``files``), for
        the checkout at ``checkout`` (``None``: the version cosmos-tui targets). ``main`` with a
        note when the engine does not pin it."""
        chosen = select(self.revision_sets, checkout)
        if chosen is None:
            return "main", f"{self.kind} pins no revisions"
        return chosen.revision(repo_id, files)

    def convert(
        self, checkpoint: CheckpointInfo, request: conversion.ConvertRequest
    ) -> conversion.ConversionPlan:
        """Make ``checkpoint`` (of this engine's :attr:`checkpoint_layout`) loadable by the
        engine's inference with ``request``'s checkout and interpreter. DCP: the
        three inference files beside the parts (:func:`.conversion.convert_dcp`)."""
        return conversion.convert_dcp(
            checkpoint.path,
            repo=request.checkout,
            python=request.python,
            yes=request.yes,
            dry_run=request.dry_run,
        )

    def inference_command(
        self, checkpoint: CheckpointInfo, checkout: Path | None, python: str = "python"
    ) -> tuple[str, str | None] | None:
        """The shell text that runs this engine's inference on ``checkpoint`` once converted, and
        a note where it departs from the engine's doc; ``None`` when cosmos-tui prints none."""
        return None

    def sample_argv(self, job_dir: Path, request: SampleArgs) -> list[str] | None:
        """The command that draws the samples ``request`` asks for from ``job_dir``'s weights
        into ``request.out``, in a process of its own; ``None``: cosmos-tui cannot sample this
        engine yet."""
        return None

    def inference_plan(self, job_dir: Path, request: SampleArgs) -> InferencePlan | None:
        """How the engine's own inference script draws ``request`` (the conversion first, the input
        files, each call); ``None`` when the engine has no such script cosmos-tui drives. Raises
        :class:`UserError` for a request the script cannot serve (a sentence saying why)."""
        return None

    def compare_base_argv(self, job_dir: Path, files: list[Path], prompts_json: Path) -> list[str] | None:
        """The command that loads each exported ``files`` the way the engine's sampler loads
        weights, draws one tiny sample from it and from ``job_dir``'s base weights with the first
        sample of ``prompts_json``, and prints one JSON line per file (``loads``, ``identical``,
        ``max_abs_diff``, ``error``); ``None``: not yet for this engine."""
        return None

    def pipeline(self, preset: Preset, job_dir: Path | None, environ: dict[str, str]) -> tuple[StepSpec, ...]:
        """The run's steps in order, one of them ``train`` (see :mod:`.steps`), each saying
        whether its output is already complete (``job_dir``: the job folder, when known;
        ``environ``: the run's environment). Asked at launch and again before each step starts.
        Default: training alone."""
        return train_only()

    def parallelism(self, preset: Preset, job_dir: Path | None, world_size: int) -> str | None:
        """How the run's ``world_size`` processes split the work (``DP 4 x CP 2``), from the
        job's composed config when there is one; ``None`` when the engine does not say."""
        return None

    def param_count(self, preset: Preset) -> tuple[int, int] | str | None:
        """``(params, params_with_ema)`` of the model ``preset`` trains, counted by the engine
        itself, or why it could not; ``None`` when the engine cannot say before the first save."""
        return None

    def config_document(self, preset: Preset) -> tuple[Path, str] | None:
        """``(path, text)`` of a config file the engine reads whole, which ``preset render`` shows
        with the command (cosmos-framework: the recipe TOML); ``None`` when there is none or it
        cannot be read."""
        return None

    def setup_checks(self, repo: Path) -> tuple[SetupCheck, ...]:
        """What a checkout of this engine at ``repo`` needs from the machine beyond its package
        importing (``doctor``); empty when ``repo`` is not this engine's or it needs nothing more."""
        return ()

    def engine_version(self, preset: Preset) -> str | None:
        """The engine's version (or upstream commit), for the run record; ``None`` when unknown."""
        return None

    def render(self, preset: Preset, environ: dict[str, str], role: NodeRole | None = None) -> LaunchSpec:
        """The full launch for ``preset``; raises :class:`UserError` listing what it refuses."""
        problems = self.problems(preset)
        if problems:
            raise UserError("; ".join(problems))
        args = self.module_args(preset)
        refuse_unsafe(args, self.env(preset))
        return LaunchSpec(
            argv=("torchrun", *torchrun_options(preset, role), *args),
            cwd=self.cwd(preset),
            env=self.env(preset),
            python=self.python(preset),
            job_dir=self.job_dir(preset, {**environ, **self.env(preset)}),
        )


def refuse_unsafe(module_args: list[str], env: dict[str, str]) -> None:
    """:class:`UserError` for what no launch may carry, whatever built the preset: an environment
    name that is not a POSIX name, a control character in any value, or a resolver call
    (``${oc.env:...}``) in an override. Preset validation says the same earlier; this holds for
    presets built in code too."""
    for name, value in env.items():
        shell.check_env_name(name, "env.extra")
        shell.check_text(value, f"environment variable {name}")
    cut = module_args.index("--") if "--" in module_args else len(module_args)
    for i, arg in enumerate(module_args):
        shell.check_text(arg, "override" if i > cut else "engine argument")
        problem = problem_in_override(arg) if i > cut else None
        if problem:
            raise UserError(f"override {arg!r}: {problem}")
