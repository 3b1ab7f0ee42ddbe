"""Cosmos-Predict1 (nvidia-cosmos/cosmos-predict1), Single2MultiView and multiview post-training:
``torchrun ... -m cosmos_predict1.diffusion.training.train --config=... -- experiment=...`` from
the checkout root (relative ``checkpoints/...`` paths are hard-coded upstream), outputs under
``OUTPUT_ROOT`` (default ``checkpoints``), ``.pt`` checkpoints, no W&B.

The Single2MultiView experiments load
``checkpoints/Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/{t2w,v2w}_model.pt``,
while ``scripts/download_diffusion_checkpoints.py`` saves the repo it can fetch under another
name. When the weights are not where the experiment looks, the adapter points
``checkpoint.load_path`` at wherever they were downloaded.

Every shipped experiment (``config/{text2world,video2world}_{singletomultiview,multiview}/
experiment.py``) builds ``dataloader_train`` and ``dataloader_val`` from one
``example_multiview_dataset_waymo`` with ``sampler=L(get_sampler)(dataset=...)`` in both, and
``train.py`` instantiates both loaders, so ``data.root`` moves all four copies.

Checkpoints are ``.pt`` sets, not converted for inference: ``iter_%09d_ema_model.pt`` is placed where the
inference script can load it. The doc (examples/post-training_diffusion_single2multiview.md,
2b446eb) copies it to ``checkpoints/Cosmos-Predict1-7B-SingleToMultiView_post-trained/model.pt``
and passes ``--diffusion_transformer_dir Cosmos-Predict1-7B-SingleToMultiView_post-trained``,
which ``video2world_view_extend_multiview.py``'s argparse rejects: its ``choices`` are only
``Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/{t2w,v2w}_model.pt``, loaded from
``<checkpoint_dir>/<that path>``. Following the code, the doc's folder becomes a checkpoint dir
of its own: ``model.pt`` (the doc's file), the same file (hard link) at
``Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/{t2w,v2w}_model.pt``, and links to
the shared folders of ``checkpoints/`` (tokenizer, T5, guardrails), so
``--checkpoint_dir checkpoints/Cosmos-Predict1-7B-SingleToMultiView_post-trained`` runs the
post-trained model and the downloaded base weights stay untouched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cosmos_tui.core import shell
from cosmos_tui.core.checkpoints.scan import CheckpointInfo, pt_member
from cosmos_tui.core.engines.base import SampleArgs, register
from cosmos_tui.core.engines.conversion import ConversionPlan, ConvertRequest, refuse_existing
from cosmos_tui.core.engines.dataroot import TRAIN_SAMPLER_AND_VAL
from cosmos_tui.core.engines.inference import (
    InferenceCall,
    InferencePlan,
    checkpoint_step,
    clip_video,
    prompt_text,
    spec_jsonl,
)
from cosmos_tui.core.engines.jobdir import JobName, same_group
from cosmos_tui.core.engines.revisions import RevisionSet
from cosmos_tui.core.engines.upstream import UpstreamAdapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.overrides import override_value
from cosmos_tui.core.presets import Preset

S2MV_REPO_ID = "nvidia/Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView"
"""The Hugging Face repo of the Single2MultiView weights (renamed in cosmos-predict1 PR #121)."""
S2MV_DIR = "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView"
"""The folder under ``checkpoints/`` that the experiments load from."""
S2MV_OTHER_DIRS: tuple[str, ...] = (
    "Cosmos-Predict1-7B-SingleToMultiView-Sample-AV",  # what download_diffusion_checkpoints.py builds
    "Cosmos-Predict1-7B-Single2Multiview-Sample-AV",  # the name one doc version uses
)
S2MV_WEIGHTS: dict[str, str] = {
    "text2world_singletomultiview_7b_example_waymo": "t2w_model.pt",
    "video2world_singletomultiview_7b_example_waymo": "v2w_model.pt",
}
"""Experiment -> the weights file its ``checkpoint.load_path`` names."""
POSTTRAINED_DIR = "Cosmos-Predict1-7B-SingleToMultiView_post-trained"
"""Where the inference script looks for a post-trained ``model.pt``."""
P1_INFERENCE_SCRIPT = "cosmos_predict1/diffusion/inference/video2world_view_extend_multiview.py"
P1_ACCEPTED_TRANSFORMERS: tuple[str, ...] = tuple(f"{S2MV_DIR}/{w}" for w in ("t2w_model.pt", "v2w_model.pt"))
"""The only ``--diffusion_transformer_dir`` values the inference script's argparse accepts (2b446eb)."""
P1_POSTTRAINED_ROOT = f"checkpoints/{POSTTRAINED_DIR}"
"""The ``--checkpoint_dir`` (relative to the checkout) that holds the placed post-trained model."""
P1_SHARED_DIRS: tuple[str, ...] = ("Cosmos-Tokenize1-CV8x8x8-720p", "google-t5", "meta-llama", "nvidia")
"""Folders of ``checkpoints/`` the inference reads besides the transformer (tokenizer, T5, Llama
Guard, Guardrail1: the catalog's local_dirs), linked into :data:`P1_POSTTRAINED_ROOT`."""
P1_PLACEHOLDER_VIDEO = "assets/diffusion/sv2mv_input_view.mp4"
"""The doc's example input view; a person replaces it (and the ``<...>`` prompts) before running."""
P1_PROMPT_KEYS: tuple[str, ...] = (
    "prompt",
    "prompt_left",
    "prompt_right",
    "prompt_back",
    "prompt_back_left",
    "prompt_back_right",
)
P1_VIEW_PROMPTS: dict[str, str] = {
    "prompt_left": "The video is captured from a camera mounted on a car. The camera is facing to the left. ",
    "prompt_right": (
        "The video is captured from a camera mounted on a car. The camera is facing to the right."
    ),
    "prompt_back": "The video is captured from a camera mounted on a car. The camera is facing backwards.",
    "prompt_back_left": (
        "The video is captured from a camera mounted on a car. The camera is facing the rear left side."
    ),
    "prompt_back_right": (
        "The video is captured from a camera mounted on a car. The camera is facing the rear right side."
    ),
}
"""The other views' prompts: the defaults of ``video2world_view_extend_multiview.py``'s argparse
(49e02cd), which batch mode does not apply, so each JSONL line carries them."""
P1_DOC_NOTE = (
    f"The post-training doc passes --diffusion_transformer_dir {POSTTRAINED_DIR}, which the script's "
    f"argparse rejects (it accepts only {' or '.join(P1_ACCEPTED_TRANSFORMERS)}); this command follows "
    f"the code: --checkpoint_dir {P1_POSTTRAINED_ROOT} holds the post-trained weights under that name."
)
"""Said next to the Predict1 inference command wherever it is shown."""

REVISION_SETS: tuple[RevisionSet, ...] = (
    RevisionSet(
        read_at="2b446ebb36a7d19f22d293e0619be89ec2fbeb32",
        since=None,
        pins={},  # scripts/download_*_checkpoints.py call snapshot_download without a revision
        unpinned_note="cosmos-predict1's downloaders do not pin revisions",
    ),
)


JOB_NAMES: dict[str, JobName] = {
    **same_group(
        "posttraining",
        "diffusion_text2world",
        ["text2world_singletomultiview_7b_example_waymo", "text2world_multiview_7b_example_waymo"],
    ),
    **same_group(
        "posttraining",
        "diffusion_video2world",
        ["video2world_singletomultiview_7b_example_waymo", "video2world_multiview_7b_example_waymo"],
    ),
}
"""Experiment -> ``job.project`` / ``job.group`` / ``job.name``, as the upstream experiment files set them."""


@register
class Predict1Adapter(UpstreamAdapter):
    kind = "cosmos-predict1"
    package = "cosmos_predict1"
    job_names = JOB_NAMES
    entry = ("-m", "cosmos_predict1.diffusion.training.train")
    default_config = "cosmos_predict1/diffusion/training/config/config_multiview.py"
    output_root_var = "OUTPUT_ROOT"
    default_output_root = "checkpoints"
    checkpoint_layout = "pt"
    weights_in_checkout = True
    has_wandb_mode = False
    revision_sets = REVISION_SETS
    data_roots = {
        f"{mode}_{views}_7b_example_waymo": TRAIN_SAMPLER_AND_VAL
        for mode in ("text2world", "video2world")
        for views in ("singletomultiview", "multiview")
    }

    def env(self, preset: Preset) -> dict[str, str]:
        """The documented setup prefix ``CUDA_HOME=$CONDA_PREFIX PYTHONPATH=$(pwd)``, then the preset's."""
        env: dict[str, str] = {}
        repo = self.repo(preset)
        if repo is not None:
            env["PYTHONPATH"] = str(repo)
        prefix = Path(self.python(preset)).parent.parent
        if (prefix / "conda-meta").is_dir():
            env["CUDA_HOME"] = str(prefix)
        env.update(super().env(preset))
        return env

    def s2mv_weights(self, preset: Preset) -> tuple[Path | None, Path | None]:
        """``(expected, found)``: where the experiment loads its Single2MultiView weights from, and
        where they actually are (the expected file, a downloader-named folder, or the HF cache);
        ``(None, None)`` for other experiments."""
        filename = S2MV_WEIGHTS.get(preset.experiment.name)
        repo = self.repo(preset)
        if filename is None or repo is None:
            return None, None
        expected = repo / "checkpoints" / S2MV_DIR / filename
        candidates = [expected, *(repo / "checkpoints" / d / filename for d in S2MV_OTHER_DIRS)]
        for path in candidates:
            if path.is_file():
                return expected, path
        return expected, _hf_cached(filename, preset.env.HF_HOME)

    def extra_overrides(self, preset: Preset) -> list[str]:
        if override_value(preset.experiment.overrides, "checkpoint.load_path") is not None:
            return []
        expected, found = self.s2mv_weights(preset)
        if found is not None and found != expected:
            return [f"checkpoint.load_path={found}"]
        return []

    def convert(self, checkpoint: CheckpointInfo, request: ConvertRequest) -> ConversionPlan:
        """No conversion: the set's EMA file is placed in the checkout (:func:`place_p1_ema`)."""
        if request.checkout is None:
            raise UserError("placing a Predict1 checkpoint needs its checkout; pass --repo PATH")
        return place_p1_ema(
            pt_member(checkpoint.path, "ema_model"),
            request.checkout,
            yes=request.yes,
            dry_run=request.dry_run,
        )

    def inference_command(
        self, checkpoint: CheckpointInfo, checkout: Path | None, python: str = "python"
    ) -> tuple[str, str | None] | None:
        """The Single2MultiView inference for the placed EMA file, as upstream's argparse accepts
        it, run from the checkout (``PYTHONPATH`` its root, as the doc sets it) with the doc's
        example input video and prompt placeholders to replace; the note says where the doc's own
        command is rejected."""
        if checkout is None:
            return None
        weights = p1_weights_name(pt_member(checkpoint.path, "ema_model"))
        world = "text2world" if weights.startswith("t2w") else "video2world"
        prompts = {k: f"<{k.replace('_', ' ')}>" for k in P1_PROMPT_KEYS}
        argv = p1_inference_argv(
            P1_PLACEHOLDER_VIDEO,
            prompts,
            f"diffusion-single2multiview-{world}-posttrained",
            weights=weights,
            python=python,
        )
        return shell.command(str(checkout), {"PYTHONPATH": str(checkout)}, argv), P1_DOC_NOTE

    def inference_plan(self, job_dir: Path, request: SampleArgs) -> InferencePlan | None:
        return p1_sample_plan(job_dir, request, self.kind)

    def warnings(self, preset: Preset) -> list[str]:
        if override_value(preset.experiment.overrides, "checkpoint.load_path") is not None:
            return []
        expected, found = self.s2mv_weights(preset)
        if expected is not None and found is None:
            return [
                f"the Single2MultiView weights {expected.name} are not downloaded (looked in "
                f"{expected.parent} and the Hugging Face cache); download {S2MV_REPO_ID} with "
                "`cosmos-tui hf download` before launching (the upstream downloader's "
                "--model_types names do not fetch it)"
            ]
        return []


def _hf_cached(filename: str, hf_home: str | None) -> Path | None:
    """The file from the Single2MultiView repo in the Hugging Face cache, if it is there."""
    from huggingface_hub import try_to_load_from_cache  # deferred: huggingface_hub, only when the Hub is used

    cache_dir = str(Path(hf_home).expanduser() / "hub") if hf_home else None
    found = try_to_load_from_cache(S2MV_REPO_ID, filename, cache_dir=cache_dir)
    return Path(found) if isinstance(found, str) else None


def p1_weights_name(ema_file: Path) -> str:
    """``t2w_model.pt`` or ``v2w_model.pt``: the name the experiment whose job folder holds
    ``ema_file`` loads (text2world when the path names neither)."""
    for part in Path(ema_file).parts:
        if part in S2MV_WEIGHTS:
            return S2MV_WEIGHTS[part]
    return "t2w_model.pt"


def plan_p1_placement(ema_file: Path, repo: Path) -> ConversionPlan:
    """Where a Predict1 ``iter_%09d_ema_model.pt`` goes for the multiview inference script (see the
    module docstring): the doc's ``model.pt`` and the name the script's argparse accepts, in a
    checkpoint dir of its own that links the shared folders of ``checkpoints/``."""
    checkpoints = Path(repo) / "checkpoints"
    root = checkpoints / POSTTRAINED_DIR
    dest = root / "model.pt"
    accepted = root / S2MV_DIR / p1_weights_name(ema_file)
    shared = set(P1_SHARED_DIRS)
    if checkpoints.is_dir():
        shared |= {
            p.name
            for p in checkpoints.iterdir()
            if p.is_dir()
            and p.name not in (POSTTRAINED_DIR, S2MV_DIR, "posttraining")
            and not p.name.startswith(".")
        }
    links = tuple((root / name, f"../{name}") for name in sorted(shared))
    return ConversionPlan("place-ema", Path(ema_file), (dest, accepted), links=links)


def place_p1_ema(ema_file: Path, repo: Path, *, yes: bool = False, dry_run: bool = False) -> ConversionPlan:
    """Put ``ema_file`` where Predict1's inference expects a post-trained ``model.pt``: a hard link
    when on the same file system (no copy, and it survives pruning), else a copy; the file appears
    under its final name only when complete."""
    ema_file = Path(ema_file)
    if not ema_file.is_file() or not ema_file.name.endswith("_ema_model.pt"):
        raise UserError(f"{ema_file} is not a Predict1 iter_NNNNNNNNN_ema_model.pt file; check the path")
    plan = plan_p1_placement(ema_file, repo)
    dest, accepted = plan.outputs
    refuse_existing(plan.outputs, yes)
    for link, _ in plan.links:
        if link.exists() and not link.is_symlink():
            raise UserError(f"{link} is a real folder, not a link to ../{link.name}; move it away first")
    if dry_run:
        return plan
    for path, source in ((dest, ema_file), (accepted, dest)):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        tmp.replace(path)
    for link, target in plan.links:
        if link.is_symlink():
            if os.readlink(link) == target:
                continue
            link.unlink()
        link.symlink_to(target, target_is_directory=True)
    return plan


def _p1_model_argv(python: str, checkpoint_dir: str, transformer: str) -> list[str]:
    return [
        python,
        P1_INFERENCE_SCRIPT,
        "--checkpoint_dir",
        checkpoint_dir,
        "--diffusion_transformer_dir",
        transformer,
    ]


def p1_inference_argv(
    view_condition_video: str,
    prompts: dict[str, str],
    video_save_name: str,
    *,
    checkpoint_dir: str = P1_POSTTRAINED_ROOT,
    weights: str = "t2w_model.pt",
    python: str = "python",
) -> list[str]:
    """The Single2MultiView inference command for the placed post-trained model, as the script's
    argparse accepts it (the doc's ``--diffusion_transformer_dir`` is rejected; show
    :data:`P1_DOC_NOTE` next to it). ``weights``: :func:`p1_weights_name` of the placed file.
    ``prompts`` keys: ``prompt``, ``prompt_left``, ``prompt_right``, ``prompt_back``,
    ``prompt_back_left``, ``prompt_back_right``."""
    transformer = f"{S2MV_DIR}/{weights}"
    if transformer not in P1_ACCEPTED_TRANSFORMERS:
        raise UserError(f"weights must be t2w_model.pt or v2w_model.pt, not {weights!r}")
    argv = [
        *_p1_model_argv(python, checkpoint_dir, transformer),
        "--view_condition_video",
        view_condition_video,
        "--num_input_frames",
        "1",
        "--condition_location",
        "first_cam",
    ]
    for key in P1_PROMPT_KEYS:
        argv += [f"--{key}", prompts.get(key, "")]
    return [*argv, "--video_save_name", video_save_name]


def p1_sample_plan(job_dir: Path, request: SampleArgs, kind: str) -> InferencePlan | None:
    """Single2MultiView inference of a checkpoint (read at 49e02cd): the EMA file placed first
    (:func:`plan_p1_placement`, skipped when the placed file is already it), then per seed (the
    script takes one ``--seed``) ``python video2world_view_extend_multiview.py ... --batch_input_path
    SEED.jsonl --video_save_folder OUT/seedS --seed S --num_steps N``: each JSONL line holds the six
    view prompts and ``view_condition_input`` (the clip's front view), and line ``i`` lands at
    ``OUT/seedS/<i>.mp4`` (the views one after another in time) and ``<i>_grid.mp4`` (the six
    views in a 2x3 grid, each frame; what the index plays and the contact sheet shows)."""
    ctx = request.context
    if ctx is None:
        return None
    step = checkpoint_step(job_dir, request.iteration, kind)
    ema = step.parent / f"{step.name}_ema_model.pt"
    placement = plan_p1_placement(ema, ctx.checkout)
    dest, accepted = placement.outputs
    placed = dest.is_file() and ema.is_file() and os.path.samefile(dest, ema) and accepted.is_file()
    if not placed and not request.overwrite:
        refuse_existing(placement.outputs, False)  # another checkpoint is placed there: --yes replaces it
    transformer = f"{S2MV_DIR}/{p1_weights_name(ema)}"
    by_seed: dict[int, list[int]] = {}
    for i, req in enumerate(request.requests):
        by_seed.setdefault(req.seed, []).append(i)
    calls = []
    env = {"PYTHONPATH": str(ctx.checkout)}
    for seed, indices in by_seed.items():
        rows = [
            {
                "prompt": prompt_text(request.requests[i].prompt, kind, request.requests[i].origin),
                **P1_VIEW_PROMPTS,
                "view_condition_input": str(clip_video(ctx, request.requests[i].clip)),
            }
            for i in indices
        ]
        spec = request.out / "inputs" / f"seed{seed}.jsonl"
        folder = request.out / f"seed{seed}"
        argv = [*_p1_model_argv(ctx.python, P1_POSTTRAINED_ROOT, transformer)]
        argv += ["--num_input_frames", "1", "--condition_location", "first_cam"]
        argv += ["--batch_input_path", str(spec), "--video_save_folder", str(folder)]
        argv += ["--seed", str(seed), "--num_steps", str(request.steps)]
        videos = tuple((i, folder / f"{n}.mp4") for n, i in enumerate(indices))
        grids = tuple((i, folder / f"{n}_grid.mp4") for n, i in enumerate(indices))
        inputs = ((spec, spec_jsonl(rows)),)
        calls.append(InferenceCall(tuple(argv), ctx.checkout, env, inputs, videos, grids))
    return InferencePlan(dest.parent, None if placed else placement, tuple(calls))
