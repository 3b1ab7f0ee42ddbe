"""`cosmos-tui data`: list layouts, validate a dataset against its loader, synthesize one.

Exit codes of ``data validate``: 0 valid (warnings allowed), 1 at least one error finding,
2 usage error. Heavy imports (PyAV, numpy) stay inside the commands.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, out, shown, to_jsonable
from cosmos_tui.core.datasets.fix import apply_fixes, plan_fixes
from cosmos_tui.core.datasets.layouts import LAYOUTS, detect_layout, get_layout
from cosmos_tui.core.datasets.paint import MARKER
from cosmos_tui.core.datasets.synth import refuse_missing_parents, synthesize
from cosmos_tui.core.datasets.validate import validate
from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.safeio import CONFIG_CAP, read_text_capped

if TYPE_CHECKING:
    from cosmos_tui.core.datasets.findings import Report
    from cosmos_tui.core.datasets.layouts import CaptionSource, CaptionSpec

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_F = TypeVar("_F", bound=Callable[..., Any])


def _parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size '{text}' is not HxW (for example 64x96).") from None
    return h, w


def _report_json(report: Report) -> dict[str, Any]:
    data = to_jsonable(report)
    return {"ok": report.ok, **data}


def _print_report(report: Report, frames_set: bool) -> None:
    escape = shown  # names from the dataset: control characters and markup both escaped
    what = (
        "--frames"
        if frames_set
        else f"experiment {report.experiment}"
        if report.experiment
        else "layout default"
    )
    out.print(
        f"[bold]{report.layout}[/bold] at {escape(str(report.root))}: {report.clips} clips, "
        f"{report.videos} videos, {report.embeddings} embeddings checked in {report.elapsed_s:.2f}s "
        f"({report.min_frames} frames needed, {what}{', decoded' if report.deep else ''})"
    )
    for f in report.findings:
        where = f" in {len(f.clips)} clips" if 1 < len(f.clips) < f.count else ""
        out.print(
            f"[{_STYLE[f.severity]}]{f.severity.upper():<7}[/] "
            f"[bold]{f.id}[/bold] x{f.count}{where}: {escape(f.title)}"
        )
        for ex in f.examples:
            out.print(f"        e.g. {escape(ex)}")
        if f.count > len(f.examples):
            out.print(f"        ... and {f.count - len(f.examples)} more (--json lists every one)")
        out.print(f"        fix: {escape(f.fix)}")
    if report.ok:
        warnings = sum(f.severity == "warning" for f in report.findings)
        note = f" ({warnings} kind(s) of warning)" if warnings else ""
        out.print(f"[green]valid[/green]: the loader will open this dataset{note}")
    else:
        out.print(f"[bold red]invalid[/bold red]: {report.errors} kind(s) of error; see the fixes above")


def _run_validate(
    root: Path,
    layout: str,
    experiment: str | None,
    frames: int | None,
    deep: bool,
    workers: int | None,
    show_progress: bool,
    max_caption_tokens: int | None = None,
) -> Report:
    run = functools.partial(
        validate,
        root,
        layout,
        experiment=experiment,
        min_frames=frames,
        deep=deep,
        workers=workers,
        max_caption_tokens=max_caption_tokens,
    )
    if not show_progress:
        return run()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )  # deferred: rich renderables, only when that output is printed

    columns = (TextColumn("checking clips"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("validate", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run(progress=progress)


data_app = typer.Typer(
    help="Datasets: validate a dataset against the loader, prepare one from raw videos, synthesize one.",
    no_args_is_help=True,
    add_completion=False,
)


def _caption_rule(spec: CaptionSpec) -> str:
    """The loader's caption rule (``spec.rule`` over ``spec.sources``) as one sentence."""

    def keys(src: CaptionSource) -> str:
        return f" ({', else '.join(src.json_keys)})" if src.json_keys else ""

    where = [f"{s.folder}/<name>{s.ext}{keys(s)}" for s in spec.sources]
    if spec.rule == "first-folder":
        folders = list(dict.fromkeys(s.folder for s in spec.sources))
        first = [f"<name>{s.ext}{keys(s)}" for s in spec.sources if s.folder == folders[0]]
        rule = (
            f"the caption folder is {folders[0]}/ whenever it exists (even empty), else "
            f"{', else '.join(f + '/' for f in folders[1:])}; in it {' then '.join(first)}"
        )
    elif spec.rule == "format-switch":
        json_src = next(s for s in spec.sources if s.ext == ".json")
        text_src = next(s for s in spec.sources if s.ext == ".txt")
        rule = (
            f"one format for the whole set: any *.json in {json_src.folder}/ switches every clip to "
            f"{json_src.folder}/<name>.json, else any *.txt in {text_src.folder}/ makes it "
            f"{text_src.folder}/<name>.txt, else the loader refuses to start"
        )
        if json_src.json_schema == "model-prompts":
            rule += ' (JSON: {"<model>": {"long", "short", "medium"}}, the first key\'s object)'
        for experiment, fmt in spec.formats.items():
            prompt = f", prompt '{fmt.prompt_type}'" if fmt.prompt_type else ""
            rule += f"; {experiment} reads {fmt.format} captions{prompt}"
    else:
        rule = f"reads {' and '.join(where)}"
    if spec.fallback is not None:
        what = "an empty caption" if spec.fallback == "" else f"the caption '{spec.fallback}'"
        rule += f"; a clip without a readable caption trains on {what}"
    else:
        rule += f"; a clip without one: {spec.missing_note}"
    return rule


