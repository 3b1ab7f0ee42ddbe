"""Cosmos-Predict2.5 (nvidia-cosmos/cosmos-predict2.5): the same ``cosmos_oss`` launcher as
Transfer2.5. Its docs name the entry two ways (:data:`ENTRY_FOR_EXPERIMENT`); both run the same
code: ``scripts/train.py`` only calls ``cosmos_oss.scripts.train.main`` under ``__main__``, and
``--config`` is a path turned into a module of the installed ``cosmos_predict2`` package, so the
script's folder on ``sys.path`` (by path) or the checkout root (``-m``) makes no difference.

What ``data.root`` stands for, per experiment (``cosmos_predict2/experiments/`` at 7e5ffc8):

- ``base/cosmos_nemo_assets.py``, ``base/groot.py``, ``base/cosmos_nemo_assets_lora.py`` (txt):
  a ``VideoDataset`` with ``sampler=L(get_sampler)(dataset=...)``; validation on mock data.
- ``..._lora_..._json``: the same, plus a ``dataloader_val`` over its own
  ``.../validation`` copy with its own sampler. ``data.root`` names one folder, so validation
  runs over it too (a separate validation folder is an override of
  ``dataloader_val.dataset.dataset_dir``, which the adapter then leaves alone).
- ``multiview/waymo.py``: ``WaymoLocalDataset(video_file_dirs=[...])`` shared by the train and
  val loaders, whose samplers exist only in a distributed job (``dist.is_initialized()`` when
  the config is imported), so its dry run composes under torchrun.
- ``base/action.py`` (Bridge): ``Dataset_3D`` takes ``video_path`` and three annotation folders
  under it (``annotation/{train,val,test}``), in a train and a val copy (``mode`` differs), each
  with its sampler.
"""

from __future__ import annotations

from pathlib import Path

from cosmos_tui.core.engines.base import SampleArgs, register
from cosmos_tui.core.engines.dataroot import (
    SAMPLER,
    TRAIN_AND_SAMPLER,
    TRAIN_SAMPLER_AND_VAL,
    VAL,
    VAL_SAMPLER,
    DataRoot,
    following,
)
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
from cosmos_tui.core.engines.jobdir import JobName
from cosmos_tui.core.engines.revisions import RevisionSet
from cosmos_tui.core.engines.upstream import UpstreamAdapter
from cosmos_tui.core.overrides import override_value
from cosmos_tui.core.presets import Preset

_P25_2B = "nvidia/Cosmos-Predict2.5-2B"
_P25_14B = "nvidia/Cosmos-Predict2.5-14B"

#: Read at 7e5ffc8 (the fork's newer 220cd99 pins the same). Unlike Transfer2.5 since 93a76bd,
#: the Wan2.1 tokenizer is still pinned at 6787e176 here.
REVISION_SETS: tuple[RevisionSet, ...] = (
    RevisionSet(
        read_at="7e5ffc83fefb2ae1c105c1185cdeb239efb1325c",
        since=None,
        pins={
            # packages/cosmos-oss/cosmos_oss/checkpoints.py
            "nvidia/Cosmos-Reason1-7B": "3210bec0495fdc7a8d3dbb8d58da5711eab4b423",
            f"{_P25_2B}/tokenizer.pth": "6787e176dce74a101d922174a95dba29fa5f0c55",
            # cosmos_predict2/_src/imaginaire/auxiliary/guardrail/common/core.py
            "nvidia/Cosmos-Guardrail1": "d6d4bfa899a71454a700907664f3e88f503950cf",
            # packages/cosmos-oss/cosmos_oss/checkpoints_predict2.py
            f"{_P25_2B}/base/pre-trained/d20b7120-df3e-4911-919d-db6e08bad31c_ema_bf16.pt": (
                "15a82a2ec231bc318692aa0456a36537c806e7d4"
            ),
            f"{_P25_2B}/base/post-trained/81edfebe-bd6a-4039-8c1d-737df1a790bf_ema_bf16.pt": (
                "15a82a2ec231bc318692aa0456a36537c806e7d4"
            ),
            f"{_P25_14B}/base/pre-trained/54937b8c-29de-4f04-862c-e67b04ec41e8_ema_bf16.pt": (
                "03eb354f35eae0d6e0c1be3c9f94d8551e125570"
            ),
            f"{_P25_14B}/base/post-trained/e21d2a49-4747-44c8-ba44-9f6f9243715f_ema_bf16.pt": (
                "2bc4ca5ba5a20b9858a7ddb856bc82d70b030fbe"
            ),
        },
        unpinned_note="cosmos-predict2.5 loads it with no revision",
    ),
)

