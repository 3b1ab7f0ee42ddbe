"""Dataset fixtures: one small synthesized dataset per layout, made once and copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from data_helpers import FRAMES

from cosmos_tui.core.datasets.synth import synthesize

# The builtin tiny experiments need 8 frames and set their own resolution, so a fresh
# synthesized dataset validated against them has no findings at all.
CLEAN_EXPERIMENT = {
    "predict1-waymo": "s2mv_text2world_tiny",
    "transfer25-singleview": "transfer_singleview_depth_tiny",
    "transfer25-multiview-hdmap": "transfer_multiview_hdmap_tiny",
    "predict25-video2world": None,
    "cosmos3-vision-jsonl": "vision_sft_nano",
    "lerobot-v3": "action_policy_libero_nano",
}
SYNTH_ARGS = {"cosmos3-vision-jsonl": {"frames": 61, "fps": 24}, "lerobot-v3": {"frames": 20, "fps": 10}}
"""Layouts whose loader needs more: Cosmos 3 drops windows under 61 frames."""


@pytest.fixture(scope="session")
def _bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bases")
    return {
        layout: synthesize(
            root / layout,
            layout,
            clips=2,
            size=(32, 32),
            **SYNTH_ARGS.get(layout, {"frames": FRAMES, "fps": 10}),
        )
        for layout in CLEAN_EXPERIMENT
    }


@pytest.fixture
def dataset(_bases: dict[str, Path], tmp_path: Path) -> Callable[[str], Path]:
    """``dataset(layout)``: a fresh copy of the small valid dataset of that layout."""

    def make(layout: str) -> Path:
        dst = tmp_path / layout
        shutil.copytree(_bases[layout], dst, symlinks=True)
        return dst

    return make
