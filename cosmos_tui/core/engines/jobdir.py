"""Where an upstream job writes: ``OUTPUT_ROOT/PROJECT/GROUP/NAME``.

The experiment name does not give the folder (Transfer2.5 auto-multiview and every Predict2.5
experiment register under a name that differs from ``job.name``), so the folder comes from the
composed config: the ``config.yaml`` that ``--dryrun`` writes when the checkout is here, else the
shipped table below (upstream-contracts.md §2.2), with any ``job.*=`` override applied on top.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JobName:
    """``job.project`` / ``job.group`` / ``job.name`` of one experiment."""

    project: str
    group: str
    name: str

    def path(self, output_root: Path) -> Path:
        """The job folder under ``output_root``."""
        return output_root / self.project / self.group / self.name


def _same(project: str, group: str, names: Sequence[str]) -> dict[str, JobName]:
    return {n: JobName(project, group, n) for n in names}


#: experiment -> job names, per engine kind, as the upstream experiment files set them.
JOB_TABLE: dict[str, dict[str, JobName]] = {
    "cosmos-transfer2.5": {
        **_same(
            "cosmos_transfer2_posttrain",
            "local_single_view",
            [f"transfer2_singleview_posttrain_{c}_example" for c in ("edge", "depth", "seg", "vis")],
        ),
        "transfer2_auto_multiview_post_train_example": JobName(
            "cosmos_transfer_v2p5", "auto_multiview", "2b_cosmos_multiview_post_train_example"
        ),
        **_same(
            "cosmos_transfer_v2p5",
            "agibot_posttrain",
            [f"transfer2_agibot_posttrain_{c}_example" for c in ("edge", "depth", "seg", "vis")],
        ),
    },
    "cosmos-predict2.5": {
        "predict2_video2world_training_2b_cosmos_nemo_assets": JobName(
            "cosmos_predict_v2p5", "video2world", "2b_cosmos_nemo_assets"
        ),
        "predict2_lora_training_2b_cosmos_nemo_assets_txt": JobName(
            "cosmos_predict_v2p5", "lora", "2b_cosmos_nemo_assets_lora"
        ),
        "predict2_lora_training_2b_cosmos_nemo_assets_json": JobName(
            "cosmos_predict_v2p5", "lora", "2b_cosmos_nemo_assets_json_lora"
        ),
        "predict2_video2world_training_2b_groot_gr1_480": JobName(
            "cosmos_predict_v2p5", "video2world", "2b_groot_gr1_480"
        ),
        "predict2_video2world_training_14b_groot_gr1_480": JobName(
            "cosmos_predict_v2p5", "video2world", "14b_groot_gr1_480"
        ),
        "predict2_multiview_post_train_waymo": JobName("cosmos_predict_v2p5", "multiview", "2b_waymo"),
        "ac_reason_embeddings_rectified_flow_2b_256_320": JobName(
            "cosmos_predict2_action_conditioned", "cosmos_predict_v2p5", "2b_bridge_action_conditioned"
        ),
    },
    "cosmos-predict1": {
        **_same(
            "posttraining",
            "diffusion_text2world",
            ["text2world_singletomultiview_7b_example_waymo", "text2world_multiview_7b_example_waymo"],
        ),
        **_same(
            "posttraining",
            "diffusion_video2world",
            ["video2world_singletomultiview_7b_example_waymo", "video2world_multiview_7b_example_waymo"],
        ),
    },
}

_JOB_OVERRIDE = re.compile(r"^\+{0,2}job\.(project|group|name)=(.*)$")


def table_job_name(kind: str, experiment: str, overrides: Sequence[str] = ()) -> JobName | None:
    """The job names from the shipped table, with ``job.project|group|name=`` overrides applied
    (the last one wins, as in Hydra); ``None`` when the experiment is not in the table and the
    overrides do not name all three."""
    base = JOB_TABLE.get(kind, {}).get(experiment)
    fields: dict[str, str | None] = {
        "project": base.project if base else None,
        "group": base.group if base else None,
        "name": base.name if base else None,
    }
    for item in overrides:
        m = _JOB_OVERRIDE.match(item)
        if m:
            fields[m.group(1)] = m.group(2).strip("'\"")
    if any(v is None or "${" in v for v in fields.values()):
        return None
    return JobName(fields["project"], fields["group"], fields["name"])  # type: ignore[arg-type]


# -- config.yaml ------------------------------------------------------------------------------


def _tolerant_loader() -> type:
    import yaml

    class _Loader(yaml.SafeLoader):
        """SafeLoader that reads unknown tags (``!!python/...``) as plain data instead of failing."""

    def _plain(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)

    _Loader.add_multi_constructor("!", _plain)
    _Loader.add_multi_constructor("tag:yaml.org,2002:python/", _plain)
    return _Loader


def read_config_yaml(path: Path) -> dict[str, Any]:
    """A job's ``config.yaml`` as plain data (never executes anything it names)."""
    import yaml

    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_tolerant_loader())
    return data if isinstance(data, dict) else {}


