"""Slurm: sbatch scripts for presets, and runs submitted, followed and stopped through Slurm.

Public API::

    render_sbatch(preset, *, output="%x-%j.out", exit_file=None, source=None) -> SbatchScript
    SlurmTarget: the launch target "slurm" (runs.targets): prepare, submit, reconcile, stop, prefetch
    apply_state(record, job_state) -> RunRecord                         (pure state mapping)
"""

from cosmos_tui.core.slurm.script import SbatchScript, render_sbatch, signal_lead, time_limit_seconds

__all__ = ["SbatchScript", "render_sbatch", "signal_lead", "time_limit_seconds"]
