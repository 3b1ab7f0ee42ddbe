"""Every size a person reads goes through core/units.human_bytes (binary units: KiB, MiB, GiB), so
one checkpoint never reads 10.9 MiB in one place and 11.4 MB in another."""

from __future__ import annotations

import re
from pathlib import Path

import cosmos_tui
from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.checkpoints.verify import verify_checkpoint
from cosmos_tui.core.units import human_bytes

ROOT = Path(cosmos_tui.__file__).parent

SCALING = re.compile(
    r"/\s*\(?\s*(1e6|1e9|1_000_000|2\s*\*\*\s*(20|30)|1024\s*\*\*\s*[23]|1\s*<<\s*(20|30))\b"
)
"""Bytes divided by hand into a unit."""

ALLOWED = {
    # GPU memory against the catalog's per-GPU GB (a hardware spec: an "80 GB" H100), not a size shown
    "core/machine_fit.py",
    # doctor --json keeps its disk_*_gb keys for scripts (the text uses human_bytes)
    "cli/doctor.py",
    # the gpus table's "mem GiB" column: numbers under a unit header
    "cli/gpus.py",
}


def test_no_cli_or_core_module_scales_bytes_by_hand() -> None:
    offenders = []
    for path in sorted([*(ROOT / "cli").rglob("*.py"), *(ROOT / "core").rglob("*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED or rel == "core/units.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if SCALING.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "format sizes with core.units.human_bytes:\n" + "\n".join(offenders)


def test_ckpt_verify_says_the_size_as_ckpt_list_does(tmp_path: Path, monkeypatch) -> None:
    from cosmos_tui.core.checkpoints import verify

    monkeypatch.setattr(verify, "_verify_dcp", lambda info, deep: [])  # its parts read fine
    step = tmp_path / "checkpoints" / "iter_000000010"
    for part in ("model", "optim", "scheduler", "trainer"):
        (step / part).mkdir(parents=True)
        (step / part / ".metadata").write_bytes(b"x" * 100)
        (step / part / "__0_0.distcp").write_bytes(b"y" * (3 << 20))
    [info] = scan_checkpoints(tmp_path / "checkpoints")
    verdict = verify_checkpoint(info)
    assert f"({human_bytes(info.size_bytes)})" in verdict.message
    assert "12.0 MiB" in verdict.message and " MB" not in verdict.message
