"""What a run's engine says about it beyond its record: how its processes split the work
(``DP 4 x CP 2``) and the sample images it drew, each asked of the run's adapter. Readers (``runs
show``, the dashboard) call these; nothing here raises for a damaged record or job folder."""

from __future__ import annotations

from pathlib import Path

from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.samples import IterationSamples, list_samples
from cosmos_tui.core.runs.record import RunRecord


def parallelism(record: RunRecord) -> str | None:
    """The run's parallel layout as its engine reads it (``None``: the engine does not say)."""
    preset = record.launched
    if preset is None:
        return None
    job = Path(record.job_dir) if record.job_dir else None
    try:
        return get_adapter(preset.engine.kind).parallelism(preset, job, record.world_size)
    except (UserError, OSError, ValueError):
        return None


def samples(record: RunRecord) -> tuple[IterationSamples, ...]:
    """The sample images in the run's job folder, per iteration (empty when the engine draws none)."""
    preset = record.launched
    if preset is None or not record.job_dir:
        return ()
    try:
        layout = get_adapter(preset.engine.kind).sample_layout
    except UserError:
        return ()
    return list_samples(Path(record.job_dir), layout)
