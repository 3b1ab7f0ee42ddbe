"""The embedded demo: the whole flow, thinly, on any machine.

Writes a tiny synthetic multiview dataset in the Predict1 Waymo layout (real mp4 files and T5
embedding pickles), validates it, and launches the builtin engine from the shipped
``builtin-demo`` preset under real ``torchrun --nproc_per_node=2`` (CPU and gloo when there is no
GPU) for a handful of iterations with checkpoints. Every demo is a new run with its own job name,
so a second demo never silently resumes the first.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.datasets.synth import synthesize
from cosmos_tui.core.datasets.validate import validate
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.logtail import read_new_lines
from cosmos_tui.core.monitor.metrics import parse_jsonl_record
from cosmos_tui.core.overrides import as_int, override_value
from cosmos_tui.core.paths import state_root
from cosmos_tui.core.presets import Preset, apply_sets, load_preset, resolve_preset
from cosmos_tui.core.runs import get_run, start_run

if TYPE_CHECKING:
    from cosmos_tui.core.monitor.metrics import IterSample
    from cosmos_tui.core.runs.record import RunRecord

DEMO_PRESET = "builtin-demo"
DEMO_CLIPS = 4
DEMO_FRAMES = 16
DEMO_SIZE = (64, 96)


@dataclass(frozen=True)
class DemoResult:
    """How a demo run ended."""

    run_id: str
    status: str
    exit_code: int | None
    job_dir: Path | None
    checkpoints: tuple[str, ...]
    """Complete checkpoints written, oldest first (step folder names)."""
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "finished" and self.exit_code == 0 and bool(self.checkpoints)


def demo_home() -> Path:
    """Where the demo keeps its dataset and outputs (inside the state root)."""
    path = state_root() / "demo"
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_dataset(root: Path | None = None) -> Path:
    """The demo dataset: synthesized once, validated every time (a broken one is rewritten)."""

    root = root or demo_home() / "data"
    if root.exists():
        report = validate(root, "predict1-waymo", min_frames=DEMO_FRAMES)
        if report.ok:
            return root
    synthesize(root, "predict1-waymo", clips=DEMO_CLIPS, frames=DEMO_FRAMES, size=DEMO_SIZE)
    report = validate(root, "predict1-waymo", min_frames=DEMO_FRAMES)
    if not report.ok:
        raise UserError(
            f"the synthesized demo dataset at {root} failed validation; run `cosmos-tui data validate {root}`"
        )
    return root


def demo_preset(data_root: Path, *, sets: tuple[str, ...] = ()) -> Preset:
    """The shipped demo preset pointed at ``data_root``, with a fresh job name and the demo's
    output root, then the user's ``--set`` items."""
    preset = load_preset(resolve_preset(DEMO_PRESET))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return apply_sets(
        preset,
        (
            f"data.root={data_root}",
            f"env.output_root={demo_home() / 'output'}",
            f"job.name=demo-{stamp}-{time.time_ns() % 10_000:04d}",
            *sets,
        ),
    )


def start_demo(data_root: Path | None = None, *, sets: tuple[str, ...] = ()) -> RunRecord:
    """Launch the demo run on ``data_root`` (the demo dataset by default); returns at once."""

    data = data_root or ensure_dataset()
    return start_run(demo_preset(data, sets=sets), preset_path=str(resolve_preset(DEMO_PRESET)))


def max_iter(record: RunRecord) -> int | None:
    """``trainer.max_iter`` as the run was launched (the last override wins), if set."""
    preset = record.launched
    return as_int(override_value(preset.experiment.overrides, "trainer.max_iter")) if preset else None


def follow_progress(run_id: str, *, poll: float = 0.3) -> Iterator[tuple[str, IterSample | None]]:
    """Yield ``(console line, None)`` for each console line and ``("", sample)`` for each
    iteration the engine records in ``metrics.jsonl``, until the run has ended and both are drained.

    The console carries the upstream IterSpeed lines, which go quiet between ``every_n``
    multiples; ``metrics.jsonl`` has every logged iteration, so progress comes from there.
    """

    console_at = metrics_at = 0
    while True:
        record = get_run(run_id)
        ended = not record.active
        lines, console_at = read_new_lines(record.console_log, console_at)
        while lines:  # a capped chunk at a time, until what is there has been read
            for line in lines:
                yield line, None
            lines, console_at = read_new_lines(record.console_log, console_at)
        if record.job_dir:
            rows, metrics_at = read_new_lines(Path(record.job_dir) / "metrics.jsonl", metrics_at)
            while rows:
                for row in rows:
                    sample = parse_jsonl_record(row)
                    if sample is not None:
                        yield "", sample
                rows, metrics_at = read_new_lines(Path(record.job_dir) / "metrics.jsonl", metrics_at)
        if ended:
            return
        time.sleep(poll)


def finish(run_id: str) -> DemoResult:
    """The demo's outcome, read from the run record and the job's checkpoints."""

    record = get_run(run_id)
    job_dir = Path(record.job_dir) if record.job_dir else None
    done: tuple[str, ...] = ()
    if job_dir is not None and (job_dir / "checkpoints").is_dir():
        done = tuple(c.path.name for c in scan_checkpoints(job_dir / "checkpoints") if c.complete)
    return DemoResult(record.id, record.status, record.exit_code, job_dir, done, record.reason)
