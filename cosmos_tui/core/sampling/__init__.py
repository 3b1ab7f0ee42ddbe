"""Samples from a job's checkpoints: the prompts file, the samples job (its own recorded,
stoppable process), the contact sheets of upstream scripts' videos (``sheets``), the sets drawn
(``gallery``) and the check that exported weights differ from
the base.

Public API::

    read_prompts(path, seeds) -> tuple[SampleRequest, ...]
    plan_samples(target, ...) -> SamplePlan
    start_samples(plan) -> SampleJob
    list_sample_jobs() -> list[SampleJob]
    get_sample_job(id_or_prefix) -> SampleJob
    stop_sample_job(id_or_prefix) -> SampleJob
    compare_with_base(job_dir, files) -> list[ExportCheck]
    job_samples(job_dir) -> JobSamples      (gallery: the sets drawn, the samples jobs drawing)
    write_contact_sheet(video, png, root)   (sheets: frames spread over a clip, one PNG)
"""
