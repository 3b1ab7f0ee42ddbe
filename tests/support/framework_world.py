"""A cosmos-framework preset over a FakeCheckout whose entry points are the ReplayFramework test
double (shared by the pipeline and end-to-end tests)."""

from __future__ import annotations

import sys
from pathlib import Path

from replay_engine.checkout import make_fake_framework_checkout

from cosmos_tui.core.presets import preset_from_dict


def framework_preset(tmp_path: Path, *overrides: str, nproc: int = 2, **pipeline: bool):
    repo = make_fake_framework_checkout(tmp_path)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "Wan2.2_VAE.pth").write_bytes(b"vae")
    base = repo / "examples" / "checkpoints" / "Cosmos3-Nano"
    return preset_from_dict(
        {
            "engine": {"kind": "cosmos-framework", "repo": str(repo), "python": sys.executable},
            "experiment": {
                "name": "vision_sft_nano",
                "config": "examples/toml/sft_config/vision_sft_nano.toml",
                "overrides": list(overrides),
            },
            "data": {"root": str(tmp_path / "data")},
            "launch": {"nproc_per_node": nproc},
            "env": {
                "output_root": str(tmp_path / "out"),
                "extra": {
                    "BASE_CHECKPOINT_PATH": str(base),
                    "WAN_VAE_PATH": str(tmp_path / "Wan2.2_VAE.pth"),
                },
            },
            "pipeline": pipeline,
        },
        source="test",
    ), repo