@data_app.command("layouts")
def layouts_cmd(json_: bool = JsonOption) -> None:
    """List the dataset layouts: folders, views, captions and the loader's caption rule,
    embeddings, frame needs, notes."""

    if json_:
        rows = []
        for lay in LAYOUTS.values():
            row = to_jsonable(lay)
            if lay.captions:
                row["captions"]["rule_text"] = _caption_rule(lay.captions)
            rows.append(row)
        emit_json(rows)
        return
    for lay in LAYOUTS.values():
        out.print(f"[bold]{lay.id}[/bold]  {lay.title}")
        views = ", ".join(lay.view_dirs()) or "(single view)"
        out.print(f"  views: {views}")
        for vs in lay.videos:
            where = f"{vs.folder}/<view>/<name>.mp4" if vs.per_view else f"{vs.folder}/<name>.mp4"
            when = "" if vs.needed_by is None else f" (for {', '.join(vs.needed_by)})"
            out.print(f"  {where}: {vs.description}{when}")
        if lay.captions:
            srcs = " or ".join(f"{s.folder}/<name>{s.ext}" for s in lay.captions.sources)
            out.print(f"  captions: {srcs}")
            out.print(f"  caption rule ({lay.captions.rule}): {shown(_caption_rule(lay.captions))}")
        if lay.embeddings:
            e = lay.embeddings
            out.print(
                f"  embeddings: {e.clip_folder}/<view>/<name>{e.ext} = [(L, {e.dim})], "
                f"{e.prefix_folder}/{e.prefix_stem}{e.ext} = (L, {e.dim}); L <= {e.max_len}, "
                f"{'/'.join(e.dtypes)}"
            )
        frames = ", ".join(f"{k}: {v}" for k, v in lay.experiments.items())
        out.print(f"  frames: default {lay.default_min_frames}; {frames}")
        for note in lay.notes:
            out.print(f"  note: {shown(note)}")


