"""The headless commands the TUI shows beside its actions ("equivalent command" lines, the ``y``
dialogs, the wizard's hints), built in one place so each is a real ``cosmos-tui`` command with
every word shell-quoted (core's :func:`cosmos_tui.core.shell.join`). A test parses every one of
them with the real CLI.

Words from disk (a run id, a job folder) may hold anything; a word core refuses to render (a
control character) is quoted by :func:`shlex.quote` alone, and screens show the line through
:func:`~cosmos_tui.core.display.printable`, so what is shown is what is on disk.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from cosmos_tui.core import shell
from cosmos_tui.core.errors import UserError

PROGRAM = "cosmos-tui"

PRUNE_KEEP_LAST = 2
"""Complete checkpoints the dashboard's prune keeps (besides the latest, pinned and in-progress ones)."""


def words(*argv: object) -> str:
    """``argv`` as one shell line, each word quoted."""
    items = [str(a) for a in argv]
    try:
        return shell.join(items)
    except UserError:  # a control character: still one quoted word each, shown escaped
        return shlex.join(items)


def cli(*argv: object) -> str:
    """``cosmos-tui ARGV...``, each word quoted."""
    return f"{PROGRAM} {words(*argv)}"


def runs_commands(run_id: str | None) -> dict[str, str]:
    """What the runs screen's keys do, headless (``ID`` when no run is highlighted)."""
    rid = run_id or "ID"
    return {
        "list": cli("runs", "list"),
        "show": cli("runs", "show", rid),
        "logs": cli("runs", "logs", rid, "-f"),
        "job": cli("jobs", "show", rid),
        "stop": cli("runs", "stop", rid),
        "resume": cli("runs", "resume", rid),
        "rerun": cli("runs", "rerun", rid),
        "rm": cli("runs", "rm", rid, "--yes"),
        "rm_outputs": cli("runs", "rm", rid, "--outputs", "--yes"),
    }


def job_commands(run_id: str) -> dict[str, str]:
    """What the job screen shows, headless."""
    return {
        "show": cli("jobs", "show", run_id),
        "list": cli("jobs", "list"),
        "resume": cli("runs", "resume", run_id),
    }


def samples_commands(target: str) -> dict[str, str]:
    """The samples screen's commands for a run id or a job folder."""
    return {
        "new": cli("samples", "new", target, "--iter", "latest", "--base"),
        "list": cli("samples", "list"),
    }


def dashboard_commands(run_id: str, job_dir: str | None) -> dict[str, str]:
    """The headless command for every dashboard action (``JOB_DIR`` while the job folder is not
    known)."""
    job = job_dir or "JOB_DIR"
    return {
        "show": cli("runs", "show", run_id),
        "logs": cli("runs", "logs", run_id, "-f"),
        "stop": cli("runs", "stop", run_id),
        "save": words("touch", str(Path(job) / "SAVE_NOW")),
        "resume": cli("runs", "resume", run_id),
        "export": cli("ckpt", "export", run_id, "--out", str(Path(job) / "export")),
        "prune": cli("ckpt", "prune", run_id, "--keep-last", PRUNE_KEEP_LAST, "--yes"),
        "list_ckpt": cli("ckpt", "list", run_id),
        "gpus": cli("gpus", "--watch"),
    }


def hub_access(model_id: str, checkout: str | None = None) -> str:
    """Check, repo by repo, that the weights ``model_id`` needs can be downloaded (at the
    revisions the engine checkout ``checkout`` loads)."""
    return cli("hf", "access", model_id, *(("--repo", checkout) if checkout else ()))


def hub_download(model_id: str, checkout: str | None = None, checkpoint_dir: str | None = None) -> str:
    """Download what ``model_id``'s engine loads (into ``checkpoint_dir`` where the engine reads
    its weights from its checkout, as Predict1 does)."""
    extra: list[str] = []
    if checkout:
        extra += ["--repo", checkout]
    if checkpoint_dir:
        extra += ["--checkpoint-dir", checkpoint_dir]
    return cli("hf", "download", model_id, *extra)


def data_command(verb: str, root: str, layout: str, experiment: str | None = None) -> str:
    """``cosmos-tui data validate|synth ROOT --layout ID [--experiment NAME]``."""
    return cli("data", verb, root, "--layout", layout, *(("--experiment", experiment) if experiment else ()))


def prepare_command(src: str, out: str, layout: str, experiment: str | None = None) -> str:
    """``cosmos-tui data prepare SRC OUT --layout ID [--experiment NAME]``."""
    extra = ("--experiment", experiment) if experiment else ()
    return cli("data", "prepare", src, out, "--layout", layout, *extra)


def run_with_sets(name: str, sets: list[str] | tuple[str, ...] = ()) -> str:
    """``cosmos-tui run NAME --set ...``: what the wizard's form launches."""
    argv: list[str] = ["run", name]
    for item in sets:
        argv += ["--set", item]
    return cli(*argv)


def run_preset(path: str | Path = "PRESET") -> str:
    """Launch a preset file."""
    return cli("run", str(path))


def models_list() -> str:
    """The catalog."""
    return cli("models", "list")


def demo() -> str:
    """The whole flow on CPU (the empty runs list suggests it)."""
    return cli("demo")


def every_command(run_id: str = "ID", job_dir: str = "JOB_DIR", model_id: str = "MODEL") -> list[str]:
    """Every command line the TUI can show, for the given names (the test parses each)."""
    dashboard = dashboard_commands(run_id, job_dir)
    lines = [
        *runs_commands(run_id).values(),
        *job_commands(run_id).values(),
        *dashboard.values(),
        dashboard["export"] + " --yes",  # the export's confirmation, when it would replace files
        hub_access(model_id),
        hub_access(model_id, "/src/cosmos-predict1"),
        hub_download(model_id),
        hub_download(model_id, "/src/cosmos-predict1", "/src/cosmos-predict1/checkpoints"),
        run_preset(),
        data_command("validate", "/data/my set", "predict1-waymo", "s2mv_text2world_tiny"),
        data_command("synth", "/data/my set", "predict1-waymo"),
        run_with_sets("builtin-demo", ["data.root=/data/my set", "trainer.max_iter=10"]),
        models_list(),
        demo(),
    ]
    return [line for line in lines if line.startswith(PROGRAM + " ")]
