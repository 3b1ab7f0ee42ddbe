"""The dashboard's chart shows each metric the run's metrics.jsonl carries (m cycles through
them), smoothed or not (z)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import wait_for
from support.runs import measured_on
from tui_world import RUN_OK

from cosmos_tui.tui.screens.dashboard import DashboardScreen
from cosmos_tui.tui.widgets.loss_chart import LossChart, chart_choices, next_metric


def test_the_choices_are_the_loss_and_what_was_reported() -> None:
    metrics = {"grad_norm": ((1, 2.0),), "lr": ((1, 1e-4),), "mfu": ()}
    assert chart_choices(metrics) == ("loss", "lr", "grad_norm")
    assert next_metric("loss", metrics) == "lr" and next_metric("grad_norm", metrics) == "loss"
    assert next_metric("peak_mem_gb", metrics) == "loss"  # gone from the run: back to the loss


async def test_m_cycles_the_metrics_and_z_smooths(make_app, fixed_runs) -> None:
    ok = next(r for r in fixed_runs if r.id == RUN_OK)
    metrics = Path(ok.job_dir) / "metrics.jsonl"
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    richer = [
        {**m, "grad_norm": 3.0 + (m["iteration"] % 5), "peak_mem_gb": 20.0 + m["iteration"] / 10}
        for m in lines
    ]
    metrics.write_text("".join(json.dumps(m) + "\n" for m in richer))
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.polls > 0)
        dash = app.screen
        chart = dash.query_one("#loss-chart", LossChart)
        box = dash.query_one("#loss-box")
        assert set(dash.view.metrics) == {"lr", "grad_norm", "samples_per_s", "peak_mem_gb"}
        seen = []
        for _ in range(5):
            await pilot.press("m")
            seen.append((dash.metric, str(box.border_title)))
        assert [m for m, _ in seen] == ["lr", "grad_norm", "samples_per_s", "peak_mem_gb", "loss"]
        assert seen[1][1] == "grad norm" and seen[3][1] == "peak memory GB"
        await pilot.press("m", "m")  # grad norm
        raw = list(chart.series[RUN_OK])
        assert [y for _, y in raw[:5]] == [4.0, 5.0, 6.0, 7.0, 3.0]
        await pilot.press("Z")
        smooth = list(chart.series[RUN_OK])
        assert "EMA" in str(box.border_title) and len(smooth) == len(raw)
        assert smooth[0] == raw[0] and smooth[4][1] != raw[4][1]
        spread = max(y for _, y in smooth) - min(y for _, y in smooth)
        assert spread < max(y for _, y in raw) - min(y for _, y in raw)
        await pilot.pause(1.5)  # the next poll keeps the choice
        assert dash.metric == "grad_norm" and list(chart.series[RUN_OK]) == smooth
        await pilot.press("Z")
        assert list(chart.series[RUN_OK]) == raw and str(box.border_title) == "grad norm"


async def test_the_loss_chart_draws_the_val_loss_and_the_presets_reference_dimmed(
    make_app, fixed_runs, tmp_path: Path
) -> None:
    from cosmos_tui.core import reference
    from cosmos_tui.tui.widgets.loss_chart import REFERENCE_STYLE

    ok = next(r for r in fixed_runs if r.id == RUN_OK)
    measured = reference.Measurement(device="cpu", world_size=2, sec_per_iter=0.4, loss=((1, 1.5), (10, 0.9)))
    other = reference.Measurement(
        device="NVIDIA H200", world_size=2, sec_per_iter=0.1, loss=((1, 9.0), (10, 8.0))
    )
    lines = measured_on(
        ok,
        tmp_path / "mine.toml",
        device="cpu",
        world_size=2,
        val_loss=lambda i: 2.0 - i / 100,
        references=(other, measured),
    )
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.polls > 0)
        dash = app.screen
        chart = dash.query_one("#loss-chart", LossChart)
        names = list(chart.series)
        assert names == ["reference cpu x2", "train loss", "val loss"]  # the reference of this device only
        assert list(chart.series["reference cpu x2"]) == [(1, 1.5), (10, 0.9)]
        assert [x for x, _ in chart.series["val loss"]] == [m["iteration"] for m in lines if "val_loss" in m]
        assert chart.curve_styles == {"reference cpu x2": REFERENCE_STYLE}
        assert "val loss" in str(chart.render()) and "reference cpu x2" in str(chart.render())
        await pilot.press("m")  # another metric: the training loss's companions are not drawn
        assert list(chart.series) == [RUN_OK] and chart.curve_styles == {}
