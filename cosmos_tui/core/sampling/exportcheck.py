"""Whether exported weights took: each file loaded the way the engine's sampler loads weights, one
tiny sample drawn from it and from the job's base weights with the same seed, and compared.

Identical samples mean the export (or the fine-tune behind it) changed nothing; a file that does
not load is said so with the engine's reason. Upstream users hit both: post-trained outputs
identical to the base, pure noise after a conversion.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.engines.registry import get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.sampling.prompts import default_requests, requests_json

CHECK_TIMEOUT_S = 600.0
"""How long the engine may take to load the files and draw the samples."""


@dataclass(frozen=True)
class ExportCheck:
    """The verdict on one exported file."""

    file: Path
    loads: bool
    identical: bool | None = None
    """The sample equals the base weights' sample (``None``: it did not load)."""
    max_abs_diff: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """It loads and its sample differs from the base's."""
        return self.loads and self.identical is False

    @property
    def message(self) -> str:
        """One sentence for the person."""
        if not self.loads:
            return f"{self.file.name} does not load the way the sampler loads weights: {self.error}"
        if self.identical:
            return (
                f"{self.file.name} samples exactly like the base weights (same seed): the export or "
                "the fine-tune behind it did not take."
            )
        return (
            f"{self.file.name} loads and differs from the base weights (max |diff| {self.max_abs_diff:.4g})."
        )


def compare_with_base(job_dir: Path, files: list[Path], engine_kind: str) -> list[ExportCheck] | None:
    """One :class:`ExportCheck` per file; ``None`` when the engine cannot check yet."""
    adapter = get_adapter(engine_kind)
    with tempfile.TemporaryDirectory(prefix="cosmos-tui-verify-") as tmp:
        prompts = Path(tmp) / "prompts.json"
        prompts.write_text(requests_json(default_requests((0,))))
        argv = adapter.compare_base_argv(job_dir, files, prompts)
        if argv is None:
            return None
        try:
            proc = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            raise UserError(
                f"checking the exported files took over {CHECK_TIMEOUT_S:.0f} s; stopped it."
            ) from None
    checks = []
    for line in proc.stdout.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "file" in data:
            checks.append(
                ExportCheck(
                    Path(data["file"]),
                    bool(data.get("loads")),
                    data.get("identical"),
                    data.get("max_abs_diff"),
                    data.get("error"),
                )
            )
    if not checks:
        last = (proc.stderr.strip().splitlines() or [f"the sampler exited {proc.returncode}"])[-1]
        raise UserError(
            f"cannot check the exported files against the base weights: {last.removeprefix('error: ')}"
        )
    return checks
