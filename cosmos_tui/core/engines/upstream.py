"""What the three official Cosmos repos share: the command is run from the checkout's root by the
checkout's own Python, as the upstream docs write it::

    torchrun OPTIONS ENTRY --config=CONFIG -- experiment=NAME [DATASET_DIR] [OVERRIDES...] [job.wandb_mode=M]

``ENTRY`` is ``-m scripts.train`` (Transfer2.5), ``scripts/train.py`` (Predict2.5 docs) or
``-m cosmos_predict1.diffusion.training.train`` (Predict1). Overrides are Hydra's grammar and
go through verbatim; :meth:`LaunchSpec.shell` quotes ``${...}`` interpolations for the shell.

``DATASET_DIR`` is what ``data.root`` stands for in that experiment (:mod:`.dataroot`): the key
that names the folder and every copy of the dataset that must follow it (the sampler's, the
validation loader's), from the adapter's per-experiment table.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import ClassVar

from cosmos_tui.core.engines.base import EngineAdapter, SampleArgs
from cosmos_tui.core.engines.checkout import (
    detect_kind,
    detect_python,
    read_git_commit,
    read_version,
)
from cosmos_tui.core.engines.dataroot import DATASET_DIR_ONLY, DataRoot
from cosmos_tui.core.engines.jobdir import JobName, table_job_name
from cosmos_tui.core.overrides import override_value
from cosmos_tui.core.presets import ExperimentSection, Preset


class UpstreamAdapter(EngineAdapter):
    """An official Cosmos repo checkout (``engine.repo``) driven with its documented command."""

    runs_from_checkout = True
    package: ClassVar[str]
    """The checkout's Python package, a folder at its root (``cosmos_transfer2``...): it tells
    which engine a checkout is, and ``python -c "import PACKAGE"`` says whether it is set up."""
    job_names: ClassVar[dict[str, JobName]] = {}
    """Experiment -> its job names, as the upstream experiment files set them (the job folder when
    no dry run composes the config; see :mod:`.jobdir`)."""
    entry: ClassVar[tuple[str, ...]] = ("-m", "scripts.train")
    """How the training entry point is named after torchrun's options."""
    default_config: ClassVar[str]
    """The ``--config=`` file when the preset names none."""
    has_wandb_mode: ClassVar[bool] = True
    """Whether the config has ``job.wandb_mode`` (Predict1's has not)."""
    data_roots: ClassVar[dict[str, DataRoot]] = {}
    """Experiment -> what ``data.root`` stands for in its config (read from the upstream
    experiment files); an experiment not listed gets ``dataloader_train.dataset.dataset_dir`` only."""
    distributed_composition: ClassVar[frozenset[str]] = frozenset()
    """Experiments whose config differs when composed inside a distributed job: upstream's data
    registration asks ``torch.distributed.is_initialized()`` when the config is imported and
    builds the sampler only then, so their ``--dryrun`` runs under a one-process torchrun, as
    training composes it."""

    def repo(self, preset: Preset) -> Path | None:
        """The checkout folder (absolute), or ``None`` when the preset names none."""
        if not preset.engine.repo:
            return None
        return Path(preset.engine.repo).expanduser().resolve()

    def python(self, preset: Preset) -> str:
        repo = self.repo(preset)
        if preset.engine.python:
            return preset.engine.python
        found = detect_python(repo)[0] if repo else None
        return found or "python"

    def cwd(self, preset: Preset) -> Path:
        return self.repo(preset) or Path.cwd()

    def config_file(self, preset: Preset) -> str:
        """The ``--config=`` file, relative to the checkout root."""
        return preset.experiment.config or self.default_config

    def extra_overrides(self, preset: Preset) -> list[str]:
        """Overrides the adapter adds after the preset's own (before ``job.wandb_mode``)."""
        return []

    def module_args(self, preset: Preset) -> list[str]:
        args = [
            *self.entry,
            f"--config={self.config_file(preset)}",
            "--",
            f"experiment={preset.experiment.name}",
        ]
        if preset.data.root:
            # As given: a relative dataset folder is relative to the checkout root, as in the docs.
            root = preset.data.root
            root = str(Path(root).expanduser()) if root.startswith("~") else root
            args += self.data_root(preset).overrides(root, preset.experiment.overrides)
        args += preset.experiment.overrides
        args += self.extra_overrides(preset)
        if preset.wandb.mode and self.has_wandb_mode:
            args.append(f"job.wandb_mode={preset.wandb.mode}")
        return args

    def data_root(self, preset: Preset) -> DataRoot:
        """What ``data.root`` stands for in the preset's experiment."""
        return self.data_roots.get(preset.experiment.name, DATASET_DIR_ONLY)

    def dryrun_argv(self, preset: Preset) -> list[str] | None:
        """The ``--dryrun`` command; for an experiment in :attr:`distributed_composition`, run by
        a one-process ``torchrun --standalone`` (``python -m torch.distributed.run``), so the
        launcher starts its process group before importing the config, as in training. The
        composed ``context_parallel_size`` then reads ``WORLD_SIZE=1``; only ``job.*``, the
        iteration counts and the dataset folder are read back from it."""
        argv = super().dryrun_argv(preset)
        if argv is None or preset.experiment.name not in self.distributed_composition:
            return argv
        return [argv[0], "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1", *argv[1:]]

    def problems(self, preset: Preset) -> list[str]:
        problems: list[str] = []
        repo = self.repo(preset)
        if repo is None:
            problems.append(
                f"{self.kind} runs from a checkout of its repo; set engine.repo "
                f"(for example --set engine.repo=/path/to/{self.kind})"
            )
        elif preset.launch.target == "local":
            if not repo.is_dir():
                problems.append(
                    f"engine.repo {repo} is not a folder; clone {self.kind} there or fix the path"
                )
            else:
                found = detect_kind(repo)
                if found is None:
                    problems.append(
                        f"engine.repo {repo} holds no {self.kind} checkout (no {self.package}/ folder "
                        f"in it); clone {self.kind} there or point engine.repo at the clone"
                    )
                elif found != self.kind:
                    problems.append(
                        f"engine.repo {repo} is a {found} checkout but engine.kind is {self.kind}; "
                        "fix one of them"
                    )
        known = self.job_names
        if preset.experiment.name == ExperimentSection.model_fields["name"].default:
            close = ", ".join(sorted(known)[:3])
            problems.append(
                f"experiment.name is the builtin default '{preset.experiment.name}'; set an experiment "
                f"of {self.kind} (for example {close})"
            )
        if not self.has_wandb_mode:
            problems += self._no_wandb_problems(preset)
        return problems

    def _no_wandb_problems(self, preset: Preset) -> list[str]:
        why = (
            f"{self.kind} has no job.wandb_mode key (its training logs nothing to W&B), so the run "
            "would die composing its config"
        )
        problems = []
        if preset.wandb.mode not in (None, "disabled"):
            problems.append(f"wandb.mode = {preset.wandb.mode!r} cannot apply: {why}; unset wandb.mode")
        if override_value(preset.experiment.overrides, "job.wandb_mode") is not None:
            problems.append(f"the override job.wandb_mode=... cannot apply: {why}; remove it")
        return problems

    def engine_version(self, preset: Preset) -> str | None:
        """``VERSION@COMMIT`` of the checkout (either part may be missing)."""
        repo = self.repo(preset)
        if repo is None or not repo.is_dir():
            return None
        version, (commit, _) = read_version(repo), read_git_commit(repo)
        if version and commit:
            return f"{version}@{commit[:12]}"
        return version or commit

    def job_dir(self, preset: Preset, environ: dict[str, str]) -> Path | None:
        """From the shipped table (with ``job.*`` overrides); see :mod:`.jobdir` for the dry run."""
        name = table_job_name(self.kind, preset.experiment.name, preset.experiment.overrides)
        return name.path(self.output_root(preset, environ)) if name else None

    runner_module: ClassVar[str] = "cosmos_tui.core.sampling.upstream"
    """What runs :meth:`inference_plan` as the samples job's process (conversion, input files,
    the script's calls, ``index.json``)."""

    def sample_argv(self, job_dir: Path, request: SampleArgs) -> list[str] | None:
        """The runner of :meth:`inference_plan` (validated now, so a plan that cannot run fails
        before anything starts); ``None`` when the engine has no inference cosmos-tui drives."""
        if request.context is None or self.inference_plan(job_dir, request) is None:
            return None
        argv = [sys.executable, "-m", self.runner_module, "--kind", self.kind, "--job", str(job_dir)]
        argv += ["--iter", str(request.iteration), "--prompts", str(request.prompts_json)]
        argv += ["--out", str(request.out), "--steps", str(request.steps), *request.context.runner_args()]
        return [*argv, "--overwrite"] if request.overwrite else argv

    def experiment_hint(self, name: str) -> str | None:
        """A close known experiment name, for messages."""
        close = difflib.get_close_matches(name, list(self.job_names), n=1)
        return close[0] if close else None
