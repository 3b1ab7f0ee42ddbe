"""Verdicts without a probe process: upstream requirements, the GPU fixes, price, cache, exit codes.

The builtin GPU cases feed :func:`cosmos_tui.core.fit.assess` a probe result of the shape the
engine prints (``tests/fit/test_fit_probe.py`` runs the real one) and a made-up 8 x 80 GB machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core import fit, preflight
from cosmos_tui.core.fit_requirements import judge, load_requirements, requirement_for
from cosmos_tui.core.machine_fit import Gpu
from cosmos_tui.core.paths import state_root
from cosmos_tui.core.presets import load_preset, resolve_preset

H100 = Gpu(0, "NVIDIA H100 80GB HBM3", 79.6, 9.0)
RTX = Gpu(0, "NVIDIA GeForce RTX 4090", 23.6, 8.9)
TWO_B = "builtin-s2mv-2b-8gpu"


def _gpu_probe(peak_gb: float, params: int = 1_940_000_000, world: int = 8) -> dict:
    peak = int(peak_gb * 1e9)
    return {
        "shape": {
            "experiment": "s2mv_text2world_2b",
            "views": 2,
            "num_frames": 32,
            "patch_t": 2,
            "video_size": [512, 512],
            "batch_size": 1,
            "grad_accum_iter": 1,
            "world_size": world,
            "recompute": "",
            "activation_checkpointing_every": 0,
            "ema": True,
            "ema_offload": False,
            "compile": False,
        },
        "params": params,
        "tokens_per_sample": 16384,
        "flops_per_sample": 4.6e14,
        "ok": True,
        "error": None,
        "world_size": world,
        "device": H100.name,
        "memory_kind": "cuda_max_memory_allocated",
        "ranks": [{"rank": r, "peak_mem_bytes": peak, "step_s": 0.8} for r in range(world)],
        "steps": 2,
        "step_s": 0.8,
        "peak_mem_bytes": peak,
        "tokens_per_s": 163840.0,
        "mfu": 0.5,
        "peak_flops": 989e12,
        "peak_source": "listed",
    }


@pytest.fixture
def eight_h100(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit, "detect_gpus", lambda: (H100,) * 8)


def _probe_returns(monkeypatch: pytest.MonkeyPatch, probe: dict) -> None:
    monkeypatch.setattr(fit, "run_probe", lambda preset, timeout_s=0, extra=None: probe)


# ----- upstream: the requirements table -----------------------------------------------------
def test_every_row_names_its_source_and_leaves_h200_unmeasured() -> None:
    rows = load_requirements()
    assert len(rows) >= 6
    for row in rows:
        assert row.source and row.h200 == "not measured" and row.h200_command


def test_an_upstream_preset_will_not_fit_one_24gb_card() -> None:
    preset = load_preset(resolve_preset("transfer25-singleview-edge"))
    req = requirement_for(preset)
    assert req is not None and req.mode == "full" and req.need == "8 x 80 GB"
    verdict = judge(req, (RTX,), 1, preset.model.id)
    assert not verdict.fits
    assert "needs 8 x 80 GB; this machine has 1 x 24 GB: will not fit" in verdict.message
    assert "context parallelism" in verdict.message and "source: https://github.com/" in verdict.message
    assert judge(req, (H100,) * 8).fits


def test_the_lora_preset_gets_the_lora_row() -> None:
    req = requirement_for(load_preset(resolve_preset("predict25-lora-nemo-txt")))
    assert req is not None and req.mode == "lora" and req.gpu_memory_gb == 0
    assert "memory per GPU not published" in req.need


def test_preflight_says_it_for_upstream_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "detect_gpus", lambda: (RTX,))
    check = preflight.check_fit(load_preset(resolve_preset("predict1-s2mv-text2world")))
    assert check.name == "fit" and check.level == "warn"
    assert "needs 8 x 80 GB; this machine has 1 x 24 GB: will not fit" in check.message
    assert "activation checkpointing" in check.message  # what upstream suggests


def test_cli_upstream_on_this_machine_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit, "detect_gpus", lambda: ())
    result = CliRunner().invoke(app, ["fit", "transfer25-singleview-edge", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["method"] == "requirements" and report["fits"] is False
    assert "needs 8 x 80 GB; this machine has no NVIDIA GPU: will not fit" in report["summary"]
    assert report["requirement"]["h200"] == "not measured"


# ----- builtin on GPUs: verdict, fixes, ETA, cost --------------------------------------------
def test_gpu_fixes_cheapest_first_and_more_gpus(monkeypatch: pytest.MonkeyPatch, eight_h100: None) -> None:
    probe = _gpu_probe(95.0, world=1)
    probe["shape"]["world_size"] = 1
    fixes = fit.derive_fixes(probe, int(79.6 * 2**30), on_gpu=True, gpus_here=8)
    labels = [f.label for f in fixes]
    assert any("EMA in pinned host memory" in lb for lb in labels)
    assert any("ranks instead of 1" in lb for lb in labels)
    fitting = [f for f in fixes if f.fits]
    assert fitting and fixes[: len(fitting)] == fitting
    same_run = [f for f in fitting if "ranks" not in f.label and "frames" not in f.label]
    assert [f.step_cost for f in same_run] == sorted(f.step_cost for f in same_run)
    ranks = next(f for f in fixes if "ranks" in f.label)
    assert ranks.overrides[0].startswith("launch.nproc_per_node=")
    frames = [f for f in fixes if "frames instead" in f.label]
    assert all(int(f.overrides[0].split("=")[1]) % 2 == 0 for f in frames)  # whole temporal patches


def test_fits_gives_eta_gpu_hours_and_cost_from_config_toml(
    monkeypatch: pytest.MonkeyPatch, eight_h100: None
) -> None:
    _probe_returns(monkeypatch, _gpu_probe(60.0))
    (state_root()).mkdir(parents=True, exist_ok=True)
    (state_root() / "config.toml").write_text('[cost]\ngpu_hour_price = 2.5\ncurrency = "EUR"\n')
    result = CliRunner().invoke(app, ["fit", TWO_B, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    preset = load_preset(resolve_preset(TWO_B))
    left = report["iterations_left"]
    assert report["fits"] is True and left > 0
    assert report["eta_s"] == pytest.approx(0.8 * left)
    gpu_hours = 0.8 * left / 3600 * preset.launch.nproc_per_node * preset.launch.nnodes
    assert report["gpu_hours"] == pytest.approx(gpu_hours)
    assert report["cost"] == pytest.approx(gpu_hours * 2.5) and report["currency"] == "EUR"
    # --price wins over the file
    again = json.loads(CliRunner().invoke(app, ["fit", TWO_B, "--json", "--price", "4"]).stdout)
    assert again["cost"] == pytest.approx(gpu_hours * 4)
    # and preflight shows the cached probe of the same config, with the cost
    check = preflight.check_fit(preset)
    assert check.level == "ok" and check.message.startswith("last probe: fits")
    assert "GPU-hours" in check.message and "EUR" in check.message
    # another config (a different --set) has no cached probe
    other = CliRunner().invoke(app, ["fit", TWO_B, "--json", "--set", "trainer.max_iter=7"])
    assert json.loads(other.stdout)["iterations_left"] == 7


def test_human_output_and_does_not_fit_exit_1(monkeypatch: pytest.MonkeyPatch, eight_h100: None) -> None:
    _probe_returns(monkeypatch, _gpu_probe(78.0))
    result = CliRunner().invoke(app, ["fit", TWO_B])
    assert result.exit_code == 1
    assert "does not fit" in result.stdout and "cheapest first" in result.stdout
    assert "--set trainer.recompute=gelu" in result.stdout
    assert "MFU 50.0%" in result.stdout


def test_an_oom_probe_reports_the_shape(monkeypatch: pytest.MonkeyPatch, eight_h100: None) -> None:
    probe = {"shape": _gpu_probe(1)["shape"], "ok": False, "error": "OOM", "world_size": 8, "ranks": []}
    _probe_returns(monkeypatch, probe)
    report = fit.assess(load_preset(resolve_preset(TWO_B)), TWO_B)
    assert not report.fits and "out of memory (OOM)" in report.summary and "32 frames" in report.summary


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["fit"]).exit_code == 2
    assert CliRunner().invoke(app, ["fit", "builtin-tiny-cpu", "--set", "nokey"]).exit_code == 2
    assert CliRunner().invoke(app, ["fit", "builtin-tiny-cpu", "--price", "-1"]).exit_code == 2


def test_a_bad_price_in_config_toml_is_one_sentence() -> None:
    state_root().mkdir(parents=True, exist_ok=True)
    (state_root() / "config.toml").write_text("[cost]\ngpu_hour_prize = 2\n")
    result = CliRunner().invoke(app, ["fit", "transfer25-singleview-edge"])
    assert result.exit_code == 1
    assert "unknown key cost.gpu_hour_prize; allowed: gpu_hour_price, currency" in result.stderr


def test_dashboard_cost_so_far() -> None:
    assert fit.cost_so_far(7200, 8, on_cpu=False) is None  # no price set
    state_root().mkdir(parents=True, exist_ok=True)
    (state_root() / "config.toml").write_text("[cost]\ngpu_hour_price = 3\n")
    assert fit.cost_so_far(7200, 8, on_cpu=False) == "16.0 GPU-hours, ~48.00 USD"
    assert fit.cost_so_far(7200, 2, on_cpu=True) is None


def test_the_dashboard_header_shows_the_cost_line() -> None:
    from cosmos_tui.tui.state import RunRow, RunView
    from cosmos_tui.tui.widgets.run_header import RunHeader

    header = RunHeader()
    header.show(RunView(row=RunRow(id="r1", status="running"), cost="16.0 GPU-hours, ~48.00 USD"))
    assert "cost 16.0 GPU-hours, ~48.00 USD" in header.render().plain
    header.show(RunView(row=RunRow(id="r1", status="running")))
    assert "cost" not in header.render().plain


def test_an_oom_probe_with_try_fixes_reprobes_each_change(
    monkeypatch: pytest.MonkeyPatch, eight_h100: None
) -> None:
    oom = {"shape": _gpu_probe(1)["shape"], "ok": False, "error": "OOM", "world_size": 8, "ranks": []}
    tried: list[list[str]] = []

    def probe(preset, timeout_s=0, extra=None):  # the run OOMs; with gelu recompute it fits
        overrides = preset.experiment.overrides
        tried.append(list(overrides))
        if "trainer.recompute=gelu" in overrides:
            return _gpu_probe(70.0)
        return oom

    monkeypatch.setattr(fit, "run_probe", probe)
    report = fit.assess(load_preset(resolve_preset(TWO_B)), TWO_B, try_fixes=True)
    assert not report.fits and report.fixes_source.startswith("measured")
    assert fit.AUTO_NOTE in report.notes  # the engine can choose at launch instead
    assert len(tried) == 1 + 5  # the run, then gelu, elementwise, attention, EMA offload, checkpointing
    assert report.fixes[0].overrides == ("trainer.recompute=gelu",) and report.fixes[0].fits
    assert all(not f.fits for f in report.fixes[1:])


def test_a_2b_probe_on_cpu_ranks_is_refused_before_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    monkeypatch.setattr(fit, "detect_gpus", lambda: ())
    monkeypatch.setattr(fit.psutil, "virtual_memory", lambda: SimpleNamespace(available=16e9, total=32e9))
    monkeypatch.setattr(fit, "run_probe", lambda *a, **k: pytest.fail("the probe must not start"))
    result = CliRunner().invoke(app, ["fit", TWO_B])
    assert result.exit_code == 1
    assert "not probed: on this machine's CPU, 8 rank(s) building the 1,936,638,976-parameter model" in (
        result.stdout
    )


def test_more_ranks_than_gpus_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit, "detect_gpus", lambda: (H100,))
    monkeypatch.setattr(fit, "run_probe", lambda *a, **k: pytest.fail("the probe must not start"))
    report = fit.assess(load_preset(resolve_preset(TWO_B)), TWO_B)
    assert not report.fits and "--set launch.nproc_per_node=1" in report.summary


def test_every_h200_command_names_a_real_preset_and_real_options() -> None:
    import shlex

    import typer.main

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for row in load_requirements():
        first = shlex.split(row.h200_command.split("&&")[0], comments=True)
        assert first[0] == "cosmos-tui" and first[1] in ("run", "fit"), row.h200_command
        resolve_preset(first[2])
        known = {o for p in commands[first[1]].params for o in p.opts}
        flags = [w for w in first[3:] if w.startswith("--")]
        assert set(flags) <= known, (row.h200_command, set(flags) - known)


def test_the_launch_preflight_carries_the_fit_row() -> None:
    checks = preflight.run_checks(load_preset(resolve_preset("builtin-tiny-cpu")))
    [row] = [c for c in checks if c.name == "fit"]
    assert row.level == "ok" and "not probed yet: `cosmos-tui fit PRESET`" in row.message


def test_the_attention_fix_quotes_the_probes_cost_for_its_shape() -> None:
    """At a long shape the engine reports recomputing the matmuls as a few percent of the step, so
    keeping only the self-attention's output ranks before checkpointing whole blocks."""
    from cosmos_tui.core.fit_fixes import derive_fixes

    probe = {**_gpu_probe(120.0, world=1), "recompute_costs": {"attention": 0.045, "whole": 0.333}}
    fixes = {f.overrides[0]: f for f in derive_fixes(probe, int(79.6e9), on_gpu=True, gpus_here=1)}
    attention = fixes["trainer.recompute=attention"]
    assert attention.step_cost == 0.045
    whole = fixes["trainer.activation_checkpointing=true"]
    assert attention.peak_bytes < int(120e9) and attention.step_cost < whole.step_cost
    order = [f.overrides[0] for f in derive_fixes(probe, int(79.6e9), on_gpu=True, gpus_here=1)]
    if attention.fits and whole.fits:
        assert order.index("trainer.recompute=attention") < order.index(
            "trainer.activation_checkpointing=true"
        )