def job_name_from_config(config: dict[str, Any]) -> JobName | None:
    """``job.project/group/name`` of a composed config (``None`` when any is missing)."""
    job = config.get("job")
    if not isinstance(job, dict):
        return None
    values = [job.get(k) for k in ("project", "group", "name")]
    if not all(isinstance(v, str) and v for v in values):
        return None
    return JobName(*values)  # type: ignore[arg-type]


def job_dir_from_config_yaml(path: Path) -> Path | None:
    """The job folder named by a ``config.yaml``: the folder holding it when its ``job.*`` agrees,
    else ``None``."""
    name = job_name_from_config(read_config_yaml(path))
    if name is None:
        return None
    folder = path.parent
    return (
        folder
        if (folder.parent.parent.name, folder.parent.name, folder.name)
        == (
            name.project,
            name.group,
            name.name,
        )
        else None
    )


def dryrun_argv(exec_argv: Sequence[str]) -> list[str]:
    """The plain-Python ``--dryrun`` of a launch: drop torchrun (one process composes the config),
    keep the entry point, ``--config`` and overrides, and put ``--dryrun`` before the ``--``."""
    argv = list(exec_argv)
    python = argv[0]
    if argv[1:3] == ["-m", "torch.distributed.run"]:
        rest = argv[3:]
        i = 0
        while i < len(rest) and rest[i].startswith("--") and rest[i] != "--":
            # torchrun's own options: `--opt=value` or `--opt value`
            takes_value = "=" not in rest[i] and rest[i] not in ("--standalone",)
            i += 2 if takes_value else 1
        argv = [python, *rest[i:]]
    if "--" in argv:
        cut = argv.index("--")
        return [*argv[:cut], "--dryrun", *argv[cut:]]
    return [*argv, "--dryrun"]


def dryrun_job_dir(
    exec_argv: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    output_root: Path,
    *,
    world_size: int = 1,
    timeout: float = 300.0,
) -> Path | None:
    """Run the launch's ``--dryrun`` in ``cwd`` and return the job folder of the ``config.yaml`` it
    wrote (``WORLD_SIZE`` is set as in the real run: Transfer2.5 reads it when composing).
    ``None`` when the dry run fails or writes no config."""
    started = time.time()
    full_env = {**os.environ, **env, "WORLD_SIZE": str(world_size)}
    full_env.pop("RANK", None)
    try:
        done = subprocess.run(
            dryrun_argv(exec_argv), cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    for token in reversed(re.findall(r"(\S+config\.yaml)", done.stdout + "\n" + done.stderr)):
        path = Path(token.strip("'\"`")).expanduser()
        path = path if path.is_absolute() else cwd / path
        if path.is_file():
            found = job_dir_from_config_yaml(path)
            if found is not None:
                return found
    # The path was not printed: the newest config.yaml written under the output root since we began.
    fresh = [p for p in output_root.glob("*/*/*/config.yaml") if p.stat().st_mtime >= started - 1]
    for path in sorted(fresh, key=lambda p: p.stat().st_mtime, reverse=True):
        found = job_dir_from_config_yaml(path)
        if found is not None:
            return found
    return None
