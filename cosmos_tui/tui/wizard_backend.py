"""The new-run wizard's door into ``core``: the catalog with what this machine has, Hugging Face
login/access/download, dataset layout detection, validation and synthesis, the preset form, and
the one prepared launch that is previewed and then started.

The wizard's steps only render what these return and post messages; everything here may block
(files, network, subprocesses), so the steps call it from thread workers, except the form's
preset building and command rendering (:func:`build_preset`, :func:`render_command`), which
read nothing from disk and run as the person types. The steps reach ``core`` only through this
module (besides ``core``'s display and error helpers).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cosmos_tui.core import catalog as catalog_mod
from cosmos_tui.core.containment import write_contained
from cosmos_tui.core.datasets.layouts import LAYOUTS
from cosmos_tui.core.datasets.layouts import detect_layout as detect
from cosmos_tui.core.datasets.synth import missing_folders as synth_missing_folders
from cosmos_tui.core.datasets.synth import synthesize as synth
from cosmos_tui.core.datasets.validate import validate as run_validator
from cosmos_tui.core.engines.registry import get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.fserrors import describe_os_error
from cosmos_tui.core.hub import settings
from cosmos_tui.core.hub.auth import login as hub_login
from cosmos_tui.core.hub.auth import whoami
from cosmos_tui.core.hub.fetch import download as fetch
from cosmos_tui.core.hub.plan import plan_download, weights_present
from cosmos_tui.core.launch import render
from cosmos_tui.core.overrides import as_int, override_value
from cosmos_tui.core.paths import state_root
from cosmos_tui.core.preflight import nproc_problem, visible_gpus
from cosmos_tui.core.presets import (
    apply_sets,
    job_name_problem,
    load_preset,
    preset_from_dict,
    save_named_preset,
    saved_presets,
    shipped_presets,
)
from cosmos_tui.core.runs.lifecycle import launch_prepared
from cosmos_tui.core.runs.lifecycle import prepare as prepare_launch

if TYPE_CHECKING:
    from cosmos_tui.core.catalog import ModelSpec
    from cosmos_tui.core.datasets.findings import Report
    from cosmos_tui.core.datasets.prepare.job import PrepareResult
    from cosmos_tui.core.hub.fetch import DownloadProgress
    from cosmos_tui.core.hub.plan import DownloadPlan
    from cosmos_tui.core.presets import Preset
    from cosmos_tui.core.runs.targets import Existing, Prepared


@dataclass(frozen=True)
class ModelRow:
    """One catalog entry with what this machine has for it."""

    id: str
    family: str
    name: str
    engine: str
    min_gpus: int
    gpu_memory_gb: int
    gated: bool
    weights: str
    """``present``, ``missing`` or ``n/a`` (builtin: no weights to fetch)."""


@dataclass(frozen=True)
class Catalog:
    """The catalog as the model step shows it."""

    rows: tuple[ModelRow, ...]
    specs: dict[str, ModelSpec]
    """Catalog id -> its ``ModelSpec`` (what the later steps are given)."""
    gpus_here: int | None
    """GPUs visible on this machine (None or 0: none)."""


@dataclass(frozen=True)
class HubState:
    """Who is logged in and what a download of the model would fetch."""

    account: str | None
    offline: bool
    plan: DownloadPlan | None = None
    """The ``DownloadPlan`` (its ``access`` verdicts, files and sizes), when it could be made."""
    error: str = ""


# -- step 1: model --------------------------------------------------------------------------------


def read_catalog() -> Catalog:
    """Every catalog model, the GPUs here, and whether each model's weights are on disk."""

    catalog = catalog_mod.load_catalog()
    gpus = visible_gpus()
    rows = []
    specs = {}
    for m in catalog.models:
        specs[m.id] = m
        if m.needs_hub:
            try:
                weights = "present" if weights_present(m) else "missing"
            except Exception:
                weights = "unknown"
        else:
            weights = "n/a"
        rows.append(
            ModelRow(
                id=m.id,
                family=m.family,
                name=m.name,
                engine=m.engine,
                min_gpus=m.compute.min_gpus,
                gpu_memory_gb=m.compute.gpu_memory_gb,
                gated=any(r.gated for r in m.repos),
                weights=weights,
            )
        )
    return Catalog(tuple(rows), specs, gpus)


