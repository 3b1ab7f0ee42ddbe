"""The TUI's one door into ``core``: turns run records, metrics, checkpoints and GPU readings into
the immutable snapshots of :mod:`cosmos_tui.tui.state`.

Everything here may block (files, processes, NVML), so only thread workers call it. The clock and
the GPU source are injected, so tests and snapshot images are deterministic.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosmos_tui.core.errors import UserError
from cosmos_tui.tui.state import CheckpointRow, GpuSample, GpuState, RunRow, RunView

Clock = Callable[[], float]
GpuSource = Callable[[], GpuState]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a record that may be a dict, a dataclass or a pydantic model."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def record_dict(record: Any) -> dict[str, Any]:
    """A run record as plain data, whatever type core returns."""
    if isinstance(record, dict):
        return record
    for attr in ("to_dict", "model_dump"):
        fn = getattr(record, attr, None)
        if callable(fn):
            return dict(fn())
    to_json = getattr(record, "to_json", None)
    if callable(to_json):
        data = to_json()
        return json.loads(data) if isinstance(data, str) else dict(data)
    import dataclasses

    if dataclasses.is_dataclass(record):
        return dataclasses.asdict(record)  # type: ignore[arg-type]
    return dict(vars(record))


def _overrides(preset: dict[str, Any]) -> list[str]:
    return list(((preset or {}).get("experiment") or {}).get("overrides") or [])


def override_value(preset: dict[str, Any], key: str) -> str | None:
    """The last ``key=value`` override of ``key`` in a preset snapshot (later ones win)."""
    value = None
    for item in _overrides(preset):
        k, _, v = item.partition("=")
        if k.lstrip("+") == key:
            value = v
    return value


def _as_int(text: Any) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def no_gpus() -> GpuState:
    """The GPUs of this machine through ``core.monitor.gpus``; an empty state with a reason when
    there are none or the monitor cannot read them."""
    try:
        from cosmos_tui.core.monitor import gpus as core_gpus
    except ImportError:
        return GpuState(reason="GPU monitoring is not available in this build.")
    reader = getattr(core_gpus, "read_gpus", None) or getattr(core_gpus, "snapshot", None)
    if reader is None:
        return GpuState(reason="GPU monitoring is not available in this build.")
    snap = reader()
    devices = _get(snap, "gpus", None) or _get(snap, "devices", None) or ()
    if not devices:
        return GpuState(reason=_get(snap, "reason", None) or "No NVIDIA GPU found on this machine.")
    return GpuState(gpus=tuple(_gpu_from_core(d) for d in devices))


def _gpu_from_core(d: Any) -> GpuSample:
    def num(*names: str) -> float | None:
        for n in names:
            v = _get(d, n)
            if v is not None:
                return float(v)
        return None

    return GpuSample(
        index=int(_get(d, "index", 0)),
        name=str(_get(d, "name", "GPU")),
        util_pct=num("util_pct", "utilization", "gpu_util") or 0.0,
        mem_used_mb=num("mem_used_mb", "memory_used_mb") or 0.0,
        mem_total_mb=num("mem_total_mb", "memory_total_mb") or 0.0,
        temp_c=num("temp_c", "temperature_c"),
        power_w=num("power_w"),
        power_limit_w=num("power_limit_w"),
    )


@dataclass
class _MetricsCache:
    """Incremental read state for one run's metrics (only the poller thread touches it)."""

    source: Path | None = None
    offset: int = 0
    points: list[tuple[int, float]] = field(default_factory=list)
    last_spi: float | None = None
    last_sps: float | None = None
    nonfinite: bool = False


