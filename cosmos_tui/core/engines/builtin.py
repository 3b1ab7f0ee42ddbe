"""The builtin engine (``cosmos_engine``), launched from this Python environment."""

from __future__ import annotations

import sys
from pathlib import Path

from cosmos_tui.core.engines.base import EngineAdapter, register
from cosmos_tui.core.presets import Preset


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
