"""The builtin engine (``cosmos_engine``), launched from this Python environment."""

from __future__ import annotations

import sys
from pathlib import Path

from cosmos_tui.core.engines.base import EngineAdapter, register
from cosmos_tui.core.overrides import override_value
from cosmos_tui.core.presets import Preset

DEFAULT_PROJECT = "cosmos_engine"
SIZES = ("tiny", "small", "2b")


@register
class BuiltinAdapter(EngineAdapter):
    kind = "builtin"
    module = "cosmos_engine.train"

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

    def engine_version(self, preset: Preset) -> str | None:
        try:
            from importlib.metadata import version

            return f"cosmos_engine {version('cosmos-tui')}"
        except Exception:
            return None
