"""Slurm: sbatch scripts for presets, and runs submitted, followed and stopped through Slurm.

Public API::

    render_sbatch(preset, *, output="%x-%j.out", exit_file=None, source=None) -> SbatchScript
    prepare_slurm(preset, *, dryrun=True, environ=None) -> Prepared      (used by runs.prepare)
    submit_run(record, preset) -> RunRecord                              (used by runs.launch_prepared)
    reconcile_slurm(record) -> RunRecord                                 (used by runs.reconcile)
    apply_state(record, job_state) -> RunRecord                         (pure state mapping)
    stop_slurm_run(record, timeout) -> StopReport                        (used by runs.stop_run)
"""

from cosmos_tui.core.slurm.script import SbatchScript, render_sbatch, signal_lead, time_limit_seconds

__all__ = ["SbatchScript", "render_sbatch", "signal_lead", "time_limit_seconds"]