class Backend:
    """Reads runs and machine state for the TUI; every method may block (call from workers)."""

    def __init__(self, *, clock: Clock = time.time, gpu_source: GpuSource = no_gpus, chart_points: int = 240):
        self.clock = clock
        self.gpu_source = gpu_source
        self.chart_points = chart_points
        self._metrics: dict[str, _MetricsCache] = {}

    # -- runs --------------------------------------------------------------------------------

    def records(self) -> list[dict[str, Any]]:
        """Every run record (reconciled with reality by core), newest first."""
        return sorted(
            (record_dict(r) for r in _core_list_runs()),
            key=lambda r: str(r.get("id", "")),
            reverse=True,
        )

    def record(self, run_id: str) -> dict[str, Any]:
        """One run record by id or unique prefix."""
        return record_dict(_core_get_run(run_id))

    def list_runs(self) -> list[RunRow]:
        """Rows for the runs screen."""
        return [self._row(r) for r in self.records()]

    def _row(self, rec: dict[str, Any], cache: _MetricsCache | None = None) -> RunRow:
        run_id = str(rec.get("id", "?"))
        preset = rec.get("preset") or {}
        cache = cache or self._read_metrics(run_id, rec)
        status = str(rec.get("status", "unknown"))
        last = cache.points[-1] if cache.points else None
        stalled = bool(rec.get("stalled"))
        exit_code = rec.get("exit_code")
        crashed = status in ("failed", "lost") or cache.nonfinite
        return RunRow(
            id=run_id,
            status=status,
            experiment=str((preset.get("experiment") or {}).get("name", "s2mv_text2world_tiny")),
            model=str((preset.get("model") or {}).get("id", "builtin-tiny")),
            iteration=last[0] if last else None,
            max_iter=_as_int(override_value(preset, "trainer.max_iter")),
            loss=last[1] if last else None,
            started=_timestamp(rec.get("started_at") or rec.get("created_at")),
            exit_code=exit_code if isinstance(exit_code, int) else None,
            reason=rec.get("reason"),
            stalled=stalled,
            crashed=crashed,
        )

    def run_view(self, run_id: str) -> RunView:
        """Everything the dashboard shows for one run."""
        rec = self.record(run_id)
        cache = self._read_metrics(run_id, rec)
        row = self._row(rec, cache)
        job_dir = _job_dir(rec)
        checkpoints = self.checkpoints(job_dir) if job_dir else ()
        eta = None
        if row.max_iter and row.iteration is not None and cache.last_spi:
            eta = max(0, row.max_iter - row.iteration) * cache.last_spi
        flags: list[str] = []
        if cache.nonfinite:
            flags.append("NaN/Inf loss seen")
        if row.stalled:
            flags.append("stalled: no progress")
        if row.reason and not row.active and row.status != "finished":
            flags.append(str(row.reason))
        return RunView(
            row=row,
            losses=_downsample(cache.points, self.chart_points),
            sec_per_iter=cache.last_spi,
            samples_per_s=cache.last_sps,
            eta_s=eta if row.active else None,
            checkpoints=checkpoints,
            job_dir=str(job_dir) if job_dir else None,
            console_log=str(console_log_path(rec)) if console_log_path(rec) else None,
            command=_command(rec),
            preset_text=_preset_toml(rec.get("preset") or {}),
            flags=tuple(flags),
        )

    def loss_series(self, run_id: str) -> tuple[tuple[int, float], ...]:
        """The downsampled loss curve of one run (for comparing runs)."""
        rec = self.record(run_id)
        return _downsample(self._read_metrics(run_id, rec).points, self.chart_points)

    def _read_metrics(self, run_id: str, rec: dict[str, Any]) -> _MetricsCache:
        """New metrics since the last call: ``metrics.jsonl`` of the job when it exists, else the
        IterSpeed lines of the console log (one parser in core serves both)."""
        from cosmos_tui.core.monitor.metrics import parse_jsonl_lines, scan_bytes

        cache = self._metrics.setdefault(run_id, _MetricsCache())
        job_dir = _job_dir(rec)
        jsonl = job_dir / "metrics.jsonl" if job_dir else None
        source = jsonl if jsonl and jsonl.exists() else console_log_path(rec)
        if source is None or not source.exists():
            return cache
        if source != cache.source:
            self._metrics[run_id] = cache = _MetricsCache(source=source)
        with open(source, "rb") as f:
            f.seek(cache.offset)
            chunk = f.read()
        cut = chunk.rfind(b"\n") + 1
        if cut == 0:
            return cache
        cache.offset += cut
        data = chunk[:cut]
        if source.suffix == ".jsonl":
            samples = parse_jsonl_lines(data.decode("utf-8", "replace").splitlines())
        else:
            samples = list(scan_bytes(data).samples)
        for s in samples:
            if not math.isfinite(s.loss):
                cache.nonfinite = True
            cache.points.append((s.iteration, s.loss))
            if s.sec_per_iter:
                cache.last_spi = s.sec_per_iter
            if s.samples_per_s:
                cache.last_sps = s.samples_per_s
        return cache

    # -- checkpoints, GPUs -----------------------------------------------------------------------

    def checkpoints(self, job_dir: Path) -> tuple[CheckpointRow, ...]:
        """The job's checkpoints via ``core.checkpoints.scan``."""
        from cosmos_tui.core.checkpoints.scan import scan_checkpoints

        ckdir = job_dir / "checkpoints"
        if not ckdir.is_dir():
            return ()
        return tuple(
            CheckpointRow(
                iteration=c.iteration,
                mtime=c.mtime,
                size_bytes=c.size_bytes,
                complete=c.complete,
                is_latest=c.is_latest,
                pinned=c.pinned,
                has_ema=c.has_ema,
            )
            for c in scan_checkpoints(ckdir)
        )

    def gpus(self) -> GpuState:
        """GPU readings, or the reason there are none."""
        try:
            return self.gpu_source()
        except Exception as e:  # NVML raises many kinds; the UI shows why and goes on
            return GpuState(reason=f"Cannot read GPUs: {e}")

    # -- actions -----------------------------------------------------------------------------

    def stop(self, run_id: str) -> str:
        """Stop a run gracefully (the engine saves a checkpoint first)."""
        from cosmos_tui.core import runs as core_runs

        result = core_runs.stop_run(run_id)
        return _summary(result, f"Stopped {run_id}.")

    def resume(self, run_id: str) -> str:
        """Relaunch a run so it continues from its latest complete checkpoint; the new run's id."""
        from cosmos_tui.core import runs as core_runs

        return str(_get(core_runs.resume_run(run_id), "id", run_id))

    def save_now(self, run_id: str) -> str:
        """Ask the engine to save at its next step boundary (the ``SAVE_NOW`` control file)."""
        job_dir = _job_dir(self.record(run_id))
        if job_dir is None or not job_dir.is_dir():
            raise UserError("this run has no job folder yet; wait until training has started")
        (job_dir / "SAVE_NOW").touch()
        return "Asked the engine to save a checkpoint at the next step."


