"""Where an upstream job writes: ``OUTPUT_ROOT/PROJECT/GROUP/NAME``.

The experiment name does not give the folder (Transfer2.5 auto-multiview and every Predict2.5
experiment register under a name that differs from ``job.name``), so the folder comes from the
composed config: the ``config.yaml`` that ``--dryrun`` writes when the checkout is here
(:func:`cosmos_tui.core.launch.resolve_job_dir`), else the table each upstream adapter ships
(``job_names``, upstream-contracts.md §2.2), with any ``job.*=`` override applied on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.engines.registry import adapter_class
from cosmos_tui.core.overrides import override_value


@dataclass(frozen=True)
class JobName:
    """``job.project`` / ``job.group`` / ``job.name`` of one experiment."""

    project: str
    group: str
    name: str

    def path(self, output_root: Path) -> Path:
        """The job folder under ``output_root``."""
        return output_root / self.project / self.group / self.name


def same_group(project: str, group: str, names: Sequence[str]) -> dict[str, JobName]:
    """Experiments that share ``job.project`` and ``job.group`` and are named ``job.name``."""
    return {n: JobName(project, group, n) for n in names}


def table_job_name(kind: str, experiment: str, overrides: Sequence[str] = ()) -> JobName | None:
    """The job names from the table of ``kind``'s adapter (its ``job_names``), with
    ``job.project|group|name=`` overrides applied (the last one wins, as in Hydra); ``None`` when
    the experiment is not in the table and the overrides do not name all three."""
    base = getattr(adapter_class(kind), "job_names", {}).get(experiment)
    fields: dict[str, str | None] = {
        "project": base.project if base else None,
        "group": base.group if base else None,
        "name": base.name if base else None,
    }
    for part in fields:
        value = override_value(overrides, f"job.{part}")
        if value is not None:
            fields[part] = value.strip("'\"")
    if any(v is None or "${" in v for v in fields.values()):
        return None
    return JobName(fields["project"], fields["group"], fields["name"])  # type: ignore[arg-type]
