"""Rendering a preset into the exact command that runs, and finding where the job will write.

:func:`render` is the one place a preset becomes a :class:`LaunchSpec` (the CLI's ``preset
render``, ``run``, the TUI and the demo all call it). :func:`resolve_job_dir` asks the engine
itself, through its ``--dryrun``, where the job folder is (upstream experiments may name their job
differently from the experiment), and falls back to the adapter's own reckoning.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cosmos_tui.core.engines.base import LaunchSpec, NodeRole, get_adapter, refuse_unsafe
from cosmos_tui.core.jobconfig import load_file
from cosmos_tui.core.monitor.logline import BRACKET_PREFIX_RE, EXCEPTION_LINE_RE
from cosmos_tui.core.presets import Preset, job_name_problem

DRYRUN_TIMEOUT_S = 180.0
_CONFIG_PATH = re.compile(r"""(?:^|[\s'"=:])([^\s'"]*config\.yaml)\b""")


def render(preset: Preset, environ: dict[str, str] | None = None, role: NodeRole | None = None) -> LaunchSpec:
    """The full launch for ``preset`` in ``environ`` (default: this process's environment)."""
    env = dict(os.environ if environ is None else environ)
    return get_adapter(preset.engine.kind).render(preset, env, role)


def world_size(preset: Preset) -> int:
    """Processes in the whole job: nnodes x nproc_per_node."""
    return preset.launch.nnodes * preset.launch.nproc_per_node


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing is bound to ``port`` on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class JobDir:
    """Where the job writes, and how that was found."""

    path: Path | None
    """The job output folder (``None`` when it could not be found)."""
    source: Literal["dryrun", "adapter", "unknown"]
    """``dryrun``: read from the engine's own composed config; ``adapter``: reckoned from the preset."""
    note: str | None = None
    """Why the dry run was not used, when it was not."""
    config: object = None
    """The engine's composed config (from its dry run), as plain data; ``None`` without one."""


def failure_line(*texts: str) -> str:
    """The line that says why a process failed: the last exception line (``KeyError: ...``,
    ``hydra.errors.ConfigCompositionException: ...``) of the first text that has one, else the
    last line that is not torchrun's ``====`` / ``----`` decoration; 300 characters at most."""
    for text in texts:
        lines = [ln.strip() for ln in text.splitlines()]
        found = [
            ln
            for ln in lines
            if EXCEPTION_LINE_RE.match(ln) and not ln.startswith("torch.distributed.elastic")
        ]
        if found:
            return BRACKET_PREFIX_RE.sub("", found[-1])[:300]  # torchrun's "[rank0]: " prefix
    for text in texts:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip().strip("=-")]
        if lines:
            return lines[-1][:300]
    return ""


def _config_paths(text: str, cwd: Path) -> list[Path]:
    found = []
    for match in _CONFIG_PATH.finditer(text):
        path = Path(match.group(1)).expanduser()
        path = path if path.is_absolute() else cwd / path
        if path.is_file():
            found.append(path)
    return found


def _job_from_config(data: object) -> tuple[str, str, str] | None:
    job = data.get("job") if isinstance(data, dict) else None
    if not isinstance(job, dict):
        return None
    parts = tuple(str(job.get(k) or "") for k in ("project", "group", "name"))
    if any(job_name_problem(k, v) for k, v in zip(("project", "group", "name"), parts, strict=True)):
        return None  # a name that is not one folder: the job folder is not where it points
    return parts if all(parts) else None  # type: ignore[return-value]


def resolve_job_dir(
    preset: Preset,
    environ: dict[str, str] | None = None,
    *,
    dryrun: bool = True,
    timeout: float = DRYRUN_TIMEOUT_S,
) -> JobDir:
    """The job folder: from the engine's ``--dryrun`` (its composed ``job.project/group/name``),
    else from the adapter's reckoning, else unknown.

    The dry run writes nothing the user owns: it runs with the engine's output root pointed at a
    temporary folder (removed afterwards), so an existing job's ``config.yaml`` is never replaced;
    the job folder is that root's ``PROJECT/GROUP/NAME`` under the real output root."""

    env = {**(os.environ if environ is None else environ)}
    adapter = get_adapter(preset.engine.kind)
    env.update(adapter.env(preset))
    fallback = adapter.job_dir(preset, env)
    note = None
    argv = adapter.dryrun_argv(preset) if dryrun else None
    if argv:
        refuse_unsafe(adapter.module_args(preset), adapter.env(preset))
        cwd = adapter.cwd(preset)
        scratch = Path(tempfile.mkdtemp(prefix="cosmos-tui-dryrun-"))
        try:
            proc = subprocess.run(
                argv,
                cwd=cwd,
                env={**env, adapter.output_root_var: str(scratch)},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            note = f"the engine's --dryrun did not finish ({e.__class__.__name__}: {e})"
        else:
            configs = _config_paths(proc.stdout + "\n" + proc.stderr, cwd)
            if proc.returncode != 0:
                why = failure_line(proc.stderr, proc.stdout)
                note = f"the engine's --dryrun exited {proc.returncode}: {why}"
            elif not configs:
                note = "the engine's --dryrun printed no config.yaml path"
            else:
                data = load_file(configs[-1])
                job = _job_from_config(data)
                if job is None:
                    note = f"the engine's composed config has no job.project/group/name ({configs[-1].name})"
                else:
                    root = adapter.output_root(preset, env)
                    return JobDir(root.joinpath(*job), "dryrun", config=data)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if fallback is not None:
        return JobDir(fallback, "adapter", note)
    return JobDir(None, "unknown", note or "this engine cannot say where the job writes before it runs")
