"""cosmos-framework (Cosmos 3), driven as upstream documents it::

    IMAGINAIRE_OUTPUT_ROOT=... torchrun --nproc_per_node=8 -m cosmos_framework.scripts.train \\
        --sft-toml=examples/toml/sft_config/<recipe>.toml [-- overrides]

(``scripts/train.py``: argparse ``--sft-toml`` required, ``--dryrun``, trailing Hydra overrides.)
The job folder is ``$IMAGINAIRE_OUTPUT_ROOT/<[job].project>/<group>/<name>`` of the recipe TOML,
``job.*`` overrides winning. The pipeline around training, the stop sentinel, the sample images
and the parallel layout are :class:`~.framework_pipeline.FrameworkPipeline`'s.

Provisional launch part (c3run branch): the c3engine branch owns the full adapter (catalog,
recipe validation, presets); this part is what the pipeline needs to run.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import ClassVar

from cosmos_tui.core.engines.base import register
from cosmos_tui.core.engines.framework_pipeline import FrameworkPipeline
from cosmos_tui.core.engines.upstream import UpstreamAdapter
from cosmos_tui.core.overrides import override_value
from cosmos_tui.core.presets import Preset


@register
class FrameworkAdapter(FrameworkPipeline, UpstreamAdapter):
    """A cosmos-framework checkout (``engine.repo``) and a recipe TOML (``experiment.config``)."""

    kind = "cosmos-framework"
    package = "cosmos_framework"
    entry: ClassVar[tuple[str, ...]] = ("-m", "cosmos_framework.scripts.train")
    default_config = "examples/toml/sft_config/vision_sft_nano.toml"
    has_default_dataset = False

    def config_file(self, preset: Preset) -> str:
        return preset.experiment.config or f"examples/toml/sft_config/{preset.experiment.name}.toml"

    def module_args(self, preset: Preset) -> list[str]:
        args = [*self.entry, f"--sft-toml={self.config_file(preset)}"]
        if preset.experiment.overrides:
            args += ["--", *preset.experiment.overrides]
        return args

    def env(self, preset: Preset) -> dict[str, str]:
        env = super().env(preset)
        if preset.data.root:
            env.setdefault("DATASET_PATH", str(Path(preset.data.root).expanduser()))
        return env

    def problems(self, preset: Preset) -> list[str]:
        problems = []
        if preset.engine.repo is None:
            problems.append("cosmos-framework runs from a checkout; set engine.repo")
        return problems

    def recipe(self, preset: Preset) -> dict:
        path = Path(self.config_file(preset))
        path = path if path.is_absolute() else self.cwd(preset) / path
        try:
            with open(path, "rb") as f:
                return tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError):
            return {}

    def job_dir(self, preset: Preset, environ: dict[str, str]) -> Path | None:
        job = self.recipe(preset).get("job", {})
        parts = []
        for key in ("project", "group", "name"):
            value = override_value(preset.experiment.overrides, f"job.{key}") or job.get(key)
            if not isinstance(value, str) or not value:
                return None
            parts.append(value)
        return self.output_root(preset, environ).joinpath(*parts)
