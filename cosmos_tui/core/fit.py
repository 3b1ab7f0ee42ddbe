"""Before launch: will the run fit, how long will it take, how much disk and money.

For the builtin engine :func:`run_probe` starts the engine's own probe (``python -m
cosmos_engine.fit``, through torchrun over the run's ``nproc_per_node`` ranks on GPUs or CPU/gloo)
with a time limit, in a session of its own: on timeout, Ctrl-C or SIGTERM the whole process tree
is killed; when this process is killed with SIGKILL, torchrun gets SIGTERM from the kernel
(``PR_SET_PDEATHSIG``) and every rank's watchdog sees this pid gone and exits. :func:`assess`
turns the probe's figures into a verdict against the memory NVML reports per GPU (CPU runs: the
host's memory, shared by the ranks), the changes that would make it fit, cheapest first (each
derived from the measured figures and the H100 measurements in the README, or measured by
re-probing with ``try_fixes``), the ETA to ``trainer.max_iter``, the disk the checkpoints will
take (the preflight forecast) and the cost at a price per GPU-hour. Upstream engines get the
requirements table (:mod:`cosmos_tui.core.fit_requirements`) instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

from cosmos_tui.core import preflight
from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.fit_cache import config_hash, hours, load_cached, one_line, probe_overrides, save_cached
from cosmos_tui.core.fit_fixes import (
    HEADROOM,
    STATE_BYTES_PER_PARAM,
    Fix,
    derive_fixes,
    oom_candidates,
)
from cosmos_tui.core.fit_requirements import judge, requirement_for
from cosmos_tui.core.launch import resolve_job_dir
from cosmos_tui.core.machine_fit import detect_gpus
from cosmos_tui.core.notify_config import load_gpu_hour_price
from cosmos_tui.core.presets import Preset, apply_sets
from cosmos_tui.core.units import human_bytes

__all__ = [
    "FitReport",
    "Fix",
    "assess",
    "config_hash",
    "derive_fixes",
    "hours",
    "load_cached",
    "one_line",
    "oom_candidates",
    "save_cached",
]

DEFAULT_TIMEOUT_S = 300.0
WATCH_ENV = "COSMOS_FIT_WATCH_PID"
SCRATCH_ENV = "COSMOS_FIT_SCRATCH"


@dataclass
class FitReport:
    """Everything ``cosmos-tui fit`` says."""

    preset: str
    engine: str
    method: str
    """``probe`` (builtin engine) or ``requirements`` (the table)."""
    fits: bool
    summary: str
    """One sentence."""
    probe: dict[str, Any] | None = None
    budget_bytes: int | None = None
    """Memory per rank the peak is compared with."""
    budget_source: str = ""
    need_bytes: int | None = None
    fixes: list[Fix] = field(default_factory=list)
    fixes_source: str = ""
    eta_s: float | None = None
    iterations_left: int | None = None
    gpu_hours: float | None = None
    price: float | None = None
    currency: str = "USD"
    cost: float | None = None
    disk: str = ""
    disk_level: str = ""
    requirement: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


# ----- the probe process ------------------------------------------------------------------------
def probe_argv(preset: Preset, extra: list[str] | None = None) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node=N -m FIT_MODULE --json --
    OVERRIDES`` (the adapter's ``fit_module``: ``cosmos_engine.fit`` for the builtin engine)."""
    nproc = preset.launch.nproc_per_node
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        str(get_adapter(preset.engine.kind).fit_module),
        "--json",
        "--",
        *probe_overrides(preset),
        *(extra or []),
    ]


