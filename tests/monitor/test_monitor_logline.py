"""Console lines: ANSI, torchrun prefixes, the upstream loguru prefix, rank tags, filters."""

from __future__ import annotations

from monitor_upstream_lines import P1_SPEED, T25_HIT, TRAINER_DONE, UNSTABLE

from cosmos_tui.core.monitor.logline import matches, parse_line, shown_line


def test_loguru_prefix_is_split_into_fields() -> None:
    line = parse_line(T25_HIT)
    assert line.time == "02-17 13:51:53"
    assert line.level == "INFO"
    assert line.source == "cosmos_transfer2/_src/predict2/callbacks/iter_speed.py:57:on_training_step_end"
    assert line.message == "Iteration 1: Hit counter: 1/200 | Loss: 0.0000 | Time: 114.03s"
    assert line.rank is None


def test_coloured_line_parses_like_plain() -> None:
    coloured = (
        "\x1b[32m[04-07 05:33:01\x1b[0m|\x1b[1mINFO\x1b[0m|"
        "\x1b[36mcosmos_predict1/diffusion/training/callbacks/iter_speed.py:80:every_n_impl\x1b[0m] "
        "2000 : iter_speed 3.70 seconds per iteration | Loss: -0.7500"
    )
    assert shown_line(coloured) == P1_SPEED
    assert parse_line(coloured) == parse_line(P1_SPEED)


def test_rank_tags_from_upstream_and_torchrun() -> None:
    assert parse_line(UNSTABLE).rank == 3
    assert parse_line(UNSTABLE).level == "CRITICAL"
    assert parse_line(UNSTABLE).message.startswith("Unstable loss nan at iteration 57")
    tee = parse_line("[rank5]: " + P1_SPEED)
    assert tee.rank == 5 and tee.level == "INFO" and tee.message.startswith("2000 : iter_speed")
    old = parse_line("[default1]:Traceback (most recent call last):")
    assert old.rank == 1 and old.level == "ERROR"


def test_plain_lines_and_progress_redraws() -> None:
    line = parse_line("W0217 13:50:00.123 torch/distributed/run.py:793] Setting OMP_NUM_THREADS")
    assert line.level is None and line.time is None and line.message == line.text
    assert shown_line("10%|#   |\r50%|#####  |\r") == "50%|#####  |"
    assert parse_line("RuntimeError: CUDA out of memory.").level == "ERROR"


def test_filters() -> None:
    info, done, crit = parse_line(T25_HIT), parse_line(TRAINER_DONE), parse_line(UNSTABLE)
    assert [matches(x, min_level="success") for x in (info, done, crit)] == [False, True, True]
    assert matches(info, query="HIT COUNTER") and not matches(info, query="seconds per iteration")
    assert matches(info, rank=0) and not matches(info, rank=3) and matches(crit, rank=3)
    assert not matches(parse_line("no level here"), min_level="DEBUG")