# -- step 2: Hugging Face -------------------------------------------------------------------------


def needs_checkout(model: ModelSpec) -> bool:
    """The model's engine runs from a checkout of its upstream repo (``engine.repo``)."""

    return get_adapter(model.engine).runs_from_checkout


def checkout_problem(model: ModelSpec, checkout: str) -> str | None:
    """Why ``checkout`` cannot be ``model``'s engine checkout on this machine (``None``: it can)."""

    adapter = get_adapter(model.engine)
    repo = Path(checkout).expanduser()
    if not repo.is_absolute():
        return f"{checkout} is a relative path; give the checkout's absolute path"
    preset = preset_from_dict(
        {"model": {"id": model.id}, "engine": {"kind": model.engine, "repo": str(repo)}}, source="the form"
    )
    problems = [p for p in adapter.problems(preset) if "engine.repo" in p]
    return problems[0] if problems else None


def _plan(model: ModelSpec, checkout: str | None) -> DownloadPlan:
    adapter = get_adapter(model.engine)
    repo = Path(checkout).expanduser() if checkout else None
    if adapter.weights_in_checkout and repo is None:
        raise UserError(
            f"{model.id} reads its weights from the checkpoints/ folder of its {model.engine} "
            "checkout: give the checkout's folder above"
        )
    return plan_download(
        model,
        repo / "checkpoints" if adapter.weights_in_checkout and repo is not None else None,
        checkout=repo if repo is not None and repo.is_dir() else None,
    )


def hub_state(model: ModelSpec, checkout: str | None = None) -> HubState:
    """Login state, per-repo access and the download plan of ``model`` (a ``ModelSpec``), its
    weights placed as its engine reads them (a Predict1 checkout's ``checkpoints/``)."""

    offline = settings.offline()
    account = None
    try:
        account = None if offline else whoami()
        return HubState(account.name if account else None, offline, _plan(model, checkout))
    except UserError as e:
        return HubState(account.name if account else None, offline, error=str(e))


def login(token: str) -> None:
    """Log in with ``token`` (kept only by huggingface_hub's own token store)."""

    hub_login(token)


def download(
    model: ModelSpec, progress: Callable[[DownloadProgress], None], checkout: str | None = None
) -> None:
    """Fetch what is missing of ``model``'s weights; ``progress`` gets each ``DownloadProgress``."""

    fetch(_plan(model, checkout), progress=progress)


# -- step 3: data ---------------------------------------------------------------------------------


def layout_titles() -> dict[str, str]:
    """Every dataset layout id and its title (a table in code: nothing is read)."""

    return {k: v.title for k, v in LAYOUTS.items()}


def detect_layout(root: str) -> str | None:
    """The layout the folder ``root`` looks like (None: not recognised, or not readable)."""

    try:
        return detect(Path(root).expanduser())
    except OSError:  # an unreadable folder: no layout recognised; validating says why
        return None


def validate(root: str, layout: str, experiment: str | None, progress: Callable[[int, int], None]) -> Report:
    """The dataset validator's report; ``progress(done, total)`` as clips are checked. A
    :class:`UserError` (one sentence) when the folder cannot be validated at all."""

    try:
        return run_validator(Path(root).expanduser(), layout, experiment=experiment, progress=progress)
    except OSError as e:  # the dataset root itself cannot be read: one sentence, no crash
        raise UserError(describe_os_error(e, doing="read")) from None


def synthesize(root: str, layout: str, experiment: str | None) -> None:
    """Write a small valid dataset of real mp4s under ``root``, with clips as long as
    ``experiment`` needs; a :class:`UserError` when the folder cannot take it."""

    try:
        synth(Path(root).expanduser(), layout, experiment=experiment)
    except OSError as e:  # read-only or unwritable folder: one sentence, no crash
        raise UserError(describe_os_error(e, doing="write")) from None