@data_app.command("validate")
def validate_cmd(
    root: Path = typer.Argument(..., help="Dataset root (the folder holding videos/)."),
    layout: str | None = typer.Option(
        None,
        "--layout",
        "-l",
        help="Layout id (see `data layouts`); guessed from the folders if left out.",
    ),
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="Experiment whose frame count the clips must reach."
    ),
    frames: int | None = typer.Option(
        None, "--frames", help="Frames each clip needs (overrides --experiment)."
    ),
    deep: bool = typer.Option(False, "--deep", help="Decode every video to count its real frames."),
    workers: int | None = typer.Option(None, "--workers", help="Threads checking clips (default: auto)."),
    fix: bool = typer.Option(
        False,
        "--fix",
        help="Plan safe fixes (rename, squeeze, rewrap embeddings); writes only with --yes.",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --fix: write the fixed files."),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --fix: only show the plan (the default)."),
    max_caption_tokens: int | None = typer.Option(
        None,
        "--max-caption-tokens",
        help="Cosmos 3: the recipe's [dataloader_train].max_caption_tokens (default 2048).",
    ),
    json_: bool = JsonOption,
) -> None:
    """Check a dataset against what the loader opens. Exit 0 valid, 1 errors found (or no such
    folder), 2 usage error."""

    if (yes or dry_run) and not fix:
        raise UsageError("--yes and --dry-run go with --fix.")
    if not root.is_dir():  # the thing named is not there: 1, as for a missing run or preset
        what = "is not a folder" if root.exists() else "does not exist"
        raise UserError(f"{root} {what}; pass the dataset root (the folder holding videos/).")
    if layout is None:
        layout = detect_layout(root)
        if layout is None:
            raise UsageError(
                f"Cannot tell the layout of {root}; pass --layout (see `cosmos-tui data layouts`)."
            )
        err.print(f"layout: {shown(layout)} (guessed from the folders; pass --layout to choose)")
    fix_plan: list[dict[str, Any]] | None = None
    if fix:
        actions = plan_fixes(root, layout)
        apply = yes and not dry_run
        written = apply_fixes(actions) if apply else []
        fix_plan = [
            {**to_jsonable(a), "applied": a.target in written, "description": a.describe(root)}
            for a in actions
        ]
        if not json_:
            verb = "fixed" if apply else "would fix"
            for a in actions:
                err.print(f"{verb}: {shown(a.describe(root))}")
            if not actions:
                err.print("nothing to fix mechanically")
            elif not apply:
                err.print(
                    f"dry run: {len(actions)} fix(es) planned; run again with --fix --yes to write them"
                )
    show_progress = not json_ and err.is_terminal and sys.stderr.isatty()
    report = _run_validate(root, layout, experiment, frames, deep, workers, show_progress, max_caption_tokens)
    if json_:
        data = _report_json(report)
        if fix_plan is not None:
            data["fixes"] = fix_plan
        emit_json(data)
    else:
        _print_report(report, frames is not None)
    if not report.ok:
        raise typer.Exit(1)


@data_app.command("synth")
def synth_cmd(
    root: Path = typer.Argument(..., help="Folder to create (new, empty, or an earlier synth)."),
    layout: str = typer.Option(..., "--layout", "-l", help="Layout id (see `data layouts`)."),
    clips: int = typer.Option(4, "--clips", help="Number of clips."),
    frames: int | None = typer.Option(
        None,
        "--frames",
        help="Frames per clip (default: what --experiment, else the layout's default, needs).",
    ),
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="Make clips long enough for this experiment (see `data layouts`)."
    ),
    size: str = typer.Option("64x96", "--size", help="Frame size HxW (even numbers)."),
    fps: int | None = typer.Option(None, "--fps", help="Frame rate (default 10; Cosmos 3 vision: 24)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same data)."),
    parents: bool = typer.Option(
        False, "--parents", help="Also create missing folders above DIR (refused without it)."
    ),
    json_: bool = JsonOption,
) -> None:
    """Write a small valid dataset of real mp4s (moving patterns) and embeddings/captions."""

    started = time.perf_counter()
    size_hw = _parse_size(size)
    get_layout(layout)  # an unknown layout is a usage error before anything about the folder
    if not parents:
        refuse_missing_parents(root)
    path = synthesize(
        root, layout, clips=clips, frames=frames, size=size_hw, fps=fps, seed=seed, experiment=experiment
    )
    frames = json.loads(read_text_capped(path / MARKER, CONFIG_CAP, what="synth marker"))["frames"]
    elapsed = time.perf_counter() - started
    if json_:
        emit_json({"root": path, "layout": layout, "clips": clips, "frames": frames, "elapsed_s": elapsed})
    else:
        out.print(shown(path))
        err.print(f"wrote {clips} {layout} clip(s) of {frames} frames at {size} in {elapsed:.2f}s")


