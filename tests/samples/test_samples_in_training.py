"""``trainer.sample_every``: training starts the sampler on each due checkpoint in a process of its
own and goes on; the samples land beside the ones ``cosmos-tui samples`` draws."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sample_jobs import train

pytestmark = pytest.mark.slow


def test_training_samples_due_checkpoints_in_the_background(sample_data: Path, tmp_path: Path) -> None:
    job = train(
        sample_data,
        tmp_path,
        "sampled",
        "trainer.max_iter=4",
        "checkpoint.save_iter=2",
        "trainer.sample_every=4",
        "trainer.sample_steps=1",
        nproc=1,
    )
    index = job / "samples" / "iter_000000004" / "index.json"
    deadline = time.monotonic() + 120  # the sampler may outlive training: it runs beside it
    while not index.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    log = (job / "samples" / "iter_000000004.log").read_text()
    assert index.exists(), log
    drawn = json.loads(index.read_text())
    assert drawn["checkpoint"]["iteration"] == 4 and drawn["steps"] == 1
    assert [s["seed"] for s in drawn["samples"]] == [0, 1]
    assert not (job / "samples" / "iter_000000002").exists()  # 2 is saved but not due
