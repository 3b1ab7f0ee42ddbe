"""The samples a job holds, read from the folders the engine's writer leaves: base first, then
iterations in order, one row per prompt and seed, damaged or hostile indexes reported, and the
samples jobs drawing for the job now."""

from __future__ import annotations

import json
from pathlib import Path

from support.sample_sets import PROMPTS, write_sample_record, write_sample_set

from cosmos_tui.core.sampling.gallery import job_samples

RED, GREEN, BLUE = (1.0, -1.0, -1.0), (-1.0, 1.0, -1.0), (-1.0, -1.0, 1.0)


def test_sets_are_base_first_then_iterations_in_order(tmp_path: Path) -> None:
    job = tmp_path / "job"
    write_sample_set(job, 100, GREEN, seeds=(0, 1))
    write_sample_set(job, None, RED, seeds=(0, 1))
    write_sample_set(job, 8, BLUE, seeds=(0,))
    (job / "samples" / "iter_000000200").mkdir()  # still drawing: no index yet
    (job / "samples" / "iter_000000300.log").write_text("a background sampler's log\n")
    found = job_samples(job)
    assert [s.label for s in found.sets] == ["base", "iter_000000008", "iter_000000100"]
    assert [s.title for s in found.sets] == ["base", "iter 8", "iter 100"]
    assert found.keys == ((PROMPTS[0], 0), (PROMPTS[0], 1), (PROMPTS[1], 0), (PROMPTS[1], 1))
    row = found.row((PROMPTS[0], 1))
    assert row[0] is not None and row[1] is None and row[2] is not None  # iter 8 drew seed 0 only
    sample = row[2]
    assert sample.png == job / "samples" / "iter_000000100" / "001_seed1.png" and sample.png.is_file()
    assert sample.mp4 == job / "samples" / "iter_000000100" / "001_seed1.mp4" and sample.mp4.is_file()
    assert found.sets[0].steps == 2 and found.sets[0].device == "cpu" and found.running == ()


def test_a_job_without_samples_has_no_sets(tmp_path: Path) -> None:
    found = job_samples(tmp_path)
    assert found.sets == () and found.keys == () and found.damaged == ()


def test_a_damaged_index_is_named_and_the_other_sets_still_show(tmp_path: Path) -> None:
    job = tmp_path / "job"
    write_sample_set(job, None, RED)
    bad = write_sample_set(job, 4, GREEN)
    (bad / "index.json").write_text("{not json")
    found = job_samples(job)
    assert [s.label for s in found.sets] == ["base"]
    assert len(found.damaged) == 1 and str(bad / "index.json") in found.damaged[0]


def test_files_an_index_names_outside_its_folder_or_through_links_are_not_taken(tmp_path: Path) -> None:
    job = tmp_path / "job"
    folder = write_sample_set(job, 4, GREEN, prompts=("p",))
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not yours")
    index = json.loads((folder / "index.json").read_text())
    (folder / "link.png").symlink_to(secret)
    index["samples"] += [
        {"prompt": "q", "seed": 1, "contact_sheet": "../../../secret.png", "video": str(secret)},
        {"prompt": "r", "seed": 2, "contact_sheet": "link.png", "video": "000_seed0.mp4"},
    ]
    (folder / "index.json").write_text(json.dumps(index))
    (job / "samples" / "iter_000000009").symlink_to(folder)  # a planted set folder
    found = job_samples(job)
    assert [s.label for s in found.sets] == ["iter_000000004"]
    escaped, linked = found.sets[0].samples[1:]
    assert escaped.png is None and escaped.mp4 is None
    assert linked.png is None and linked.mp4 == folder / "000_seed0.mp4"


def test_running_samples_jobs_of_this_job_are_listed(tmp_path: Path) -> None:
    job, other = tmp_path / "job", tmp_path / "other"
    job.mkdir()
    other.mkdir()
    for n, (where, status) in enumerate([(job, "running"), (other, "running"), (job, "finished")]):
        write_sample_record(where, f"20260101-00000{n}-job-abcd", status)
    assert [j.id for j in job_samples(job).running] == ["20260101-000000-job-abcd"]


def test_a_video_in_a_subfolder_counts_only_through_plain_folders(tmp_path: Path) -> None:
    """Upstream scripts write into subfolders (Predict1: ``seed0/0_grid.mp4``); a linked folder on
    the way, ``..`` or too deep a path is not taken."""
    job = tmp_path / "job"
    folder = write_sample_set(job, 4, GREEN, prompts=("p",))
    (folder / "seed0").mkdir()
    (folder / "seed0" / "0_grid.mp4").write_bytes(b"mp4")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.mp4").write_bytes(b"not yours")
    (folder / "linked").symlink_to(outside)
    (folder / "a" / "b" / "c").mkdir(parents=True)
    (folder / "a" / "b" / "c" / "d.mp4").write_bytes(b"deep")
    index = json.loads((folder / "index.json").read_text())
    names = [
        "seed0/0_grid.mp4",
        "linked/x.mp4",
        "seed0/../seed0/0_grid.mp4",
        "a/b/c/d.mp4",
        "seed0//0_grid.mp4",
    ]
    index["samples"] = [{"prompt": "p", "seed": n, "video": name} for n, name in enumerate(names)]
    (folder / "index.json").write_text(json.dumps(index))
    mp4s = [s.mp4 for s in job_samples(job).sets[0].samples]
    assert mp4s == [folder / "seed0" / "0_grid.mp4", None, None, None, None]