def _prepare_progress(enabled: bool) -> Callable[[int, int, float], None] | None:
    """A progress line on stderr every 5 s (and at the end): done/total, clips per second, ETA."""
    if not enabled:
        return None
    state = {"last": 0.0, "first": None}

    def progress(done: int, total: int, elapsed: float) -> None:
        if state["first"] is None:
            state["first"] = done  # finished by an earlier run: not in the rate
            return
        now = time.monotonic()
        if done < total and now - state["last"] < 5.0:
            return
        state["last"] = now
        new = done - state["first"]
        rate = new / elapsed if elapsed > 0 else 0.0
        eta = f", ETA {(total - done) / rate:.0f}s" if rate > 0 and done < total else ""
        err.print(f"prepared {done}/{total} source videos ({rate:.2f}/s{eta})")

    return progress


@data_app.command("prepare")
def prepare_cmd(
    src: Path = typer.Argument(..., help="Folder of raw videos (.mp4 .mov .mkv .webm .avi); only read."),
    out: Path = typer.Argument(..., help="Folder to write the dataset into (new, empty, or this job's)."),
    layout: str = typer.Option(..., "--layout", "-l", help="Layout id (see `data layouts`)."),
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="Cut windows of this experiment's frames, at its resolution."
    ),
    frames: int | None = typer.Option(None, "--frames", help="Frames per window (overrides --experiment)."),
    size: str | None = typer.Option(
        None, "--size", help="Output HxW (default: the experiment's resolution)."
    ),
    fit: str = typer.Option("crop", "--fit", help="crop (centre-crop to the aspect) or pad (letterbox)."),
    max_crop: float = typer.Option(
        0.25, "--max-crop", help="With --fit crop: drop clips whose crop loses more of the picture."
    ),
    scene_threshold: float = typer.Option(
        30.0, "--scene-threshold", help="Mean frame difference (0-255) that counts as a scene cut."
    ),
    no_scene_cuts: bool = typer.Option(False, "--no-scene-cuts", help="Do not look for scene cuts."),
    windows: int | None = typer.Option(
        None, "--windows-per-clip", help="Most windows taken from one video (default: all)."
    ),
    captions: Path | None = typer.Option(
        None, "--captions", help="CSV (path,caption) or JSONL ({path, caption}); paths relative to SRC."
    ),
    caption_command: str | None = typer.Option(
        None,
        "--caption-command",
        help="Your captioner for clips without a caption, e.g. 'my-cap {clip}'; stdout is the caption.",
    ),
    caption_timeout: float = typer.Option(120.0, "--caption-timeout", help="Seconds per caption command."),
    caption_format: str = typer.Option(
        "auto", "--caption-format", help="predict25-video2world: text (metas/) or json (captions/)."
    ),
    crf: int = typer.Option(18, "--crf", help="libx264 quality (lower is better and bigger)."),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", help="Worker processes (default: the cores this process may use)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be written; write nothing."),
    fresh: bool = typer.Option(
        False, "--fresh", help="Start OUT's earlier prepare job over (clears only the folders it wrote)."
    ),
    parents: bool = typer.Option(False, "--parents", help="Also create missing folders above OUT."),
    views_rule: str | None = typer.Option(
        None, "--views-rule", help="Multiview: how SRC names a clip's cameras, e.g. '{clip}/{view}.mp4'."
    ),
    views_map: Path | None = typer.Option(
        None, "--views-map", help="Multiview: a CSV (clip,view,path) or JSON mapping instead of a rule."
    ),
    control: list[str] = typer.Option(
        [],
        "--control",
        help="Transfer2.5 controls (repeatable): edge[=STRENGTH] (Canny, computed here), "
        "depth|seg|vis='TOOL {input} {output}', depth|seg=upstream (the --repo checkout's script), "
        "or for the HDMap rig hdmap='RENDERER {view} {clip} {start} {frames} {output}' (per camera).",
    ),
    repo: Path | None = typer.Option(
        None, "--repo", help="A cosmos-transfer2.5 checkout, for KIND=upstream."
    ),
    control_timeout: float = typer.Option(3600.0, "--control-timeout", help="Seconds per control command."),
    t5_model: str | None = typer.Option(
        None, "--t5-model", help="Predict1: the local google-t5/t5-11b folder the T5 embeddings come from."
    ),
    t5_device: str = typer.Option("auto", "--t5-device", help="auto, cuda or cpu, for the T5 encoder."),
    t5_batch: int = typer.Option(16, "--t5-batch", help="Captions encoded at a time."),
    json_: bool = JsonOption,
) -> None:
    """Turn raw videos (and your captions) into LAYOUT's dataset, then validate it. Resumable: run
    the same command again after a crash or Ctrl-C. Exit 0 valid, 1 invalid, 2 usage error."""
    from cosmos_tui.core.datasets.prepare.controls import control_message  # deferred: see job below
    from cosmos_tui.core.datasets.prepare.job import PrepareOptions, prepare  # deferred: multiprocessing
    from cosmos_tui.core.datasets.prepare.steps import StepRequest, build_steps  # deferred: as above

    if fit not in ("crop", "pad"):
        raise UsageError(f"--fit must be crop or pad, not {fit!r}.")
    if caption_format not in ("auto", "text", "json"):
        raise UsageError(f"--caption-format must be text or json, not {caption_format!r}.")
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}.")
    if not 0 <= crf <= 51:
        raise UsageError(f"--crf must be 0-51, not {crf}.")
    if t5_batch < 1:
        raise UsageError(f"--t5-batch must be at least 1, not {t5_batch}.")
    get_layout(layout)
    asked: dict[str, str] = {}
    for item in control:
        kind, _, value = item.partition("=")
        if kind in asked:
            raise UsageError(f"--control {kind} is given twice; give each control once.")
        asked[kind] = value
    request = StepRequest(
        views_rule=views_rule,
        views_map=views_map,
        controls=asked,
        repo=repo,
        control_timeout=control_timeout,
        t5_model=t5_model,
        t5_device=t5_device,
        t5_batch=t5_batch,
    )
    extra_steps, finish_steps, group = build_steps(layout, src, request)
    opts = PrepareOptions(
        layout=layout,
        experiment=experiment,
        frames=frames,
        size=_parse_size(size) if size else None,
        fit=fit,  # type: ignore[arg-type]
        max_crop=max_crop,
        scene_threshold=None if no_scene_cuts else scene_threshold,
        max_windows=windows,
        captions_file=captions,
        caption_command=caption_command,
        caption_timeout=caption_timeout,
        caption_format=caption_format,  # type: ignore[arg-type]
        crf=crf,
        jobs=jobs,
        extra_steps=extra_steps,
        finish_steps=finish_steps,
        group_views=group,
    )
    if not parents and not dry_run:
        refuse_missing_parents(out)
    result = prepare(src, out, opts, dry_run=dry_run, fresh=fresh, progress=_prepare_progress(not json_))
    if json_:
        data = to_jsonable(result)
        data["ok"] = result.ok if not dry_run else None
        if result.report is not None:
            data["report"] = _report_json(result.report)
        emit_json(data)
    else:
        _print_prepare(result, frames is not None, [control_message(kind) for kind in asked])
    if not dry_run and not result.ok:
        raise typer.Exit(1)