def _pdeathsig() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` (a probe this process started), every process below it and its session's group."""
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        procs = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    psutil.wait_procs(procs, timeout=5)


class ProbeFailed(Exception):
    """The probe did not produce figures (timeout, crash, a refused config)."""


def run_probe(
    preset: Preset, timeout_s: float = DEFAULT_TIMEOUT_S, extra: list[str] | None = None
) -> dict[str, Any]:
    """The probe's JSON for ``preset`` (with ``extra`` overrides), or :class:`ProbeFailed`."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(preset.env.extra)
    env[WATCH_ENV] = str(os.getpid())
    env.pop("IMAGINAIRE_OUTPUT_ROOT", None)  # the probe makes its own, under the scratch folder
    # Named here, made by the first rank: a manager killed before any rank starts leaves nothing.
    scratch = os.path.join(tempfile.gettempdir(), f"cosmos-fit-{uuid.uuid4().hex}")
    env[SCRATCH_ENV] = scratch
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            probe_argv(preset, extra),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
            preexec_fn=_pdeathsig,
        )
        previous = None
        if threading.current_thread() is threading.main_thread():

            def on_term(signum: int, frame: Any) -> None:
                kill_tree(proc.pid)
                raise KeyboardInterrupt

            previous = signal.signal(signal.SIGTERM, on_term)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            shutil.rmtree(scratch, ignore_errors=True)
            raise ProbeFailed(
                f"the probe did not finish in {timeout_s:g} s and was stopped; raise --timeout"
            ) from None
        except BaseException:
            kill_tree(proc.pid)
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        kill_tree(proc.pid)  # a rank torchrun left behind
        shutil.rmtree(scratch, ignore_errors=True)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                return json.loads(line)
    lines = [ln for ln in stderr.splitlines() if "error:" in ln] or stderr.strip().splitlines()[-1:] or [""]
    raise ProbeFailed(f"the probe exited {code}: {lines[0].strip()[:300]}")


# ----- the verdict -------------------------------------------------------------------------------
def budget(probe: dict[str, Any], memory_gb: float | None) -> tuple[int, str, int]:
    """``(bytes per rank, where it comes from, ranks that share it)``."""
    world = int(probe.get("world_size") or 1)
    cpu = probe.get("memory_kind") == "cpu_rss_growth"
    if memory_gb is not None:
        total = int(memory_gb * 1e9)
        if cpu:
            return total // world, f"--memory-gb {memory_gb:g} (host, shared by {world} rank(s))", world
        return total, f"--memory-gb {memory_gb:g} per GPU", 1
    if cpu:
        total = psutil.virtual_memory().total
        base = sum(int(r.get("peak_rss_bytes", 0)) - int(r.get("peak_mem_bytes", 0)) for r in probe["ranks"])
        return (
            max(0, total - base) // world,
            f"host memory {human_bytes(total)} shared by {world} CPU rank(s)",
            world,
        )
    gpus = detect_gpus()[:world]
    if not gpus:
        raise UsageError("the probe ran on GPUs but NVML reports none; pass --memory-gb")
    low = min(gpus, key=lambda g: g.memory_gb)
    return int(low.memory_gb * 2**30), f"{low.name} {low.memory_gb:.1f} GiB (NVML)", 1


def measure_fixes(
    preset: Preset,
    fixes: list[Fix],
    base: dict[str, Any] | None,
    per_rank: int | None,
    timeout_s: float,
    memory_gb: float | None = None,
) -> list[Fix]:
    """Each fix re-probed (those this machine can run: not more ranks than it has); ``base`` is the
    run's own probe (``None`` when it ran out of memory: no step to compare with), ``per_rank`` its
    memory per rank (``None``: from each trial, as :func:`budget` finds it)."""
    measured = []
    for fix in fixes:
        try:
            trial = apply_sets(preset, list(fix.overrides))
            if trial.launch.nproc_per_node != preset.launch.nproc_per_node and not _ranks_available(trial):
                measured.append(fix)
                continue
            got = run_probe(trial, timeout_s)
        except (ProbeFailed, UsageError) as e:
            measured.append(
                Fix(fix.label, fix.overrides, fix.peak_bytes, False, fix.step_cost, "measured", str(e))
            )
            continue
        if not got.get("ok"):
            measured.append(
                Fix(fix.label, fix.overrides, 0, False, 0.0, "measured", f"probe: {got.get('error')}")
            )
            continue
        peak = int(got["peak_mem_bytes"])
        limit = per_rank if per_rank is not None else budget(got, memory_gb)[0]
        cost = got["step_s"] / base["step_s"] - 1 if base else 0.0
        note = "" if base else f"step {got['step_s']:.3f} s (the run itself has no step to compare with)"
        measured.append(Fix(fix.label, fix.overrides, peak, peak * HEADROOM <= limit, cost, "measured", note))
    measured.sort(key=lambda f: (not f.fits, "smaller" in f.label, f.step_cost))
    return measured


def _ranks_available(preset: Preset) -> bool:
    gpus = detect_gpus()
    n = preset.launch.nproc_per_node
    return n <= len(gpus) if gpus else n <= (os.cpu_count() or 1)


def _eta(preset: Preset, step_s: float | None, report: FitReport, price: float | None, currency: str) -> None:
    """ETA to ``max_iter``, GPU-hours and cost, and the disk forecast, into ``report``."""
    adapter = get_adapter(preset.engine.kind)
    try:
        job_dir = adapter.job_dir(preset, dict(os.environ))
    except Exception:
        job_dir = None
    report.price, report.currency = price, currency
    check = preflight.check_disk_forecast(preset, job_dir)
    report.disk, report.disk_level = check.message, check.level
    settings = preflight.job_settings(preset, job_dir)
    if not settings.max_iter or step_s is None:
        return
    done = 0
    if job_dir is not None and (job_dir / "checkpoints").is_dir():
        done = max((c.iteration for c in scan_checkpoints(job_dir / "checkpoints") if c.complete), default=0)
    report.iterations_left = max(0, settings.max_iter - done)
    report.eta_s = step_s * report.iterations_left
    gpus = preset.launch.nproc_per_node * preset.launch.nnodes if detect_gpus() else 0
    if gpus:
        report.gpu_hours = report.eta_s / 3600 * gpus
        if price is not None:
            report.cost = report.gpu_hours * price
    elif price is not None:
        report.notes.append("no GPU here: the CPU run's GPU-hours and cost are 0")


HOST_SHARE = 0.8
"""The probe is not started on CPU when its build would take more than this share of free memory."""


AUTO_NOTE = (
    "or let the engine pick the cheapest recompute policy that fits at launch: "
    "--set trainer.memory_budget=auto (it measures one block on the GPU and logs its choice)"
)


def refused_config(preset: Preset) -> None:
    """A :class:`UsageError` when the engine's own dry run refuses the run's config (a bad
    ``--set``): the probe would die the same way, less clearly and after building the model."""
    job = resolve_job_dir(preset)
    if job.note and get_adapter(preset.engine.kind).dryrun_refuses(job.note):
        raise UsageError(f"{job.note.rstrip('.')}; fix the override or preset it names")


def probe_refusal(preset: Preset) -> str | None:
    """Why the probe would not run here, in one sentence saying what to do (``None``: it can).

    More ranks than GPUs cannot start; on a machine without GPUs, a shape whose full-size build on
    every CPU rank would not fit in host memory is refused before it starts (a 2B model on 8 CPU
    ranks would need ~144 GiB), from the engine's own meta-device parameter count."""
    nproc = preset.launch.nproc_per_node
    gpus = detect_gpus()
    if gpus:
        if nproc > len(gpus):
            return (
                f"launch.nproc_per_node is {nproc} but this machine has {len(gpus)} GPU(s); probe with "
                f"--set launch.nproc_per_node={len(gpus)} (FSDP2 over fewer GPUs: a higher peak per GPU)"
            )
        return None
    found = get_adapter(preset.engine.kind).param_count(preset)
    if not isinstance(found, tuple):
        return None  # the probe will say what is wrong
    params, with_ema = found
    # every rank builds the whole network and its EMA copy in fp32 before FSDP2 shards them
    need = (4 * with_ema + STATE_BYTES_PER_PARAM * params // nproc) * nproc
    free = psutil.virtual_memory().available
    if need > HOST_SHARE * free:
        return (
            f"on this machine's CPU, {nproc} rank(s) building the {params:,}-parameter model would need "
            f"~{human_bytes(need)} of host memory and {human_bytes(free)} is free; run `cosmos-tui fit` on "
            "the GPU machine, or probe a smaller shape (--set experiment=..._tiny)"
        )
    return None


def assess(
    preset: Preset,
    name: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_gb: float | None = None,
    try_fixes: bool = False,
    price: float | None = None,
    currency: str = "USD",
) -> FitReport:
    """The whole answer for ``preset``: a probe (builtin) or the requirements table (upstream)."""
    kind = preset.engine.kind
    if get_adapter(kind).fit_module is None:
        return _requirements_report(preset, name, price, currency)
    refusal = probe_refusal(preset)
    if refusal:
        return FitReport(name, kind, "probe", False, f"not probed: {refusal}")
    refused_config(preset)
    try:
        probe = run_probe(preset, timeout_s)
    except ProbeFailed as e:
        return FitReport(name, kind, "probe", False, f"the probe failed: {e}")
    report = FitReport(name, kind, "probe", False, "", probe=probe)
    if preset.launch.nnodes > 1:
        report.notes.append(
            f"probed one node ({preset.launch.nproc_per_node} ranks) of {preset.launch.nnodes}: sharded over "
            "fewer ranks than the run, so memory is an upper bound"
        )
    if not probe.get("ok"):
        _out_of_memory(report, preset, probe, try_fixes, timeout_s, memory_gb)
        return report
    per_rank, source, _sharing = budget(probe, memory_gb)
    on_gpu = probe.get("memory_kind") != "cpu_rss_growth"
    peak = int(probe["peak_mem_bytes"])
    report.budget_bytes, report.budget_source, report.need_bytes = per_rank, source, int(peak * HEADROOM)
    report.fits = peak * HEADROOM <= per_rank
    what = "GPU" if on_gpu else "CPU rank (resident memory growth)"
    if report.fits:
        report.summary = (
            f"fits: peak {human_bytes(peak)} per {what} (+{HEADROOM - 1:.0%} headroom) "
            f"of {human_bytes(per_rank)}"
        )
    else:
        short = int(peak * HEADROOM - per_rank)
        report.summary = (
            f"does not fit: peak {human_bytes(peak)} per {what} (+{HEADROOM - 1:.0%} headroom) is "
            f"{human_bytes(short)} over {human_bytes(per_rank)}"
        )
        if on_gpu and not (probe.get("shape") or {}).get("memory_budget"):
            report.notes.append(AUTO_NOTE)
        fixes = derive_fixes(probe, per_rank, on_gpu, len(detect_gpus()))
        if try_fixes:
            report.fixes = measure_fixes(preset, fixes, probe, per_rank, timeout_s)
            report.fixes_source = "measured: each change re-probed on this machine"
        else:
            report.fixes = fixes
            report.fixes_source = (
                "derived from this probe's peak and parameter count with the README's H100 measurements "
                "(2B, 16,384 tokens)"
                + ("; on CPU, not measured: pass --try-fixes to re-probe each" if not on_gpu else "")
            )
    _eta(preset, float(probe["step_s"]), report, price, currency)
    report.notes.append(
        "step time is the probe's second step on synthetic batches: no data loading, logging or saves"
    )
    return report


def _requirements_report(preset: Preset, name: str, price: float | None, currency: str) -> FitReport:
    """An engine with no probe: its published requirements against this machine's GPUs, and the
    disk forecast (no ETA or cost: there is no step time to go on)."""
    kind = preset.engine.kind
    req = requirement_for(preset)
    if req is None:
        return FitReport(name, kind, "requirements", False, f"no requirement known for {preset.model.id}")
    verdict = judge(req, detect_gpus(), preset.launch.nnodes, preset.model.id)
    report = FitReport(
        name, kind, "requirements", verdict.fits, verdict.message, requirement=req.model_dump()
    )
    report.notes.append("no ETA or cost: upstream publishes no step time; the dashboard measures it live")
    _eta(preset, None, report, price, currency)  # the disk forecast
    return report


def _out_of_memory(
    report: FitReport,
    preset: Preset,
    probe: dict[str, Any],
    try_fixes: bool,
    timeout_s: float,
    memory_gb: float | None,
) -> None:
    """The verdict when the probe itself ran out of memory, with re-probed fixes if asked."""
    shape = probe.get("shape", {})
    if not shape.get("memory_budget"):
        report.notes.append(AUTO_NOTE)
    report.summary = (
        f"does not fit: the probe ran out of memory ({probe.get('error')}) at "
        f"{shape.get('views')} view(s) x {shape.get('num_frames')} frames x {shape.get('video_size')}, "
        f"batch {shape.get('batch_size')} over {shape.get('world_size')} rank(s)"
    )
    if try_fixes:
        report.fixes = measure_fixes(preset, oom_candidates(shape), None, None, timeout_s, memory_gb)
        report.fixes_source = (
            "measured: each change re-probed on this machine (the run itself ran out of memory)"
        )
    else:
        report.notes.append("pass --try-fixes to re-probe with recompute, checkpointing and EMA offload")


def cost_so_far(duration_s: float | None, gpus: int, on_cpu: bool) -> str | None:
    """``2.4 GPU-hours, ~6.00 USD`` for a run that has used ``gpus`` GPUs for ``duration_s``, at the
    ``[cost]`` price of config.toml (``None``: no price set, no duration, a CPU run, or a damaged file)."""
    if duration_s is None or on_cpu or gpus <= 0:
        return None
    try:
        price, currency = load_gpu_hour_price()
    except UserError:
        return None
    if price is None:
        return None
    gpu_hours = duration_s / 3600 * gpus
    return f"{gpu_hours:.1f} GPU-hours, ~{gpu_hours * price:.2f} {currency}"
