"""cosmos-framework (Cosmos 3), driven as its launchers drive it (``examples/launch_sft_<recipe>.sh``
through ``examples/_sft_launcher_common.sh``, read at 5eee9ed)::

    IMAGINAIRE_OUTPUT_ROOT=... PYTHONPATH=. torchrun --nproc_per_node=8 --master_port=50012 \\
        -m cosmos_framework.scripts.train --sft-toml examples/toml/sft_config/<recipe>.toml [-- overrides]

(``scripts/train.py``: argparse ``--sft-toml`` required, ``--dryrun``, trailing Hydra overrides.)
Before torchrun the launcher exports what the recipe's ``${oc.env:...}`` reads: ``DATASET_PATH``
(or ``DROID_ROOT`` / ``LIBERO_ROOT``), ``BASE_CHECKPOINT_PATH`` and ``WAN_VAE_PATH``, each with
a default under ``examples/`` resolved against the checkout; the Super launchers add
``PYTORCH_ALLOC_CONF=expandable_segments:True`` (and vision Super an empty ``LD_LIBRARY_PATH``).
:data:`LAUNCHERS` holds those facts per recipe; ``data.root`` stands for the dataset variable,
``env.extra`` wins over every default.

The job folder is ``$IMAGINAIRE_OUTPUT_ROOT/<[job].project>/<group>/<name>`` of the recipe TOML,
``job.*`` overrides winning. The recipe is checked against the checkout's own schema before a
launch (:mod:`.framework_recipe`), and its parallel layout against the world size. The pipeline
around training, the stop sentinel, the sample images and the parallel layout of a run are
:class:`~.framework_pipeline.FrameworkPipeline`'s.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from cosmos_tui.core.engines import framework_recipe
from cosmos_tui.core.engines.base import SetupCheck, register
from cosmos_tui.core.engines.framework_pipeline import PARALLEL_KEYS, FrameworkPipeline
from cosmos_tui.core.engines.framework_setup import framework_setup, is_framework_checkout
from cosmos_tui.core.engines.revisions import RevisionSet
from cosmos_tui.core.engines.upstream import UpstreamAdapter
from cosmos_tui.core.overrides import as_int, override_value
from cosmos_tui.core.presets import Preset, job_name_problem
from cosmos_tui.core.safeio import CONFIG_CAP, read_text_capped

RECIPES_DIR = "examples/toml/sft_config"
CHECKPOINTS_DIR = "examples/checkpoints"
WAN_VAE_DEFAULT = f"{CHECKPOINTS_DIR}/wan22_vae/Wan2.2_VAE.pth"
"""``_sft_launcher_common.sh``: set whenever ``BASE_CHECKPOINT_PATH`` is."""
MAX_CP = 32
"""``utils/generator/parallelism.py`` ``_MAX_CP``: context parallel must be in ``[1, 32]``."""

_NANO = "examples/checkpoints/Cosmos3-Nano"
_BRIDGE = "examples/data/BridgeData2-Subset-Synthetic-Captions/sft_dataset_bridge"
_SUPER_ALLOC = {"PYTORCH_ALLOC_CONF": "expandable_segments:True"}
FORCED = ("PYTHONPATH", "LD_LIBRARY_PATH")
"""What the launchers set whatever the caller's environment holds (``PYTHONPATH=.``, vision
Super's ``export LD_LIBRARY_PATH=""``); every other export is a ``${VAR:-default}``."""


@dataclass(frozen=True)
class Launcher:
    """What ``examples/<script>`` sets before ``_sft_launcher_common.sh`` runs torchrun."""

    script: str
    data_vars: tuple[str, ...] = ("DATASET_PATH",)
    """The variables the recipe reads its dataset from (``${oc.env:...}``): ``data.root`` sets them."""
    dataset: str | None = None
    """``DATASET_PATH``'s default (relative to the checkout)."""
    base: str | None = None
    """``BASE_CHECKPOINT_PATH``'s default (relative to the checkout)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Further exports (their defaults)."""


