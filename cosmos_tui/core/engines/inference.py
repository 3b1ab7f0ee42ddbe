"""Sampling an upstream job with its repo's own inference script: the shapes every upstream adapter
fills (:class:`SampleContext` in, :class:`InferencePlan` out) and what they share (the clip video
a prompt is conditioned on, the weights a DCP checkpoint becomes).

An adapter's :meth:`~cosmos_tui.core.engines.base.EngineAdapter.inference_plan` says which
weights the script loads (and the conversion that makes them first), the input files it reads
(written from the prompts file into the samples output folder) and the argv of each call: a list
run without a shell, so a prompt reaches the script as one argument or one JSON string, never as
shell text. :mod:`cosmos_tui.core.sampling.upstream` runs the plan.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cosmos_tui.core import shell
from cosmos_tui.core.datasets.layouts import detect_layout, get_layout
from cosmos_tui.core.engines.conversion import ConversionPlan, plan_dcp_conversion
from cosmos_tui.core.errors import UsageError, UserError

INFERENCE_WEIGHTS = "model_ema_bf16.pt"
"""The file of a converted DCP checkpoint (one of :data:`DCP_OUTPUTS`) that the Transfer2.5 and
Predict2.5 post-training docs load."""


@dataclass(frozen=True)
class SampleContext:
    """What sampling an upstream job needs besides the job folder, from the preset of the newest run
    on it."""

    checkout: Path
    """The engine's checkout (``engine.repo``), where its inference script runs."""
    python: str
    """The checkout's interpreter."""
    experiment: str
    """The training experiment (``--experiment`` of the inference scripts that take one)."""
    data_root: Path | None = None
    """The dataset folder (``data.root``, resolved): where a prompt's clip video is found."""
    layout: str | None = None
    """The dataset layout id (``data.layout``; detected from the folder when ``None``)."""

    def runner_args(self) -> list[str]:
        """These facts as options of :mod:`cosmos_tui.core.sampling.upstream` (argv words)."""
        args = ["--checkout", str(self.checkout), "--python", self.python, "--experiment", self.experiment]
        if self.data_root is not None:
            args += ["--data-root", str(self.data_root)]
        if self.layout is not None:
            args += ["--layout", self.layout]
        return args


@dataclass(frozen=True)
class InferenceCall:
    """One run of the inference script: its input file (written first), argv, folder, environment
    and the videos it writes, each with the index of the sample (in the prompts file) it draws."""

    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    inputs: tuple[tuple[Path, str], ...] = ()
    """``(path, text)`` of each input file the script reads, written before it runs."""
    videos: tuple[tuple[int, Path], ...] = ()
    """``(sample index, mp4 the script writes for it)``."""
    views: tuple[tuple[int, Path], ...] = ()
    """``(sample index, mp4 with all its views in each frame)`` where the script writes one beside
    :attr:`videos` (Predict1's ``<i>_grid.mp4``): what the index names for playing and the contact
    sheet is drawn from; a sample not here uses its video."""

    def shell(self) -> str:
        """The call as a person would paste it (``cd``, ``export``s, the command, every word quoted)."""
        return shell.command(str(self.cwd), self.env, self.argv)


@dataclass(frozen=True)
class InferencePlan:
    """How one checkpoint is sampled by the engine's own inference."""

    weights: Path
    """What the script loads (the converted file, or the checkpoint dir Predict1 reads)."""
    convert: ConversionPlan | None
    """The conversion that makes :attr:`weights` first; ``None`` when it is already there."""
    calls: tuple[InferenceCall, ...]

    def shell(self) -> str:
        """The conversion (when needed), then every call, as shell text."""
        lines = [self.convert.shell()] if self.convert is not None else []
        for call in self.calls:
            lines += [
                f"# reads {shell.join([str(path)])} (written from the prompts file)"
                for path, _ in call.inputs
            ]
            lines.append(call.shell())
        return "\n".join(lines)


def spec_json(data: object) -> str:
    """An input file's text: JSON (strings escaped by ``json``, so any prompt stays one string)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def spec_jsonl(rows: Sequence[object]) -> str:
    """A JSON-lines input file: one object a line."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def clip_video(context: SampleContext, clip: str | None) -> Path:
    """The mp4 of dataset clip ``clip`` (``None``: the first clip, by name) in the job's dataset,
    from the first view for multi-view layouts; a :class:`UserError` when there is none."""
    root = context.data_root
    if root is None or not root.is_dir():
        raise UserError(
            "the job's run names no dataset folder (data.root) to take the conditioning clip from; "
            "launch with data.root set or sample a job that has one"
        )
    layout_id = context.layout or detect_layout(root)
    if layout_id is None:
        raise UserError(f"{root} matches no dataset layout; set data.layout on the run's preset")
    layout = get_layout(layout_id)
    vs = layout.video
    view = layout.view_dirs()[0] if vs.per_view and layout.view_dirs() else None
    if clip is None:
        folder = layout.video_path(root, vs, "x", view).parent
        names = sorted(p.stem for p in folder.glob("*.mp4") if p.is_file()) if folder.is_dir() else []
        if not names:
            raise UserError(f"{folder} holds no .mp4 clip to condition on; check data.root")
        clip = names[0]
    path = layout.video_path(root, vs, clip, view)
    if not path.is_file():
        raise UserError(f"clip {clip!r} has no video at {path}; name a clip of the job's dataset")
    return path.resolve()


def dcp_inference_weights(step_dir: Path, context: SampleContext) -> tuple[Path, ConversionPlan | None]:
    """``ITER/model_ema_bf16.pt`` and the conversion that writes it (the checkout's
    ``scripts/convert_distcp_to_pt.py``, else cosmos-tui's export); no conversion when it is there."""
    weights = step_dir / INFERENCE_WEIGHTS
    if weights.is_file():
        return weights, None
    return weights, plan_dcp_conversion(step_dir, context.checkout, context.python)


def checkpoint_step(job_dir: Path, iteration: int | None, kind: str) -> Path:
    """``job_dir/checkpoints/iter_%09d`` of a checkpoint sample; a :class:`UserError` for ``--base``,
    which the upstream scripts draw from a model variant cosmos-tui does not choose for a job."""
    if iteration is None:
        raise UserError(
            f"--base is not supported for {kind} jobs: its inference script loads base weights by model "
            "variant, not from the job; sample a checkpoint (--iter K) and run the base yourself"
        )
    return job_dir / "checkpoints" / f"iter_{iteration:09d}"


def prompt_text(prompt: str | None, kind: str, origin: str | None = None) -> str:
    """The prompt of one sample; a :class:`UsageError` without one (the upstream scripts read no
    dataset caption), naming the prompts file line it came from (``origin``)."""
    if prompt is None:
        if origin is None:
            raise UsageError(
                f"{kind}'s inference script needs the prompt text (it reads no dataset caption); "
                "pass --prompts FILE with a prompt on every line"
            )
        raise UsageError(
            f"{origin}: no prompt, and {kind}'s inference script needs the text (it reads no dataset "
            "caption); write a prompt before the first tab"
        )
    return prompt


def sample_name(index: int, seed: int) -> str:
    """The name of sample ``index`` drawn with ``seed``: its input entry and its mp4's stem."""
    return f"{index:03d}_seed{seed}"