def prepare_dataset(
    src: str,
    out: str,
    layout: str,
    experiment: str | None,
    progress: Callable[[int, int, float], None],
    stop: Callable[[], bool],
) -> PrepareResult:
    """``data prepare SRC OUT --layout ID [--experiment NAME]`` (resumable: the same call again
    goes on where a stop or a crash left it), ending in the validator's report. A layout that needs
    more than the wizard asks (camera grouping, controls, T5 weights) is a :class:`UserError`
    naming what to pass the command."""
    from cosmos_tui.core.datasets.prepare.job import PrepareOptions, prepare  # deferred: multiprocessing
    from cosmos_tui.core.datasets.prepare.steps import StepRequest, build_steps  # deferred: as above

    source, target = Path(src).expanduser(), Path(out).expanduser()
    try:
        steps, finish, group = build_steps(layout, source, StepRequest())
        opts = PrepareOptions(layout, experiment, extra_steps=steps, finish_steps=finish, group_views=group)
        return prepare(source, target, opts, progress=progress, stop=stop)
    except OSError as e:  # SRC or OUT cannot be read or written: one sentence, no crash
        raise UserError(describe_os_error(e, doing="prepare the dataset")) from None


def missing_folders(root: str) -> tuple[str, ...]:
    """The folders a synthetic set at ``root`` would create, outermost first (empty: it exists)."""

    return tuple(str(p) for p in synth_missing_folders(Path(root)))


# -- step 4: setup --------------------------------------------------------------------------------


def trains_on_cpu(model: ModelSpec) -> bool:
    """The model needs no GPU and its engine falls back to CPU processes over gloo."""

    return get_adapter(model.engine).cpu_fallback and model.compute.min_gpus == 0


TYPED_FIELDS: dict[str, tuple[str, str]] = {
    "setup-iters": ("trainer.max_iter", "Iterations"),
    "setup-save-iter": ("checkpoint.save_iter", "Save every"),
    "setup-lr": ("optimizer.lr", "Learning rate"),
    "setup-job": ("job.name", "Job name"),
}
"""The setup form's typed fields: field id -> (the override key every engine reads, the label).
The keys are imaginaire's Hydra keys, which the builtin engine, Transfer2.5, Predict2.5, Predict1
and cosmos-framework's recipes all take."""
CPU_DEFAULTS = {"trainer.max_iter": "10", "checkpoint.save_iter": "5"}
"""What the form proposes for a CPU model started from its defaults (a run of seconds)."""


def preset_value(preset: Preset, key: str) -> str | None:
    """What ``preset``'s overrides set ``key`` to (the last one wins, as in Hydra); ``None``: unset."""

    value = override_value(preset.experiment.overrides, key)
    return value.strip().strip("'\"") if value is not None else None


def field_problem(key: str, label: str, text: str) -> str | None:
    """Why ``text`` cannot be the typed field ``label`` (override ``key``), in one sentence; ``None``
    when it can (empty: the preset's or engine's own value)."""

    if not text:
        return None
    if key in ("trainer.max_iter", "checkpoint.save_iter"):
        number = as_int(text)
        if number is None or number < 1 or not text.isdigit():
            return f"{label} must be a whole number above 0 ({key}), not {text!r}."
        return None
    if key == "optimizer.lr":
        try:
            lr = float(text)
        except ValueError:
            lr = -1.0
        if not (0 < lr < float("inf")):
            return f"{label} must be a positive number such as 1e-4 ({key}), not {text!r}."
        return None
    if key == "job.name":
        problem = job_name_problem("name", text)
        return f"{label}: {problem}." if problem else None
    return None


def setup_warnings(preset: Preset, gpus: int | None) -> list[str]:
    """What the form allows but the person should know before launching, one sentence each: a save
    interval longer than the run (only the final checkpoint), more ranks than this machine has
    GPUs, or CPU cores on a CPU run."""

    warnings = []
    iters = as_int(preset_value(preset, "trainer.max_iter"))
    every = as_int(preset_value(preset, "checkpoint.save_iter"))
    if iters and every and every > iters:
        warnings.append(
            f"Save every {every} is more than the {iters} iterations, so the only checkpoint is the "
            f"final one; set Save every to {iters} or less to save along the way."
        )
    problem = nproc_problem(preset, gpus)
    if problem:
        warnings.append(problem.replace("use --set launch.nproc_per_node=", "set Processes/node to ") + ".")
    return warnings


def build_preset(data: dict[str, Any], sets: Sequence[str]) -> Preset:
    """The preset the form describes (``data``, then the ``key=value`` overrides ``sets``); a
    :class:`UserError` naming what is wrong."""

    preset = preset_from_dict(data, source="the form")
    return apply_sets(preset, list(sets), source="overrides") if sets else preset


