"""The one progress parser: IterSpeed lines of T25/P25/P1 and the builtin metrics.jsonl."""

from __future__ import annotations

import json
import math
from pathlib import Path

from monitor_upstream_lines import DEVICE_MONITOR, P1_SPEED, P25_SPEED, T25_HIT, TRAINER_START, UNSTABLE

from cosmos_tui.core.monitor.metrics import (
    parse_iter_line,
    parse_jsonl_record,
    scan_bytes,
    scan_file,
)


def test_real_upstream_lines() -> None:
    hit = parse_iter_line(T25_HIT)
    assert hit is not None
    assert (hit.iteration, hit.loss, hit.phase, hit.hit, hit.hit_total) == (1, 0.0, "hit", 1, 200)
    assert hit.sec_per_iter is None  # hit 1's time includes start-up
    p25 = parse_iter_line(P25_SPEED)
    assert p25 is not None and (p25.iteration, p25.loss, p25.sec_per_iter, p25.phase) == (
        1500,
        0.0,
        33.99,
        "speed",
    )
    p1 = parse_iter_line(P1_SPEED)
    assert p1 is not None and (p1.iteration, p1.loss, p1.sec_per_iter) == (2000, -0.75, 3.70)


def test_later_hits_nan_inf_ansi_and_prefixes() -> None:
    second = T25_HIT.replace("Iteration 1: Hit counter: 1/200", "Iteration 2: Hit counter: 2/200").replace(
        "114.03s", "5.20s"
    )
    s = parse_iter_line(second)
    assert s is not None and s.sec_per_iter == 5.2 and s.hit == 2
    nan = parse_iter_line("[rank0]: " + P25_SPEED.replace("Loss: 0.0000", "Loss: nan"))
    assert nan is not None and math.isnan(nan.loss) and not nan.finite
    inf = parse_iter_line(P1_SPEED.replace("-0.7500", "-inf") + "\r\n")
    assert inf is not None and inf.loss == -math.inf
    coloured = P1_SPEED.replace("INFO", "\x1b[1mINFO\x1b[0m")
    assert parse_iter_line(coloured) == parse_iter_line(P1_SPEED)


def test_non_progress_lines_are_ignored() -> None:
    for line in [TRAINER_START, UNSTABLE, *DEVICE_MONITOR, "", "Iteration 1: Hit counter: x/200"]:
        assert parse_iter_line(line) is None
    # A message that merely quotes the format is not at the start of the message.
    assert (
        parse_iter_line(
            "[02-17 13:51:53|INFO|a.py:1:f] said: 5 : iter_speed 1.00 seconds per iteration | Loss: 1.0000"
        )
        is None
    )


def test_bulk_scan_keeps_file_order_and_flags_unstable(tmp_path: Path) -> None:
    lines = [TRAINER_START, T25_HIT, *DEVICE_MONITOR, UNSTABLE, P25_SPEED, P1_SPEED]
    blob = ("\n".join(lines) + "\n").encode()
    result = scan_bytes(blob)
    assert [s.iteration for s in result.samples] == [1, 1500, 2000]
    assert len(result.unstable) == 1 and "Unstable loss nan" in result.unstable[0]
    path = tmp_path / "console.log"
    path.write_bytes(blob * 50)
    whole = scan_file(path, window=1)  # window edges fall inside lines
    assert [s.iteration for s in whole.samples] == [1, 1500, 2000] * 50
    assert len(whole.unstable) == 50 and whole.bytes_scanned == len(blob) * 50
    tail = scan_file(path, start=len(blob) * 49)
    assert [s.iteration for s in tail.samples] == [1, 1500, 2000]


def test_metrics_jsonl_records() -> None:
    rec = {
        "iteration": 10,
        "loss": 0.25,
        "lr": 1e-4,
        "grad_norm": 1.5,
        "sec_per_iter": 0.5,
        "samples_per_s": 4.0,
        "tokens_per_s": 1000.0,
        "mfu": 0.3,
        "peak_mem_gb": 2.0,
        "time": 1.0,
    }
    s = parse_jsonl_record(json.dumps(rec))
    assert s is not None
    got = (s.iteration, s.loss, s.rates.lr, s.sec_per_iter, s.rates.mfu, s.phase)
    assert got == (10, 0.25, 1e-4, 0.5, 0.3, "jsonl")
    torn = json.dumps(rec)[:20]
    lines = [json.dumps(rec), "", torn, "[1, 2]", '{"iteration": 11, "loss": NaN}']
    got = [x for x in map(parse_jsonl_record, lines) if x is not None]
    assert [x.iteration for x in got] == [10, 11] and math.isnan(got[1].loss)


def test_fast_bulk_path_agrees_with_the_full_parser() -> None:
    variants = [
        P25_SPEED,
        P1_SPEED,
        T25_HIT,
        "[rank2]:" + P1_SPEED,
        P1_SPEED.replace("INFO", "NOTICE"),  # not a loguru level: rejected by both
        P1_SPEED.replace("] 2000", "] [RANK 1] 2000"),
        P1_SPEED + "\r",
        P1_SPEED.replace("-0.7500", "nan"),
    ]
    for line in variants:
        bulk = scan_bytes((line + "\n").encode()).samples
        single = parse_iter_line(line)
        assert (bulk[0] if bulk else None) == single or (math.isnan(bulk[0].loss) and math.isnan(single.loss))