_BRIDGE_PATHS = tuple(
    f"{loader}.dataset.{key}={value}"
    for loader in ("dataloader_train", "dataloader_val")
    for key, value in (
        ("video_path", "{root}"),
        ("train_annotation_path", "{root}/annotation/train"),
        ("val_annotation_path", "{root}/annotation/val"),
        ("test_annotation_path", "{root}/annotation/test"),
    )
)

WAYMO = "predict2_multiview_post_train_waymo"

_BY_MODULE = ("-m", "scripts.train")

#: The entry each experiment's own doc writes (docs/ at 7e5ffc8); an experiment not listed gets
#: ``scripts/train.py``, as the nemo docs (post-training_video2world_cosmos_nemo_assets.md,
#: post-training_cosmos_nemo_assets_lora.md) write it.
ENTRY_FOR_EXPERIMENT: dict[str, tuple[str, ...]] = {
    # post-training_video2world_gr00t.md §2.1, §2.2
    "predict2_video2world_training_2b_groot_gr1_480": _BY_MODULE,
    "predict2_video2world_training_14b_groot_gr1_480": _BY_MODULE,
    # post-training_multiview.md §2
    WAYMO: _BY_MODULE,
    # post-training_video2world_action.md
    "ac_reason_embeddings_rectified_flow_2b_256_320": _BY_MODULE,
}

#: ``model_parallel.context_parallel_size`` an experiment fixes (multiview/waymo.py sets 8). The
#: trainer hands it with the tensor and pipeline sizes to Megatron's
#: ``initialize_model_parallel`` (imaginaire/trainer.py), which needs the world size to be a
#: multiple of their product.
CONTEXT_PARALLEL: dict[str, int] = {WAYMO: 8}

_PARALLEL_KEYS = tuple(
    f"model_parallel.{k}_parallel_size" for k in ("context", "tensor_model", "pipeline_model")
)


JOB_NAMES: dict[str, JobName] = {
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
}
"""Experiment -> ``job.project`` / ``job.group`` / ``job.name``, as the upstream experiment files set them."""


P25_INFERENCE_SCRIPT = "examples/inference.py"
"""Base-model inference (read at 50369b8, the newest snapshot the mirror holds): ``tyro.cli(Args,
config=(PositionalRequiredArgs,))``, so the params file and ``SetupArguments.output_dir`` are
positional, then ``--checkpoint-path`` (a file) and ``--experiment``. The params file
(``InferenceArguments``, ``extra="forbid"``) holds ``inference_type``, ``samples`` (name ->
``prompt``, ``input_path``) and one ``seed`` for all of them, and has no steps key (the sampler's
own count is used). Each sample lands at ``<output dir>/<name>.mp4``."""


