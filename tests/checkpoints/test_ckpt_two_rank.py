"""Real sharded DCP checkpoints from a 2-rank torchrun (FSDP2 over gloo): scan, verify and export
them, then compare every tensor with the full state dict rank 0 gathered at save time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cosmos_tui.core.checkpoints.dcp_meta import read_dcp_metadata
from cosmos_tui.core.checkpoints.export import export_checkpoint
from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.checkpoints.verify import verify_checkpoint

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).with_name("dcp_two_rank.py")


@pytest.fixture(scope="module")
def two_rank_job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    job = tmp_path_factory.mktemp("two_rank_job")
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", str(SCRIPT), str(job), "2", "4"],
        check=True,
        env=env,
        capture_output=True,
        timeout=240,
    )
    return job


def test_scan_and_verify(two_rank_job: Path) -> None:
    found = scan_checkpoints(two_rank_job / "checkpoints")
    assert [(c.iteration, c.complete, c.is_latest, c.has_ema) for c in found] == [
        (2, True, False, True),
        (4, True, True, True),
    ]
    meta = read_dcp_metadata(found[1].path / "model")
    assert meta.files == {"__0_0.distcp", "__1_0.distcp"}
    assert len(meta.tensors["net.head.weight"].chunks) == 2  # really sharded across the ranks
    assert all(verify_checkpoint(c, deep=True).ok for c in found)


def test_export_matches_gathered_state(two_rank_job: Path, tmp_path: Path) -> None:
    import torch

    info = scan_checkpoints(two_rank_job / "checkpoints")[-1]
    export_checkpoint(info, tmp_path)
    ref = torch.load(two_rank_job / "reference_4.pt", weights_only=True)
    full = torch.load(tmp_path / "model.pt", weights_only=True, mmap=True)
    assert set(full) == set(ref)
    for k, v in ref.items():
        assert torch.equal(full[k], v), k
    ema = torch.load(tmp_path / "model_ema_bf16.pt", weights_only=True)
    assert set(ema) == {k for k in ref if k.startswith("net.")}
    for k, v in ema.items():
        assert torch.equal(v, ref[k.replace("net.", "net_ema.", 1)].bfloat16()), k
