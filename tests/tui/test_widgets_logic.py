"""Unit tests of the pure parts: the braille chart, the GPU history row, formatting."""

from __future__ import annotations

import math

from cosmos_tui.tui.widgets.format import age, duration, progress, size
from cosmos_tui.tui.widgets.gpu_panel import spark, timeline
from cosmos_tui.tui.widgets.loss_chart import render_chart


def test_chart_has_the_asked_size_and_skips_non_finite_points() -> None:
    pts = [(i, 1.0 / (i + 1)) for i in range(200)] + [(200, math.nan), (201, math.inf)]
    text = render_chart({"run": pts}, width=40, height=6)
    lines = text.plain.split("\n")
    assert len(lines) == 6
    assert all(len(line) == 40 for line in lines[:-1])
    assert lines[0].strip().startswith("1│")
    assert lines[-1].strip().endswith("it 199")
    assert any(ch != "\u2800" and 0x2800 <= ord(ch) <= 0x28FF for ch in lines[-2])  # the tail is low


def test_chart_empty_state() -> None:
    assert render_chart({}, 40, 6, empty="nothing").plain == "nothing"
    assert render_chart({"a": [(1, math.nan)]}, 40, 6).plain == "no data yet"


def test_formatting() -> None:
    assert duration(3725) == "1h02m" and duration(65) == "1m05s" and duration(None) == "–"
    assert progress(120, 500) == "120/500 (24%)" and progress(None, 10) == "–"
    assert size(1536) == "1.5 KiB" and size(12) == "12 B"
    assert spark([0, 50, 100], 3) == "▁▄█"


def test_ages_are_narrow() -> None:
    assert age(100.0, 142.0) == "42s ago" and age(0.0, 900.0) == "15m ago"
    assert age(0.0, 3725.0) == "1h02m ago" and age(0.0, 3 * 86400 + 4 * 3600 + 5) == "3d04h ago"
    assert age(None, 1.0) == "–"


def test_gpu_history_row_has_its_full_width_and_fills_from_the_right() -> None:
    row = timeline([0.0, 100.0], 10, "green")
    assert row.plain == "········▁█" and len(row.plain) == 10
    assert timeline([50.0] * 30, 10, "green").plain == "▄" * 10
    assert timeline([], 4, "green").plain == "····"


def test_run_header_shows_tokens_layout_steps_and_samples() -> None:
    from cosmos_tui.tui.state import RunRow, RunView
    from cosmos_tui.tui.widgets.run_header import RunHeader

    header = RunHeader()
    view = RunView(
        row=RunRow(id="r1", status="running", iteration=9, max_iter=40),
        sec_per_iter=0.3,
        tokens_per_s=150187.0,
        tokens=((6, 149000.0), (8, 150187.0)),
        parallelism="DP 4 x CP 2 (FSDP shard 8 x replicate 1)",
        samples="2 iteration(s) drawn, latest 8 (ema, reg: jpg, gif)",
        steps=(("convert", "done"), ("train", "running"), ("export", "pending")),
    )
    header.view = view
    text = header.render().plain
    assert "150,187 tokens/s" in text and "DP 4 x CP 2" in text and "FSDP" not in text
    assert "convert done > train running > export pending" in text
    assert "latest 8 (ema, reg" in text
    plain = RunView(row=RunRow(id="r2", status="running"))
    header.view = plain
    assert "tokens/s" not in header.render().plain and "steps" not in header.render().plain


def test_the_legend_fits_by_closer_spacing_then_short_names_then_a_second_line() -> None:
    from cosmos_tui.tui.widgets.loss_chart import legend_lines, loss_short_names

    names = ["reference NVIDIA H200 x8", "train loss", "val loss"]
    styles = ["grey42", "green", "cyan"]
    short = loss_short_names("train loss", names[0])
    plain = [[t.plain for t in legend_lines(names, styles, w, short, 2)] for w in (60, 50, 30, 12)]
    assert plain[0] == ["■ reference NVIDIA H200 x8  ■ train loss  ■ val loss  "]
    assert plain[1] == ["■ reference NVIDIA H200 x8 ■ train loss ■ val loss"]
    assert plain[2] == ["■ ref x8 ■ loss ■ val"]
    assert plain[3] == ["■ ref x8", "■ loss ■ val"]  # wrapped between entries, none cut
    assert [t.plain for t in legend_lines(names, styles, 12, short, 1)] == ["■ ref x8 ■ …"]
    assert loss_short_names("train loss", "") == {"reference": "ref", "train loss": "loss", "val loss": "val"}
