"""Fixtures for the scale-out tests: a real one-node Slurm cluster (skipped, with the reason, where
Slurm cannot run; a failure instead when COSMOS_TUI_REQUIRE_SLURM=1, as CI sets it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_cluster import LocalSlurmCluster, SlurmUnavailable, start_cluster


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurmCluster]:
    """munged, slurmctld and slurmd started for this module, ended after it."""
    root = Path(tmp_path_factory.mktemp("slurm"))
    try:
        cluster = start_cluster(root)
    except SlurmUnavailable as e:
        if os.environ.get("COSMOS_TUI_REQUIRE_SLURM") == "1":
            pytest.fail(f"COSMOS_TUI_REQUIRE_SLURM=1 but Slurm cannot start here: {e}")
        pytest.skip(f"Slurm cannot start here: {e}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def slurm(slurm_cluster: LocalSlurmCluster, monkeypatch: pytest.MonkeyPatch) -> LocalSlurmCluster:
    """The cluster, with SLURM_CONF pointing this test's Slurm commands (and cosmos-tui's) at it."""
    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)
    return slurm_cluster
