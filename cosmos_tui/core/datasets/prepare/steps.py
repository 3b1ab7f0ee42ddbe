"""The job's optional steps, built from what the person asked for on the command line (or in the
wizard): how raw videos group into cameras (``views.py``), which control videos each window gets
(``controls.py``), and the T5 text embeddings of a Predict1 set (``t5.py``).

Each step is a small frozen dataclass with ``__call__``: picklable (per-window steps run in the
job's worker processes), and its ``repr`` names its settings, which the job records in its
fingerprint, so a resume with other settings is refused like any other change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosmos_tui.core.datasets.layouts import Layout, get_layout
from cosmos_tui.core.datasets.prepare import controls, t5, views
from cosmos_tui.core.datasets.prepare.job import FinishStep
from cosmos_tui.core.datasets.prepare.sources import GroupViews
from cosmos_tui.core.datasets.prepare.worker import ClipStep, PreparedWindow, StepFailed
from cosmos_tui.core.engines.checkout import detect_python
from cosmos_tui.core.errors import UsageError, UserError


@dataclass(frozen=True)
class ViewGrouping:
    """``GroupViews`` over :func:`views.group_views`: a naming ``rule`` or a ``mapping`` file."""

    src: str
    rule: str | None = None
    mapping: str | None = None

    def __call__(
        self, paths: list[Path], layout: Layout
    ) -> tuple[dict[str, dict[str, Path]], list[tuple[Path, str]]]:
        found = views.group_views(paths, layout.views, src=self.src, rule=self.rule, mapping=self.mapping)
        return found.groups, [(Path(what), reason) for what, reason in found.dropped]


@dataclass(frozen=True)
class EdgeStep:
    """Each window's Canny edge control (``edge/<name>.mp4``, Transfer2.5's inference preset
    ``strength``): for inference and previews; training computes its own."""

    strength: str = "medium"
    folder: str = "edge"

    @property
    def provides(self) -> tuple[str, ...]:
        return (self.folder,)

    def __call__(self, w: PreparedWindow) -> list[Path]:
        out = w.out / self.folder / f"{w.name}.mp4"
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            controls.edge_video(w.window.path, out, self.strength, root=w.out)
        except UserError as e:
            raise StepFailed(str(e)) from None
        return [out]


@dataclass(frozen=True)
class CommandStep:
    """Each window's ``kind`` control from a command, kept at ``<folder>/<name>.mp4``; with
    ``view_folder`` (a multiview layout: the HDMap rig's renders of your map and boxes) once per
    camera, kept at ``<folder>/<camera folder>/<name>.mp4``. Placeholders: ``{input}`` (the window,
    that camera's), ``{output}``, ``{scratch}``, ``{view}``, ``{clip}`` (the source clip id),
    ``{start}`` and ``{frames}`` (its source frame range). A failure drops the window with the
    command's reason."""

    kind: str
    template: tuple[str, ...]
    folder: str
    timeout: float = 3600.0
    cwd: str | None = None
    view_folder: str | None = None

    @property
    def provides(self) -> tuple[str, ...]:
        return (self.folder,)

    def __call__(self, w: PreparedWindow) -> list[Path]:
        cameras = w.views.items() if self.view_folder is not None else [(None, w.window)]
        written = []
        for view, window in cameras:
            where = w.out / self.folder
            if self.view_folder is not None:
                where = where / self.view_folder.format(view=view)
            out = where / f"{w.name}.mp4"
            out.parent.mkdir(parents=True, exist_ok=True)
            values = {"view": str(view or ""), "clip": w.source_rel}
            values.update(start=str(window.start), frames=str(window.frames))
            try:
                controls.command_control(
                    self.kind,
                    list(self.template),
                    window.path,
                    out,
                    self.timeout,
                    root=w.out,
                    cwd=self.cwd,
                    values=values,
                )
            except UserError as e:
                raise StepFailed(f"{view}: {e}" if view else str(e)) from None
            written.append(out)
        return written


@dataclass(frozen=True)
class T5Step:
    """Once per job, in this process (the encoder is loaded once): every window's caption into
    ``t5_xxl/<view>/<name>.pkl`` for each view (the loader reads the front view's, the others
    with ``load_mv_emb``), and ``cache/prefix_<view>.pkl``. Resumable: finished files are kept."""

    model: str
    views: tuple[str, ...]
    device: str = "auto"
    batch_size: int = 16
    provides: tuple[str, ...] = ("t5_xxl",)

    def __call__(self, out: Path, windows: list[dict[str, Any]]) -> None:
        missing = [w["name"] for w in windows if not isinstance(w.get("caption"), str)]
        if missing:
            raise UserError(
                f"{len(missing)} window(s), e.g. {missing[0]}, were prepared by an earlier version "
                "that did not record captions; run again with --fresh to compute their embeddings."
            )
        if not windows:
            return
        encoder = t5.T5Encoder(self.model, self.device, dim=t5.EmbeddingSpec().dim)
        captions = {w["name"]: w["caption"] for w in windows}
        t5.write_clip_embeddings(out, captions, self.views, encoder=encoder, batch_size=self.batch_size)
        t5.write_prefix_embeddings(out, self.views, encoder=encoder)


@dataclass(frozen=True)
class StepRequest:
    """What the person asked for, as the CLI's options say it."""

    views_rule: str | None = None
    views_map: Path | None = None
    controls: Mapping[str, str] = field(default_factory=dict)
    """Control kind -> ``edge``'s strength (or ``""`` for medium) / a command template / ``upstream``."""
    repo: Path | None = None
    """A cosmos-transfer2.5 checkout, for ``--control depth=upstream``."""
    python: str | None = None
    control_timeout: float = 3600.0
    t5_model: str | None = None
    t5_device: str = "auto"
    t5_batch: int = 16


def build_steps(
    layout_id: str, src: Path, req: StepRequest
) -> tuple[tuple[ClipStep, ...], tuple[FinishStep, ...], GroupViews | None]:
    """(per-window steps, once-per-job steps, view grouping) for ``req`` on ``layout_id``; a
    :class:`UsageError` for what the layout cannot take."""
    layout = get_layout(layout_id)
    group: GroupViews | None = None
    if req.views_rule is not None or req.views_map is not None:
        if not layout.views:
            raise UsageError(
                f"{layout_id} is single-view; --views-rule and --views-map are for multiview layouts."
            )
        if req.views_rule is not None and req.views_map is not None:
            raise UsageError("Give --views-rule or --views-map, not both.")
        mapping = None if req.views_map is None else os.path.abspath(req.views_map)
        group = ViewGrouping(str(Path(src).resolve()), req.views_rule, mapping)
    elif layout.views:
        example = "{clip}/{view}.mp4" if layout.id != "predict1-waymo" else "{view}/{clip}.mp4"
        raise UsageError(
            f"{layout_id} has {len(layout.views)} cameras ({', '.join(layout.views[:2])}, ...): "
            f"say how SRC's videos map to them with --views-rule '{example}' or "
            "--views-map FILE (clip,view,path)."
        )
    steps: list[ClipStep] = []
    folders = controls.CONTROL_FOLDERS.get(layout_id, {})
    for kind, value in req.controls.items():
        if kind not in folders:
            known = ", ".join(folders) or "none"
            raise UsageError(f"{layout_id} takes no {kind} control videos (it takes: {known}).")
        if kind == "edge":
            strength = value or "medium"
            if strength not in controls.EDGE_THRESHOLDS:
                known = ", ".join(controls.EDGE_THRESHOLDS)
                raise UsageError(f"Unknown edge strength '{value}'; use one of: {known}.")
            controls.require_cv2()  # before any clip: a missing library is not a per-clip failure
            steps.append(EdgeStep(strength, folders[kind]))
            continue
        if not value:
            raise UsageError(
                f"--control {kind} needs a command: {kind}='TOOL {{input}} {{output}}' or {kind}=upstream."
            )
        cwd = None
        if value == "upstream":
            if req.repo is None:
                raise UsageError(
                    f"--control {kind}=upstream runs the checkout's own script: pass --repo CHECKOUT."
                )
            python = req.python or detect_python(req.repo)[0] or "python"
            template = controls.upstream_command(kind, req.repo, python)
            cwd = str(req.repo)
        else:
            template = controls.parse_template(value, controls.required_placeholders(kind))
        view_folder = layout.view_folder if layout.views else None
        steps.append(CommandStep(kind, tuple(template), folders[kind], req.control_timeout, cwd, view_folder))
    finish: list[FinishStep] = []
    if layout.embeddings is not None:
        model = t5.locate_t5(req.t5_model) if req.t5_model is not None else None
        if model is None:
            raise UsageError(
                f"{layout_id} needs T5 text embeddings: pass --t5-model DIR (the google-t5/t5-11b "
                f"folder; '{t5.T5_MODEL_HINT}' fetches it)."
            )
        t5.require_transformers()  # before any clip, not once they are all cut
        finish.append(T5Step(model, layout.views, req.t5_device, req.t5_batch))
    elif req.t5_model is not None:
        raise UsageError(f"{layout_id} reads captions, not T5 embeddings; drop --t5-model.")
    return tuple(steps), tuple(finish), group
