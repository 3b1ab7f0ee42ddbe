"""The wizard's Data page prepares a dataset from raw videos (``data prepare``, run in a worker):
progress, a Stop that leaves a resumable job, the same findings table and verdict a validation
gives (so Next accepts the folder), and a layout that needs more than the page asks (camera
grouping, T5 weights) says so with the command to run."""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import wait_for
from textual.widgets import Input

from cosmos_tui.tui.screens.wizard_data import DataStep

sys.path.insert(0, str(Path(__file__).parents[1] / "prepare"))
from prepare_helpers import clip
from test_wizard_steps import _next, _text, _wizard


def _raw(folder: Path, n: int) -> Path:
    for i in range(n):
        clip(folder / f"take{i}.mp4", 12, seed=i)
        (folder / f"take{i}.txt").write_text(f"take {i} of a moving square")
    return folder


async def _data_page(pilot, model: str):
    wizard = await _wizard(pilot, model)
    await _next(pilot, wizard)
    await _next(pilot, wizard)
    return wizard, wizard.query_one(DataStep)


async def test_prepare_from_raw_videos_ends_validated_and_next_accepts_it(make_app, tmp_path: Path) -> None:
    app = make_app(gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        wizard, data = await _data_page(pilot, "builtin-transfer-singleview-tiny")
        wizard.query_one("#data-src", Input).value = str(_raw(tmp_path / "raw", 2))
        wizard.query_one("#data-root", Input).value = str(tmp_path / "set")
        await pilot.click("#data-prepare")
        await wait_for(pilot, lambda: data.report is not None, timeout=120)
        assert data.report.ok and data.report.clips == 2, _text(wizard, "#data-summary")
        assert "valid" in _text(wizard, "#data-summary")
        assert not wizard.query_one("#data-prepare-stop").display
        assert any("Prepared 2 clip(s) from 2 video(s)" in n.message for n in app._notifications)
        assert sorted(p.name for p in (tmp_path / "set" / "videos").iterdir()) == [
            "take0_000.mp4",
            "take1_000.mp4",
        ]
        await _next(pilot, wizard)
        assert wizard.step == 3  # the prepared set counts as validated


async def test_stop_leaves_a_job_the_same_button_resumes(make_app, tmp_path: Path) -> None:
    app = make_app(gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        wizard, data = await _data_page(pilot, "builtin-transfer-singleview-tiny")
        wizard.query_one("#data-src", Input).value = str(_raw(tmp_path / "raw", 6))
        wizard.query_one("#data-root", Input).value = str(tmp_path / "set")
        data._stop_prepare.set()  # asked before the first video ends: it stops after the ones in hand
        data.prepare(data.source, data.data_root, data.layout_id, data.experiment)
        await wait_for(pilot, lambda: "stopped:" in _text(wizard, "#data-summary"), timeout=120)
        assert "run the same command again to resume" in _text(wizard, "#data-summary")
        assert data.report is None
        await pilot.click("#data-prepare")  # the button clears the stop and resumes the job
        await wait_for(pilot, lambda: data.report is not None, timeout=120)
        assert data.report.ok and data.report.clips == 6


async def test_a_multiview_layout_says_what_the_command_needs(make_app, tmp_path: Path) -> None:
    app = make_app(gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        wizard, _ = await _data_page(pilot, "builtin-s2mv-tiny")
        wizard.query_one("#data-src", Input).value = str(_raw(tmp_path / "raw", 1))
        wizard.query_one("#data-root", Input).value = str(tmp_path / "set")
        await pilot.click("#data-prepare")
        await wait_for(pilot, lambda: "--views-rule" in _text(wizard, "#data-summary"), timeout=60)
        summary = _text(wizard, "#data-summary")
        assert "cosmos-tui data prepare" in summary and "predict1-waymo" in summary
        assert not (tmp_path / "set").exists()