LAUNCHERS: dict[str, Launcher] = {
    "vision_sft_nano": Launcher("launch_sft_vision_nano.sh", dataset=_BRIDGE, base=_NANO),
    # Its launcher's dataset default differs from the other vision recipes' (the code, not the
    # docs); it also appends job.project/job.name/wandb online overrides, which a preset sets itself.
    "vision_sft_nano_mapstyle_dataloader": Launcher(
        "launch_sft_vision_nano_cosmosdataloader.sh",
        dataset="examples/data/bridge-v2-subset-synthetic-captions/sft_dataset_bridge",
        base=_NANO,
    ),
    "vision_sft_super": Launcher(
        "launch_sft_vision_super.sh",
        dataset=_BRIDGE,
        base="examples/checkpoints/Cosmos3-Super",
        env={"LD_LIBRARY_PATH": "", **_SUPER_ALLOC},
    ),
    "vision_sft_edge": Launcher(
        "launch_sft_vision_edge.sh", dataset=_BRIDGE, base="examples/checkpoints/Cosmos3-Edge"
    ),
    "action_policy_droid_nano": Launcher(
        "launch_sft_action_policy_droid_nano.sh",
        data_vars=("DATASET_PATH", "DROID_ROOT"),
        dataset="examples/data/droid_plus_lerobot_640x360_20260412",
        base=_NANO,
    ),
    "action_fd_droid_posttrain": Launcher(
        "launch_sft_action_fd_droid_posttrain.sh", dataset="examples/data/Cosmos3-DROID", base=_NANO
    ),
    "action_policy_libero_10_nano": Launcher(
        "launch_sft_action_policy_libero_10_nano.sh", data_vars=("LIBERO_ROOT",), base=_NANO
    ),
    "action_policy_libero_all_nano": Launcher(
        "launch_sft_action_policy_libero_all_nano.sh", data_vars=("LIBERO_ROOT",), base=_NANO
    ),
    "llava_ov": Launcher("launch_sft_llava_ov.sh", data_vars=()),
    "llava_ov_mapstyle_dataloader": Launcher("launch_sft_llava_ov_mapstyle_dataloader.sh", data_vars=()),
    # data/reasoner/data_sources_videophy2/videophy2.py reads VIDEOPHYSICS_ROOT (its own default
    # examples/data/videophysics) at import time.
    "videophy2_sft_edge": Launcher("launch_sft_videophy2_edge.sh", data_vars=("VIDEOPHYSICS_ROOT",)),
    "videophy2_sft_nano": Launcher("launch_sft_videophy2_nano.sh", data_vars=("VIDEOPHYSICS_ROOT",)),
    "videophy2_sft_super": Launcher(
        "launch_sft_videophy2_super.sh", data_vars=("VIDEOPHYSICS_ROOT",), env=_SUPER_ALLOC
    ),
}
"""Recipe (the TOML's stem) -> its launcher's facts, from ``examples/launch_sft_*.sh`` at 5eee9ed."""

#: Read at 5eee9ed. The Cosmos3 weights are loaded at ``main`` (``inference/args.py``
#: ``CheckpointDirHf(..., revision="main")``); the registry pins the rest.
REVISION_SETS: tuple[RevisionSet, ...] = (
    RevisionSet(
        read_at="5eee9ed574255f017b192161bfbb5a10253d65cf",
        since=None,
        pins={
            # cosmos_framework/inference/common/checkpoints.py register_checkpoints()
            "Wan-AI/Wan2.2-TI2V-5B/Wan2.2_VAE.pth": "921dbaf3f1674a56f47e83fb80a34bac8a8f203e",
            "Qwen/Qwen3-VL-8B-Instruct": "0c351dd01ed87e9c1b53cbc748cba10e6187ff3b",
            "Qwen/Qwen3-VL-32B-Instruct": "0cfaf48183f594c314753d30a4c4974bc75f3ccb",
            # cosmos_framework/auxiliary/guardrail/common/core.py
            "nvidia/Cosmos-Guardrail1": "d6d4bfa899a71454a700907664f3e88f503950cf",
        },
        unpinned_note="cosmos-framework loads it at main",
    ),
)


def _data_set(preset: Preset, launcher: Launcher | None) -> tuple[str, ...]:
    """The variables ``data.root`` sets (they win over the caller's environment)."""
    if not preset.data.root:
        return ()
    return launcher.data_vars if launcher is not None else ("DATASET_PATH",)


