"""Where an upstream job writes: ``OUTPUT_ROOT/PROJECT/GROUP/NAME``.

The experiment name does not give the folder (Transfer2.5 auto-multiview and every Predict2.5
experiment register under a name that differs from ``job.name``), so the folder comes from the
composed config: the ``config.yaml`` that ``--dryrun`` writes when the checkout is here
(:func:`cosmos_tui.core.launch.resolve_job_dir`), else the shipped table below
(upstream-contracts.md §2.2), with any ``job.*=`` override applied on top.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


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