def test_a_set_the_engine_refuses_is_a_usage_error_before_any_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's own dry run (a real subprocess) refuses the override: exit 2 with its sentence,
    and no probe starts (it would die the same way after building the model)."""
    monkeypatch.setattr(fit, "run_probe", lambda *a, **k: pytest.fail("the probe must not start"))
    result = CliRunner().invoke(app, ["fit", "builtin-tiny-cpu", "--set", "trainer.memory_budget=lots"])
    assert result.exit_code == 2, result.output
    assert "trainer.memory_budget must be 'auto', a number of GB" in result.output
    assert "fix the override or preset it names" in result.output


def test_recompute_options_start_from_the_runs_own_mode() -> None:
    """A probe that already recomputes the GELU measured activations without it: elementwise frees
    the rest of its share of what is left; a run at attention is offered no recompute mode."""
    from cosmos_tui.core import fit_fixes as ff

    gelu = {"shape": {"recompute": "gelu"}, "recompute_costs": {"attention": 0.02}}
    options = {mode: (share, cost) for mode, _label, share, cost in ff._recompute_options(gelu)}
    assert sorted(options) == ["attention", "elementwise"]
    share, cost = options["elementwise"]
    assert share == pytest.approx((ff.ELEMENTWISE_SAVES - ff.GELU_SAVES) / (1 - ff.GELU_SAVES))
    assert cost == pytest.approx(ff.ELEMENTWISE_COST - ff.GELU_COST)
    assert options["attention"][1] == pytest.approx(0.02 - ff.GELU_COST)  # the probe's count
    assert ff._recompute_options({"shape": {"recompute": "attention"}}) == []
    assert [f.overrides for f in ff.oom_candidates({"recompute": "attention"})] == [
        ("trainer.activation_checkpointing=true", "trainer.activation_checkpointing_every=1")
    ]


def test_a_gpu_run_over_its_memory_is_told_the_engine_can_choose(
    monkeypatch: pytest.MonkeyPatch, eight_h100: None
) -> None:
    monkeypatch.setattr(fit, "run_probe", lambda *a, **k: _gpu_probe(95.0))
    report = fit.assess(load_preset(resolve_preset(TWO_B)), TWO_B)
    assert not report.fits and fit.AUTO_NOTE in report.notes
    chosen = _gpu_probe(95.0)
    chosen["shape"]["memory_budget"] = "auto"  # it already does: not said again
    monkeypatch.setattr(fit, "run_probe", lambda *a, **k: chosen)
    assert fit.AUTO_NOTE not in fit.assess(load_preset(resolve_preset(TWO_B)), TWO_B).notes