def _print_prepare(result: Any, frames_given: bool, notes: list[str]) -> None:
    size = "x".join(map(str, result.size)) if result.size else "source size"
    what = f"{result.layout}, {result.frames} frames a clip at {size}"
    if result.dry_run:
        for item in result.plan:
            if item.reason:
                out.print(f"drop  {shown(item.rel)}: {shown(item.reason)}")
            else:
                state = " (done)" if item.done else ""
                out.print(f"write {shown(item.rel)}: up to {item.windows} clip(s){state}")
                for f in item.files:
                    out.print(f"        {shown(f)}")
        out.print(
            f"dry run ({what}): {result.sources} source video(s) would give up to {result.clips} clip(s), "
            f"{len(result.dropped)} dropped; nothing was written"
        )
        return
    for rel, reason in result.dropped:
        err.print(f"[yellow]dropped[/yellow] {shown(rel)}: {shown(reason)}")
    for rel, reason in result.skipped:
        err.print(f"skipped {shown(rel)}: {shown(reason)}")
    resumed = f" ({result.resumed} done by an earlier run)" if result.resumed else ""
    out.print(
        f"prepared {result.clips} clip(s) from {result.sources} source video(s){resumed} into "
        f"{shown(str(result.out))} ({what}) in {result.elapsed_s:.1f}s; {len(result.dropped)} dropped"
    )
    if result.report is not None:
        _print_report(result.report, frames_given)
    if result.clips:
        for note in notes:  # who reads each control kind written
            out.print(f"note: {shown(note)}")
