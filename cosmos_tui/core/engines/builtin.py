"""The builtin engine (``cosmos_engine``), launched from this Python environment."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from cosmos_tui.core.engines.base import EngineAdapter, SampleArgs, register
from cosmos_tui.core.overrides import override_value
from cosmos_tui.core.presets import Preset

DEFAULT_PROJECT = "cosmos_engine"
SIZES = ("tiny", "small", "2b")
INFO_TIMEOUT_S = 60.0
"""How long ``python -m cosmos_engine.info`` may take to count parameters."""


@register
class BuiltinAdapter(EngineAdapter):
    kind = "builtin"
    module = "cosmos_engine.train"
    in_this_environment = True
    fit_module = "cosmos_engine.fit"
    save_request_file = "SAVE_NOW"  # engine/trainer.py polls it at each step boundary

    def dryrun_refuses(self, note: str) -> bool:
        """The builtin engine composes on any machine: a failed dry run is a config it refuses."""
        return True

    cpu_fallback = (
        "the builtin engine runs {nproc} CPU process(es) over gloo "
        "(same FSDP2 and checkpoint code as on GPUs, much slower)"
    )
    has_default_dataset = False
    reshard_note = "the builtin engine's DCP checkpoints reshard on load (data order changes)"

    def python(self, preset: Preset) -> str:
        return sys.executable

    def cwd(self, preset: Preset) -> Path:
        return Path.cwd()

    def module_args(self, preset: Preset) -> list[str]:
        args = ["-m", self.module, "--", f"experiment={preset.experiment.name}"]
        if preset.data.root:
            args.append(f"{self.dataset_dir_key}={Path(preset.data.root).expanduser().resolve()}")
        args += preset.experiment.overrides
        if preset.wandb.mode:
            args.append(f"job.wandb_mode={preset.wandb.mode}")
        return args

    def job_dir(self, preset: Preset, environ: dict[str, str]) -> Path | None:
        """``<output root>/<project>/<group>/<name>`` as the engine composes it: project
        ``cosmos_engine``, group the experiment's family (its name without the size), name the
        experiment, each replaced by a ``job.*`` override."""
        experiment = preset.experiment.name
        family, _, size = experiment.rpartition("_")
        group = family if size in SIZES and family else experiment
        project = override_value(preset.experiment.overrides, "job.project") or DEFAULT_PROJECT
        group = override_value(preset.experiment.overrides, "job.group") or group
        name = override_value(preset.experiment.overrides, "job.name") or experiment
        root = preset.env.output_root or environ.get(self.output_root_var) or self.default_output_root
        root_path = Path(root).expanduser()
        if not root_path.is_absolute():
            root_path = self.cwd(preset) / root_path
        return root_path / project / group / name

    def param_count(self, preset: Preset) -> tuple[int, int] | str:
        """From the engine's own ``info`` command, run on the training overrides (not the dataset
        folder, which counting does not read)."""
        args = tuple(a for a in self.module_args(preset)[3:] if not a.startswith(self.dataset_dir_key + "="))
        return _engine_param_count(self.python(preset), str(self.cwd(preset)), args)

    generate_module = "cosmos_engine.generate"
    """The engine's sampler (its own process; see ``engine/generate.py``)."""

    def sample_argv(self, job_dir: Path, request: SampleArgs) -> list[str]:
        argv = [sys.executable, "-m", self.generate_module, "--job", str(job_dir)]
        argv += ["--base"] if request.iteration is None else ["--iter", str(request.iteration)]
        argv += [
            "--prompts",
            str(request.prompts_json),
            "--steps",
            str(request.steps),
            "--out",
            str(request.out),
        ]
        if request.ema is not None:
            argv.append("--ema" if request.ema else "--no-ema")
        if request.overwrite:
            argv.append("--overwrite")
        return argv

    def compare_base_argv(self, job_dir: Path, files: list[Path], prompts_json: Path) -> list[str]:
        argv = [sys.executable, "-m", self.generate_module, "--job", str(job_dir), "--compare-base"]
        for path in files:
            argv += ["--weights", str(path)]
        return [*argv, "--prompts", str(prompts_json)]

    def engine_version(self, preset: Preset) -> str | None:
        try:
            return f"cosmos_engine {version('cosmos-tui')}"
        except Exception:
            return None


@functools.lru_cache(maxsize=32)
def _engine_param_count(python: str, cwd: str, args: tuple[str, ...]) -> tuple[int, int] | str:
    """``(params, params_with_ema)`` from the engine's own ``info`` command, or why not."""
    try:
        proc = subprocess.run(
            [python, "-m", "cosmos_engine.info", "--json", "--no-measure", "--", *args],  # no GPU use
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INFO_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cosmos_engine.info did not finish ({e.__class__.__name__})"
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or [""]
        return f"cosmos_engine.info exited {proc.returncode}: {last[0][:200]}"
    try:
        facts = json.loads(proc.stdout.strip().splitlines()[-1])
        return int(facts["params"]), int(facts["params_with_ema"])
    except (ValueError, KeyError, IndexError, TypeError):
        return "cosmos_engine.info printed no parameter count"