def _core_list_runs() -> list[Any]:
    """``core.runs.list_runs()`` (reconciles every record); the registry's plain read until the
    lifecycle module lands."""
    from cosmos_tui.core import runs as core_runs

    if hasattr(core_runs, "list_runs"):
        return list(core_runs.list_runs())
    from cosmos_tui.core.runs import registry

    return [registry.read(registry.run_dir_for(i)) for i in registry.run_ids()]


def _core_get_run(run_id: str) -> Any:
    from cosmos_tui.core import runs as core_runs

    if hasattr(core_runs, "get_run"):
        return core_runs.get_run(run_id)
    from cosmos_tui.core.runs import registry

    return registry.read(registry.run_dir_for(registry.resolve_id(run_id)))


def _summary(result: Any, default: str) -> str:
    if isinstance(result, str):
        return result
    message = _get(result, "message", None) or _get(result, "summary", None)
    return str(message) if message else default


def _timestamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        from datetime import datetime

        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def _job_dir(rec: dict[str, Any]) -> Path | None:
    value = rec.get("job_dir") or rec.get("job_output_dir")
    return Path(value) if value else None


def console_log_path(rec: dict[str, Any]) -> Path | None:
    """The run's ``console.log``."""
    value = rec.get("console_log")
    if value:
        return Path(value)
    run_dir = rec.get("run_dir")
    if run_dir:
        return Path(run_dir) / "console.log"
    from cosmos_tui.core.paths import runs_root

    return runs_root() / str(rec.get("id", "")) / "console.log"


def _command(rec: dict[str, Any]) -> str:
    if rec.get("shell"):
        return str(rec["shell"])
    if rec.get("argv"):
        import shlex

        return shlex.join(str(a) for a in rec["argv"])
    cmd = rec.get("command") or {}
    if isinstance(cmd, dict):
        return str(cmd.get("shell") or " ".join(cmd.get("argv") or ()))
    if isinstance(cmd, (list, tuple)):
        import shlex

        return shlex.join(str(c) for c in cmd)
    return str(cmd)


def _preset_toml(preset: dict[str, Any]) -> str:
    if not preset:
        return ""
    import tomli_w

    return tomli_w.dumps(preset)


def _downsample(points: list[tuple[int, float]], n: int) -> tuple[tuple[int, float], ...]:
    finite = [(i, v) for i, v in points if math.isfinite(v)]
    if len(finite) <= n:
        return tuple(finite)
    from cosmos_tui.core.monitor.series import lttb

    return tuple((int(x), y) for x, y in lttb([p[0] for p in finite], [p[1] for p in finite], n))