def _model_override_problems(overrides: list[str], schema: framework_recipe.RecipeSchema) -> list[str]:
    """An override of a recipe ``[model]`` key written as the TOML path (``model.parallelism.X``):
    ``PATH_REMAPS`` moves the TOML's ``[model]`` to ``model.config`` but overrides after ``--`` go
    to Hydra as written, which has no ``model.parallelism`` (upstream's own doc and recipe comments
    write it so)."""
    model_keys = set(schema.models.get("ModelConfig", {}))
    problems = []
    for item in overrides:
        head = str(item).partition("=")[0].lstrip("+~")
        parts = head.split(".")
        if len(parts) >= 2 and parts[0] == "model" and parts[1] in model_keys:
            fixed = ".".join(["model", "config", *parts[1:]])
            problems.append(
                f"override {head!r} names the recipe's TOML path; after '--' the key is the Hydra "
                f"one: {fixed}"
            )
    return problems


@register
class FrameworkAdapter(FrameworkPipeline, UpstreamAdapter):
    """A cosmos-framework checkout (``engine.repo``) and a recipe TOML (``experiment.config``)."""

    kind = "cosmos-framework"
    package = "cosmos_framework"
    entry: ClassVar[tuple[str, ...]] = ("-m", "cosmos_framework.scripts.train")
    default_config = f"{RECIPES_DIR}/vision_sft_nano.toml"
    has_default_dataset = False
    revision_sets = REVISION_SETS

    def config_file(self, preset: Preset) -> str:
        return preset.experiment.config or f"{RECIPES_DIR}/{preset.experiment.name}.toml"

    def recipe_path(self, preset: Preset) -> Path:
        path = Path(self.config_file(preset)).expanduser()
        return path if path.is_absolute() else self.cwd(preset) / path

    def launcher(self, preset: Preset) -> Launcher | None:
        """The shipped launcher of the preset's recipe, by the TOML's name, else by the Hydra
        experiment a recipe of the user's own names (``None``: neither is a shipped one)."""
        found = LAUNCHERS.get(Path(self.config_file(preset)).stem)
        if found is None:
            try:
                job = framework_recipe.load_recipe(self.recipe_path(preset)).get("job")
            except (OSError, ValueError):
                return None
            found = LAUNCHERS.get(job.get("experiment", "")) if isinstance(job, dict) else None
        return found

    job_dir_fallback = "the recipe TOML's [job] table"

    def config_overrides(self, preset: Preset) -> list[str]:
        """The recipe's ``[trainer].max_iter`` and ``[checkpoint].save_iter`` (Hydra keys of the same
        name: ``PATH_REMAPS`` passes those sections through)."""
        try:
            data = framework_recipe.load_recipe(self.recipe_path(preset))
        except (OSError, ValueError):
            return []
        found = []
        for section, key in (("trainer", "max_iter"), ("checkpoint", "save_iter")):
            table = data.get(section)
            value = as_int(table.get(key)) if isinstance(table, dict) else None
            if value is not None:
                found.append(f"{section}.{key}={value}")
        return found

    def setup_checks(self, repo: Path) -> tuple[SetupCheck, ...]:
        """uv, the CUDA dependency group against the driver, and the Python the checkout pins
        (:mod:`.framework_setup`), for a cosmos-framework checkout."""
        return tuple(framework_setup(repo)) if is_framework_checkout(repo) else ()

    def config_document(self, preset: Preset) -> tuple[Path, str] | None:
        path = self.recipe_path(preset)
        try:
            return path, read_text_capped(path, CONFIG_CAP, what="recipe TOML")
        except (OSError, UnicodeDecodeError):
            return None

    def module_args(self, preset: Preset) -> list[str]:
        # Two words, as docs/action_fd_droid_posttrain.md writes it (argparse reads both forms).
        args = [*self.entry, "--sft-toml", self.config_file(preset)]
        overrides = list(preset.experiment.overrides)
        if preset.wandb.mode:
            overrides.append(f"job.wandb_mode={preset.wandb.mode}")
        return [*args, "--", *overrides] if overrides else args

    def env(self, preset: Preset) -> dict[str, str]:
        """The launcher's exports (defaults under the checkout, unless the caller's environment
        sets them, as its ``: "${VAR:=default}"`` lines do), ``data.root`` for the dataset
        variables, then the preset's own (``env.extra`` wins)."""
        own = super().env(preset)
        repo = self.repo(preset)
        launcher = self.launcher(preset)
        here = repo or Path.cwd()
        env: dict[str, str] = {"PYTHONPATH": str(repo)} if repo else {}
        if launcher is not None:
            env.update(launcher.env)
            if launcher.dataset:  # DROID_ROOT defaults to DATASET_PATH
                env.update(dict.fromkeys(launcher.data_vars, str(here / launcher.dataset)))
            if launcher.base:
                env["BASE_CHECKPOINT_PATH"] = str(here / launcher.base)
        if preset.data.root:
            for var in launcher.data_vars if launcher is not None else ("DATASET_PATH",):
                env[var] = str(Path(preset.data.root).expanduser())
        if "BASE_CHECKPOINT_PATH" in env or "BASE_CHECKPOINT_PATH" in own:
            env["WAN_VAE_PATH"] = str(here / WAN_VAE_DEFAULT)
        given = set(os.environ) - set(FORCED)
        defaults = {k: v for k, v in env.items() if k not in given or k in _data_set(preset, launcher)}
        return {**defaults, **own}

    def problems(self, preset: Preset) -> list[str]:
        if preset.engine.repo is None:
            return [
                "cosmos-framework runs from a checkout; set engine.repo "
                "(for example --set engine.repo=/path/to/cosmos-framework)"
            ]
        repo = self.repo(preset)
        if repo is None or not repo.is_dir():
            # A Slurm launch may name a checkout that exists only on the cluster.
            if preset.launch.target != "local":
                return []
            return [f"engine.repo {repo} is not a folder; clone cosmos-framework there or fix the path"]
        path = self.recipe_path(preset)
        shown = self.config_file(preset)
        try:
            data = framework_recipe.load_recipe(path)
        except FileNotFoundError:
            known = sorted(p.stem for p in (repo / RECIPES_DIR).glob("*.toml"))
            close = difflib.get_close_matches(path.stem, known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            return [
                f"recipe {path} does not exist; {hint}set experiment.name to a recipe of the "
                f"checkout ({', '.join(known) or 'none found'}) or experiment.config to your TOML"
            ]
        except (OSError, ValueError) as e:
            return [str(e)]
        schema = framework_recipe.read_schema(repo)
        problems = framework_recipe.check_recipe(data, schema, shown) if schema is not None else []
        if schema is not None:
            problems += _model_override_problems(preset.experiment.overrides, schema)
        for key, value in self._job_parts(preset, data).items():
            problem = value and job_name_problem(key, value)
            if problem:
                problems.append(f"recipe {shown}: [job].{key}: {problem}")
        return problems + self._layout_problems(preset, data)[0]

    @staticmethod
    def _job_parts(preset: Preset, data: dict) -> dict[str, str]:
        """``[job].project/group/name`` of the recipe, the launch's ``job.*`` overrides winning
        (an empty or non-string one reads ``""``)."""
        job = data.get("job") if isinstance(data.get("job"), dict) else {}
        parts = {}
        for key in ("project", "group", "name"):
            value = override_value(preset.experiment.overrides, f"job.{key}") or job.get(key)
            parts[key] = value if isinstance(value, str) else ""
        return parts

    def warnings(self, preset: Preset) -> list[str]:
        repo = self.repo(preset)
        if repo is None or not repo.is_dir():
            return []
        try:
            data = framework_recipe.load_recipe(self.recipe_path(preset))
        except (OSError, ValueError):
            return []
        notes = self._layout_problems(preset, data)[1]
        if preset.launch.target == "local":
            notes += self._missing_inputs(preset)
        if framework_recipe.read_schema(repo) is None:
            notes.append(
                f"{repo} has no {framework_recipe.SCHEMA_FILE}; the recipe is not checked before the launch"
            )
        return notes

    def _missing_inputs(self, preset: Preset) -> list[str]:
        """What ``_sft_launcher_common.sh`` checks before torchrun (a dataset folder, a base
        checkpoint folder, the VAE file), said before the launch; a base checkpoint the convert
        step will write is not missing."""
        env = {**os.environ, **self.env(preset)}
        launcher = self.launcher(preset)
        notes = []
        for var in launcher.data_vars if launcher is not None else ("DATASET_PATH",):
            if env.get(var) and not Path(env[var]).is_dir():
                notes.append(f"{var} {env[var]} is not a folder; set data.root to your dataset")
        base = env.get("BASE_CHECKPOINT_PATH")
        if base and not Path(base).is_dir() and self.base_checkpoint(preset, dict(os.environ)) is None:
            notes.append(
                f"BASE_CHECKPOINT_PATH {base} is not a folder; convert the base weights there "
                "(convert_model_to_dcp) or set env.extra.BASE_CHECKPOINT_PATH"
            )
        vae = env.get("WAN_VAE_PATH")
        if vae and not Path(vae).is_file():
            notes.append(
                f"WAN_VAE_PATH {vae} is not a file; download it (cosmos-tui hf download "
                f"{preset.model.id or 'cosmos3-nano'} --checkpoint-dir {self.cwd(preset) / CHECKPOINTS_DIR}"
                ") or set env.extra.WAN_VAE_PATH"
            )
        return notes

    def _layout_problems(self, preset: Preset, data: dict) -> tuple[list[str], list[str]]:
        """``(refusals, warnings)`` of the recipe's parallel degrees on the launch's world size,
        as ``utils/generator/parallelism.py`` decides them; a degree neither the TOML nor an
        override sets is the Hydra experiment's, unknown here, and not judged."""
        table = data.get("model", {}).get("parallelism", {}) if isinstance(data.get("model"), dict) else {}
        table = table if isinstance(table, dict) else {}
        given: dict[str, int | None] = {}
        for short, dotted in PARALLEL_KEYS.items():
            value = override_value(preset.experiment.overrides, dotted)
            given[short] = as_int(value if value is not None else table.get(dotted.rsplit(".", 1)[-1]))
        world = preset.launch.nproc_per_node * preset.launch.nnodes
        ranks = f"{world} rank{'s' if world != 1 else ''} (nproc_per_node x nnodes)"
        refuse: list[str] = []
        warn: list[str] = []
        cp, cfgp = given["cp"], given["cfgp"]
        if cp is not None and not 1 <= cp <= MAX_CP:
            refuse.append(f"context_parallel_shard_degree is {cp}; upstream takes 1 to {MAX_CP}")
        if cfgp is not None and cfgp != 1:
            refuse.append(
                f"cfg_parallel_shard_degree is {cfgp}; upstream allows it only for inference (use 1)"
            )
        overlay = (cp if cp and cp > 0 else 1) * (cfgp if cfgp and cfgp > 0 else 1)
        if world % overlay:
            refuse.append(
                f"context x CFG parallel ({overlay}) does not divide {ranks}; "
                "change the launch or the degrees"
            )
        shard, replicate = given["shard"], given["replicate"]
        if shard is not None and shard > world:
            warn.append(
                f"data_parallel_shard_degree {shard} is more than {ranks}: upstream clamps it to {world}"
            )
            shard = world
        if shard is not None and shard <= 0:
            shard = world
        if replicate is not None and (replicate == 0 or replicate < -1):
            refuse.append(f"data_parallel_replicate_degree is {replicate}; upstream takes -1 or at least 1")
        elif shard is not None and replicate is not None:
            replicate = world // shard if replicate == -1 else replicate
            if shard * replicate != world:
                refuse.append(
                    f"data_parallel_shard_degree {shard} x data_parallel_replicate_degree {replicate} is "
                    f"{shard * replicate}, not {ranks}; upstream refuses it: launch {shard * replicate} "
                    f"ranks or set model.config.parallelism.data_parallel_replicate_degree"
                )
        return refuse, warn

    def job_dir(self, preset: Preset, environ: dict[str, str]) -> Path | None:
        """``$IMAGINAIRE_OUTPUT_ROOT/<project>/<group>/<name>``; ``None`` when a part is empty (upstream
        then names the run by the time) or not one plain folder name."""
        try:
            data = framework_recipe.load_recipe(self.recipe_path(preset))
        except (OSError, ValueError):
            return None
        parts = self._job_parts(preset, data)
        if any(not v or job_name_problem(k, v) for k, v in parts.items()):
            return None
        return self.output_root(preset, environ).joinpath(*parts.values())
