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

from pathlib import Path

from cosmos_tui.core.engines.base import SampleArgs, register
from cosmos_tui.core.engines.dataroot import TRAIN_AND_SAMPLER
from cosmos_tui.core.engines.inference import (
    InferenceCall,
    InferencePlan,
    checkpoint_step,
    clip_video,
    dcp_inference_weights,
    prompt_text,
    sample_name,
    spec_json,
)
from cosmos_tui.core.engines.jobdir import JobName, same_group
from cosmos_tui.core.engines.revisions import RevisionSet
from cosmos_tui.core.engines.upstream import UpstreamAdapter
from cosmos_tui.core.errors import UserError
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


_T25 = "nvidia/Cosmos-Transfer2.5-2B"
_PINS_AT_2FF49D0: dict[str, str] = {
    # packages/cosmos-oss/cosmos_oss/checkpoints.py
    "nvidia/Cosmos-Reason1-7B": "3210bec0495fdc7a8d3dbb8d58da5711eab4b423",
    "nvidia/Cosmos-Predict2.5-2B/tokenizer.pth": "f176dc95b4a70f53ce01c4b302851595e7322b00",
    # cosmos_transfer2/_src/imaginaire/auxiliary/guardrail/common/core.py GUARDRAIL1_CHECKPOINT
    "nvidia/Cosmos-Guardrail1": "d6d4bfa899a71454a700907664f3e88f503950cf",
    # packages/cosmos-oss/cosmos_oss/checkpoints_transfer2.py
    f"{_T25}/general/edge/61f5694b-0ad5-4ecd-8ad7-c8545627d125_ema_bf16.pt": (
        "b67b64abda3801a9aceddbff2bdb86126c06db74"
    ),
    f"{_T25}/general/depth/626e6618-bfcd-4d9a-a077-1409e2ce353f_ema_bf16.pt": (
        "dea7737ca29dd8d9086413c6dc5724b8250a0bb4"
    ),
    f"{_T25}/general/seg/5136ef49-6d8d-42e8-8abf-7dac722a304a_ema_bf16.pt": (
        "23057a4167b89de89a4a397fdbf3887994d115eb"
    ),
    f"{_T25}/general/blur/ba2f44f2-c726-4fe7-949f-597069d9b91c_ema_bf16.pt": (
        "eb5325b77d358944da58a690157dd2b8071bbf85"
    ),
    f"{_T25}/auto/multiview/4ecc66e9-df19-4aed-9802-0d11e057287a_ema_bf16.pt": (
        "00c591edab119e8a6ca06e6e091351a04ce0ecc9"
    ),
}
_UNPINNED = "cosmos-transfer2.5 loads it with from_pretrained(repo id) and no revision"

#: Before 93a76bd ("Fix broken HuggingFace revision for Wan2.1/vae tokenizer checkpoint") the
#: tokenizer was pinned at 6787e176; nothing else differs between eb1999f and 2ff49d0.
REVISION_SETS: tuple[RevisionSet, ...] = (
    RevisionSet(
        read_at="eb1999f09e46bbf47cf01e3b9e44cf23287f3042",
        since=None,
        pins={
            **_PINS_AT_2FF49D0,
            "nvidia/Cosmos-Predict2.5-2B/tokenizer.pth": "6787e176dce74a101d922174a95dba29fa5f0c55",
        },
        unpinned_note=_UNPINNED,
    ),
    RevisionSet(
        read_at="2ff49d0717af02057ae79bc75c00fbff9da1b4e7",
        since="93a76bd77666ee094e5de5b7596c6b0d865328e0",
        pins=_PINS_AT_2FF49D0,
        unpinned_note=_UNPINNED,
    ),
)


T25_INFERENCE_SCRIPT = "examples/inference.py"
"""Single-view control inference (read at 2ff49d0): ``tyro.cli(Args)`` with ``-i`` input files
(one JSON object each: ``name``, ``prompt``, ``seed``, ``video_path``, ``num_steps`` and one control
key), ``-o`` the output folder, ``--checkpoint-path`` and ``--experiment`` (``CommonSetupArguments``
in ``cosmos_transfer2/config.py``); each sample lands at ``<output dir>/<name>.mp4``."""

