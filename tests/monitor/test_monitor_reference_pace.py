"""The watchdog flags a run 1.5x (or more) slower per iteration than its preset's measured
reference on the same device and rank count, with the usual causes; a reference file beside a
preset is read back as written, and a broken one gives no reference. (A real torchrun run judged
against a reference: ``tests/engine/test_engine_validation.py``.)"""

from __future__ import annotations

import json
from pathlib import Path

from cosmos_tui.core import reference
from cosmos_tui.core.monitor.progress import ProgressSnapshot
from cosmos_tui.core.monitor.watchdog import WatchdogConfig, pace_flag


def _refs(device: str, world: int, spi: float) -> reference.References:
    return reference.References("p", (reference.Measurement(device, world, spi, ((1, 1.0),)),))


def _snap(spi: float | None, device: str | None = "cpu", world: int | None = 2, reports: int = 5):
    return ProgressSnapshot(iteration=10, sec_per_iter=spi, reports=reports, device=device, world_size=world)


def test_pace_is_judged_only_against_the_same_device_and_ranks_after_start_up() -> None:
    cfg = WatchdogConfig()
    assert "1.6x the reference" in (pace_flag(_snap(0.32), _refs("cpu", 2, 0.2), cfg) or "")
    assert pace_flag(_snap(0.29), _refs("cpu", 2, 0.2), cfg) is None
    assert pace_flag(_snap(0.9), _refs("cpu", 4, 0.2), cfg) is None  # other rank count
    assert pace_flag(_snap(0.9, reports=2), _refs("cpu", 2, 0.2), cfg) is None  # start-up
    assert pace_flag(_snap(0.9, device=None), _refs("cpu", 2, 0.2), cfg) is None  # upstream engines
    fallback = pace_flag(_snap(9.0), _refs("NVIDIA H200", 2, 0.2), cfg) or ""
    assert fallback.startswith("CPU fallback") and "NVIDIA H200" in fallback
    pending = reference.References("p", pending=(reference.Pending("NVIDIA H200", "not measured", "cmd"),))
    assert (pace_flag(_snap(9.0), pending, cfg) or "").startswith("CPU fallback")


def test_a_reference_file_reads_back_and_a_broken_one_is_no_reference(tmp_path: Path) -> None:
    preset = tmp_path / "p.toml"
    assert reference.load(preset) is None
    refs = _refs("cpu", 2, 0.25)
    path = reference.reference_path(preset)
    path.parent.mkdir()
    path.write_text(json.dumps(refs.to_json()))
    assert reference.load(preset) == refs
    for broken in ("{", '{"format": 1, "measurements": [{"device": "cpu"}]}', '{"format": 99}', "[]"):
        path.write_text(broken)
        assert reference.load(preset) is None, broken
    bad = refs.to_json()
    bad["measurements"][0]["sec_per_iter"] = 0
    path.write_text(json.dumps(bad))
    assert reference.load(preset) is None


def test_the_shipped_builtin_presets_each_carry_a_reference_or_a_pending_slot() -> None:
    from cosmos_tui.core.presets import load_preset, shipped_presets

    for name, path in shipped_presets().items():
        if load_preset(path).engine.kind != "builtin":
            continue
        refs = reference.load(path)
        assert refs is not None, f"{name} has no reference file; run tests/benchmarks/measure_reference.py"
        assert refs.measurements or refs.pending, name
        for m in refs.measurements:
            assert m.device and m.torch and m.date and m.command and len(m.loss) >= 2, name
        for p in refs.pending:
            assert "measure_reference.py" in p.command, name