def with_sets(preset: Preset, sets: Sequence[str]) -> Preset:
    """``preset`` with the ``--set`` items ``sets`` applied (``cosmos-tui run PRESET --set ...``);
    a :class:`UserError` naming what is wrong."""

    return apply_sets(preset, list(sets), source="the form") if sets else preset


def render_command(preset: Preset) -> str:
    """The command ``preset`` launches, one argument group a line."""

    return render(preset).shell(multiline=True)


@dataclass(frozen=True)
class StartingPoint:
    """A preset the setup form can start from: shipped, or saved by the person earlier."""

    name: str
    """What ``cosmos-tui run NAME`` takes."""
    origin: str
    """``shipped`` or ``saved``."""
    description: str
    data: dict[str, Any]
    """The preset as its file holds it (only what differs from the defaults)."""


def starting_points(model_id: str) -> tuple[StartingPoint, ...]:
    """The shipped presets for ``model_id``, then the saved ones (a damaged file is passed over:
    ``cosmos-tui preset list`` says why)."""

    found = [(n, p, "shipped") for n, p in shipped_presets().items()]
    found += [(n, p, "saved") for n, p in saved_presets().items()]
    points = []
    for name, path, origin in found:
        try:
            preset = load_preset(path)
        except UserError:
            continue
        if preset.model.id == model_id:
            points.append(StartingPoint(name, origin, preset.description or "", preset.to_dict()))
    return tuple(points)


def save_preset(preset: Preset, name: str, *, overwrite: bool = False) -> Path:
    """Save ``preset`` as ``name`` among the saved presets (``cosmos-tui run NAME`` runs it)."""

    return save_named_preset(preset, name, overwrite=overwrite)


def render_elsewhere(preset: Preset) -> str:
    """The command ``preset`` would launch on the machine that has its checkout, weights and
    data (rendered as for a Slurm node: nothing of it need exist here)."""

    away = preset.model_copy(deep=True)
    away.launch.target = "slurm"
    return render(away).shell(multiline=True)


# -- the wizard's draft ---------------------------------------------------------------------------

DRAFT_FILE = "wizard-draft.json"
DRAFT_CAP = 64 << 10
"""A draft larger than this is no draft the wizard wrote."""


def load_draft() -> tuple[dict[str, Any], str | None]:
    """What the person had entered when they last left the wizard (``{}``: nothing), and a
    one-line note when a draft was there but could not be used (truncated by a kill, damaged)."""

    path = state_root() / DRAFT_FILE
    try:
        if not path.is_file():
            return {}, None
        if path.stat().st_size > DRAFT_CAP:
            raise ValueError("too large")
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("setup", {}), dict):
            raise ValueError("not a draft")
    except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return {}, f"The wizard's saved draft ({path}) was unreadable, so the form starts empty."
    plain = (str, bool, type(None))  # what the wizard writes; a list or a table is no field's value
    setup = {k: v for k, v in data.get("setup", {}).items() if isinstance(v, plain)}
    return {**{k: v for k, v in data.items() if isinstance(v, plain)}, "setup": setup}, None


def save_draft(draft: dict[str, Any]) -> None:
    """Keep the wizard's fields for the next time it opens (never a token: the form has none).
    Written to a temp file and renamed over the draft, so a kill mid-write leaves the old one."""

    root = state_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        write_contained(root / DRAFT_FILE, json.dumps(draft, sort_keys=True), root, what="the state folder")
    except (OSError, UserError):
        pass  # a read-only state folder: the draft is only a convenience


# -- step 5: launch -------------------------------------------------------------------------------


def prepare(preset: Preset, existing: Existing) -> Prepared:
    """The launch ``cosmos-tui run`` would make (``Prepared``: checks, command, job folder, resume
    point), with ``existing`` (``ask``, ``resume`` or ``fresh``) for a job that holds checkpoints."""

    return prepare_launch(preset, existing=existing)


def launch(prepared: Prepared, preset: Preset) -> str:
    """Start exactly ``prepared`` (what was previewed); the new run's id."""

    return launch_prepared(prepared, base=preset).id


def weights_in_checkout(model: ModelSpec) -> bool:
    """The engine reads its weights from its checkout's ``checkpoints/`` folder (Predict1)."""

    return get_adapter(model.engine).weights_in_checkout
