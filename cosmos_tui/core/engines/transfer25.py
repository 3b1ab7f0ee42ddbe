"""Cosmos-Transfer2.5 (nvidia-cosmos/cosmos-transfer2.5): ``torchrun ... -m scripts.train
--config=... -- experiment=...`` from the checkout root, outputs under ``IMAGINAIRE_OUTPUT_ROOT``,
DCP checkpoints.

Every local-data experiment (single-view, auto multiview, AgiBot) trains on a loader registered
by a ``dataloader_local.py`` with ``sampler=L(get_sampler)(dataset=ds) if dist.is_initialized()
else None``: the sampler, and its copy of the dataset, exist only when the config is imported
inside a distributed job (``cosmos_oss`` starts the process group first when ``RANK`` is set,
as under torchrun). So ``data.root`` moves the sampler's copy too, and the dry run composes
under torchrun; without it ``dataloader_train.sampler.dataset=...`` cannot be overridden.
"""

from __future__ import annotations

from cosmos_tui.core.engines.base import register
from cosmos_tui.core.engines.dataroot import TRAIN_AND_SAMPLER
from cosmos_tui.core.engines.upstream import UpstreamAdapter
from cosmos_tui.core.overrides import override_value
from cosmos_tui.core.presets import Preset

#: ``model.config.state_t`` of the shipped experiments (num_frames = (state_t - 1) * 4 + 1).
DEFAULT_STATE_T: dict[str, int] = {
    **{f"transfer2_singleview_posttrain_{c}_example": 24 for c in ("edge", "depth", "seg", "vis")},
    "transfer2_auto_multiview_post_train_example": 8,
}

#: The experiments whose loader comes from a ``dataloader_local.py`` (sampler only when distributed).
LOCAL_DATA_EXPERIMENTS: tuple[str, ...] = (
    *(f"transfer2_singleview_posttrain_{c}_example" for c in ("edge", "depth", "seg", "vis")),
    "transfer2_auto_multiview_post_train_example",
    *(f"transfer2_agibot_posttrain_{c}_example" for c in ("edge", "depth", "seg", "vis")),
)


def context_parallel_proposal(world_size: int, state_t: int) -> int:
    """The largest context-parallel size that divides both ``state_t`` and the world size."""
    return max(k for k in range(1, min(world_size, state_t) + 1) if state_t % k == 0 and world_size % k == 0)


@register
class Transfer25Adapter(UpstreamAdapter):
    kind = "cosmos-transfer2.5"
    entry = ("-m", "scripts.train")
    default_config = "cosmos_transfer2/_src/transfer2/configs/vid2vid_transfer/config.py"
    data_roots = dict.fromkeys(LOCAL_DATA_EXPERIMENTS, TRAIN_AND_SAMPLER)
    distributed_composition = frozenset(LOCAL_DATA_EXPERIMENTS)

    def warnings(self, preset: Preset) -> list[str]:
        """Context parallelism: the experiments set ``context_parallel_size = WORLD_SIZE`` when the
        config is imported, and it must divide ``state_t``."""
        overrides = preset.experiment.overrides
        world = preset.launch.nproc_per_node * preset.launch.nnodes
        given_t = override_value(overrides, "model.config.state_t")
        state_t = (
            int(given_t) if given_t and given_t.isdigit() else DEFAULT_STATE_T.get(preset.experiment.name)
        )
        if state_t is None:
            return []
        given_cp = override_value(overrides, "model_parallel.context_parallel_size")
        cp = int(given_cp) if given_cp and given_cp.isdigit() else world
        if cp >= 1 and state_t % cp == 0 and world % cp == 0:
            return []
        k = context_parallel_proposal(world, state_t)
        source = (
            "model_parallel.context_parallel_size" if given_cp else "WORLD_SIZE (nproc_per_node x nnodes)"
        )
        return [
            f"context parallelism {cp} (from {source}) does not divide state_t={state_t} across "
            f"{world} processes; add the override model_parallel.context_parallel_size={k}"
        ]