@register
class Predict25Adapter(UpstreamAdapter):
    kind = "cosmos-predict2.5"
    package = "cosmos_predict2"
    job_names = JOB_NAMES
    entry = ("scripts/train.py",)
    default_config = "cosmos_predict2/_src/predict2/configs/video2world/config.py"
    revision_sets = REVISION_SETS
    data_roots = {
        "predict2_video2world_training_2b_cosmos_nemo_assets": TRAIN_AND_SAMPLER,
        "predict2_lora_training_2b_cosmos_nemo_assets_txt": TRAIN_AND_SAMPLER,
        "predict2_lora_training_2b_cosmos_nemo_assets_json": TRAIN_SAMPLER_AND_VAL,
        "predict2_video2world_training_2b_groot_gr1_480": TRAIN_AND_SAMPLER,
        "predict2_video2world_training_14b_groot_gr1_480": TRAIN_AND_SAMPLER,
        WAYMO: DataRoot(
            paths=("dataloader_train.dataset.video_file_dirs=[{quoted}]",),
            follow=following(SAMPLER, VAL, VAL_SAMPLER),
        ),
        "ac_reason_embeddings_rectified_flow_2b_256_320": DataRoot(
            paths=_BRIDGE_PATHS,
            follow=(*following(SAMPLER), *following(VAL_SAMPLER, node=VAL)),
        ),
    }
    distributed_composition = frozenset({WAYMO})

    def module_args(self, preset: Preset) -> list[str]:
        """The shared command with the entry the experiment's doc writes."""
        args = super().module_args(preset)
        entry = ENTRY_FOR_EXPERIMENT.get(preset.experiment.name, self.entry)
        return [*entry, *args[len(self.entry) :]]

    def warnings(self, preset: Preset) -> list[str]:
        """The world size (``nproc_per_node x nnodes``) must be a multiple of context x tensor x
        pipeline parallelism, from the overrides or what the experiment fixes."""
        given = {k: override_value(preset.experiment.overrides, k) for k in _PARALLEL_KEYS}
        cp_key = _PARALLEL_KEYS[0]
        if given[cp_key] is None and preset.experiment.name not in CONTEXT_PARALLEL:
            return []
        sizes = dict.fromkeys(_PARALLEL_KEYS, 1)
        sizes[cp_key] = CONTEXT_PARALLEL.get(preset.experiment.name, 1)
        for key, value in given.items():
            if value is not None and value.strip().isdigit():
                sizes[key] = int(value)
        group = sizes[cp_key] * sizes[_PARALLEL_KEYS[1]] * sizes[_PARALLEL_KEYS[2]]
        world = preset.launch.nproc_per_node * preset.launch.nnodes
        if group >= 1 and world % group == 0:
            return []
        source = "the override" if given[cp_key] is not None else f"experiment {preset.experiment.name}"
        return [
            f"context parallelism {sizes[cp_key]} (from {source}) needs a world size that is a multiple of "
            f"{group}, but nproc_per_node x nnodes is {world}; launch on a multiple of {group} GPUs or add "
            f"the override {cp_key}=N with N dividing {world}"
        ]

    def inference_plan(self, job_dir: Path, request: SampleArgs) -> InferencePlan | None:
        """``python examples/inference.py PARAMS OUT --checkpoint-path ITER/model_ema_bf16.pt
        --experiment EXP`` once per seed (the params file has one seed), video2world on each
        sample's clip, after ``scripts/convert_distcp_to_pt.py``; ``--steps`` does not apply."""
        ctx = request.context
        if ctx is None:
            return None
        weights, convert = dcp_inference_weights(checkpoint_step(job_dir, request.iteration, self.kind), ctx)
        by_seed: dict[int, list[int]] = {}
        for i, req in enumerate(request.requests):
            by_seed.setdefault(req.seed, []).append(i)
        calls = []
        for seed, indices in by_seed.items():
            samples = {}
            for i in indices:
                req = request.requests[i]
                samples[sample_name(i, seed)] = {
                    "prompt": prompt_text(req.prompt, self.kind, req.origin),
                    "input_path": str(clip_video(ctx, req.clip)),
                }
            params = {"inference_type": "video2world", "samples": samples, "seed": seed}
            spec = request.out / "inputs" / f"seed{seed}.json"
            argv = [ctx.python, P25_INFERENCE_SCRIPT, str(spec), str(request.out)]
            argv += ["--checkpoint-path", str(weights), "--experiment", ctx.experiment]
            videos = tuple((i, request.out / f"{sample_name(i, seed)}.mp4") for i in indices)
            calls.append(InferenceCall(tuple(argv), ctx.checkout, {}, ((spec, spec_json(params)),), videos))
        return InferencePlan(weights, convert, tuple(calls))
