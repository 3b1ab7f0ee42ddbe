"""The progress tracker keeps a chart series for every rate ``metrics.jsonl`` carries (read by the
one metrics reader), cut back like the loss on a resume; the EMA smoothing of a series."""

from __future__ import annotations

import json
import math

import pytest

from cosmos_tui.core.monitor.metrics import parse_jsonl_record
from cosmos_tui.core.monitor.progress import ProgressTracker
from cosmos_tui.core.monitor.series import ema


def _line(i: int, **extra) -> str:
    record = {"iteration": i, "loss": 1.0 / i, "lr": 1e-4 * i, "grad_norm": 2.0 + i, **extra}
    return json.dumps(record)


def test_every_reported_rate_gets_a_series_and_a_resume_cuts_them() -> None:
    tracker = ProgressTracker(series_refresh_s=0.0)
    lines = [_line(i, samples_per_s=9.5, peak_mem_gb=12.0 + i, tokens_per_s=900.0 + i) for i in range(1, 11)]
    tracker.add([parse_jsonl_record(x) for x in lines], now=0.0)
    series = tracker.snapshot().rate_series
    assert set(series) == {"lr", "grad_norm", "samples_per_s", "peak_mem_gb", "tokens_per_s"}
    assert series["grad_norm"][-1] == (10.0, 12.0) and series["peak_mem_gb"][0] == (1.0, 13.0)
    assert "mfu" not in series  # never reported: no series
    tracker.add([parse_jsonl_record(_line(6))], now=1.0)  # resumed from iteration 5
    series = tracker.snapshot().rate_series
    assert [x for x, _ in series["lr"]] == [1, 2, 3, 4, 5, 6]
    assert [x for x, _ in series["peak_mem_gb"]] == [1, 2, 3, 4, 5]  # not in the resumed line


def test_console_lines_carry_no_rates() -> None:
    from cosmos_tui.core.monitor.metrics import parse_message

    tracker = ProgressTracker()
    tracker.add([parse_message("Iteration 1: Hit counter: 1/10 | Loss: 0.5 | Time: 0.4s")], now=0.0)
    assert tracker.snapshot().rate_series == {}


def test_ema_is_debiased_and_skips_non_finite_points() -> None:
    pts = [(1, 10.0), (2, float("nan")), (3, 10.0), (4, 20.0)]
    out = ema(pts, 0.5)
    assert [x for x, _ in out] == [1, 3, 4]
    assert out[0] == (1, 10.0) and out[1] == (3, 10.0)  # starts at the data, not at 0
    assert math.isclose(out[2][1], (0.5 * 7.5 + 0.5 * 20.0) / (1 - 0.5**3))
    assert ema(pts, 0.0) == [(1, 10.0), (3, 10.0), (4, 20.0)]
    with pytest.raises(ValueError):
        ema(pts, 1.0)