T25_CONTROLS: dict[str, str] = {
    f"transfer2_singleview_posttrain_{c}_example": c for c in ("edge", "depth", "seg", "vis")
}
"""Experiment -> the control key of its input file (``edge``, ``depth``, ``seg``, ``vis``: the
``CONTROL_KEYS`` of ``cosmos_transfer2/config.py``; an empty object computes the control from the
input video on the fly)."""


def context_parallel_proposal(world_size: int, state_t: int) -> int:
    """The largest context-parallel size that divides both ``state_t`` and the world size."""
    return max(k for k in range(1, min(world_size, state_t) + 1) if state_t % k == 0 and world_size % k == 0)


JOB_NAMES: dict[str, JobName] = {
    **same_group(
        "cosmos_transfer2_posttrain",
        "local_single_view",
        [f"transfer2_singleview_posttrain_{c}_example" for c in ("edge", "depth", "seg", "vis")],
    ),
    "transfer2_auto_multiview_post_train_example": JobName(
        "cosmos_transfer_v2p5", "auto_multiview", "2b_cosmos_multiview_post_train_example"
    ),
    **same_group(
        "cosmos_transfer_v2p5",
        "agibot_posttrain",
        [f"transfer2_agibot_posttrain_{c}_example" for c in ("edge", "depth", "seg", "vis")],
    ),
}
"""Experiment -> ``job.project`` / ``job.group`` / ``job.name``, as the upstream experiment files set them."""


@register
class Transfer25Adapter(UpstreamAdapter):
    kind = "cosmos-transfer2.5"
    package = "cosmos_transfer2"
    job_names = JOB_NAMES
    entry = ("-m", "scripts.train")
    default_config = "cosmos_transfer2/_src/transfer2/configs/vid2vid_transfer/config.py"
    revision_sets = REVISION_SETS
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

    def inference_plan(self, job_dir: Path, request: SampleArgs) -> InferencePlan | None:
        """``python examples/inference.py -i SPEC... -o OUT --checkpoint-path ITER/model_ema_bf16.pt
        --experiment EXP`` (single process; the doc runs it under torchrun for context parallelism),
        one input file per sample in ``OUT/inputs/``, after ``scripts/convert_distcp_to_pt.py``."""
        ctx = request.context
        if ctx is None:
            return None
        control = T25_CONTROLS.get(ctx.experiment)
        if control is None:
            raise UserError(
                f"sampling {ctx.experiment} is not supported: only the single-view control experiments "
                f"({', '.join(sorted(T25_CONTROLS))}) run examples/inference.py; multiview jobs use "
                "examples/multiview.py, which cosmos-tui does not drive yet"
            )
        weights, convert = dcp_inference_weights(checkpoint_step(job_dir, request.iteration, self.kind), ctx)
        specs: list[tuple[Path, str]] = []
        videos: list[tuple[int, Path]] = []
        for i, req in enumerate(request.requests):
            name = sample_name(i, req.seed)
            entry = {
                "name": name,
                "prompt": prompt_text(req.prompt, self.kind, req.origin),
                "seed": req.seed,
                "video_path": str(clip_video(ctx, req.clip)),
                "num_steps": request.steps,
                control: {},
            }
            specs.append((request.out / "inputs" / f"{name}.json", spec_json(entry)))
            videos.append((i, request.out / f"{name}.mp4"))
        argv = [ctx.python, T25_INFERENCE_SCRIPT, "-i", *(str(p) for p, _ in specs), "-o", str(request.out)]
        argv += ["--checkpoint-path", str(weights), "--experiment", ctx.experiment]
        call = InferenceCall(tuple(argv), ctx.checkout, {}, tuple(specs), tuple(videos))
        return InferencePlan(weights, convert, (call,))
