"""Whether exported weights took: each file loaded the way the engine's sampler loads weights, one
tiny sample drawn from it and from the job's base weights with the same seed, and compared.

Identical samples mean the export (or the fine-tune behind it) changed nothing; a file that does
not load is said so with the engine's reason. Upstream users hit both: post-trained outputs
identical to the base, pure noise after a conversion.

Engines whose sampler cannot run here (the upstream ones: a 2B+ model on a GPU) get the tensor-level
check instead: the file loads with ``torch.load(weights_only=True)``, every floating tensor is
finite, and, given the starting weights, it differs from them.
"""

from __future__ import annotations

import dataclasses
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
    """Why it does not load, or (weight checks) what is wrong with what it holds."""
    by: str = "sample"
    """``sample``: one tiny sample compared with the base weights' (the engine's sampler);
    ``weights``: the tensors themselves (:func:`compare_tensors_with_base`)."""
    tensors: int | None = None
    """How many tensors the file holds (weight checks)."""

    @property
    def ok(self) -> bool:
        """It loads, holds nothing wrong, and differs from the base (or, with no base to compare,
        a weight check found nothing wrong)."""
        if not self.loads or self.identical or (self.by == "weights" and self.error):
            return False
        return self.identical is False or self.by == "weights"

    @property
    def message(self) -> str:
        """One sentence for the person."""
        name = self.file.name
        if not self.loads:
            how = "the sampler" if self.by == "sample" else "inference (tensors only)"
            return f"{name} does not load the way {how} loads weights: {self.error}"
        if self.error:
            return f"{name} loads but {self.error}"
        if self.identical:
            what = "samples exactly like" if self.by == "sample" else "holds exactly the tensors of"
            return (
                f"{name} {what} the base weights{' (same seed)' if self.by == 'sample' else ''}: "
                "the export or the fine-tune behind it did not take."
            )
        held = f" ({self.tensors} tensors, all finite)" if self.tensors is not None else ""
        if self.identical is None:
            return f"{name} loads{held}; pass --base FILE (the starting weights) to see that it changed."
        return f"{name} loads{held} and differs from the base weights (max |diff| {self.max_abs_diff:.4g})."


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


_PREFIXES = ("module.", "_orig_mod.", "model.", "net.")


def _tensors(obj: object, prefix: str = "") -> dict[str, object]:
    """Every tensor in a loaded checkpoint, by dotted key (nested state dicts flattened)."""
    import torch  # deferred: core never imports torch at import time

    found: dict[str, object] = {}
    if isinstance(obj, torch.Tensor):
        found[prefix.rstrip(".")] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            found.update(_tensors(value, f"{prefix}{key}."))
    return found


def _plain_key(key: str) -> str:
    """``key`` without wrapper prefixes (``model.net.x`` and ``net.x`` name the same tensor)."""
    stripped = True
    while stripped:
        stripped = False
        for p in _PREFIXES:
            if key.startswith(p):
                key, stripped = key[len(p) :], True
    return key


def _load_tensors(path: Path) -> dict[str, object]:
    import torch  # deferred: core never imports torch at import time

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file  # deferred: only for .safetensors files

        return dict(load_file(str(path)))
    return _tensors(torch.load(path, map_location="cpu", mmap=True, weights_only=True))


def compare_tensors_with_base(files: list[Path], base: Path | None) -> list[ExportCheck]:
    """One tensor-level :class:`ExportCheck` per file, against ``base`` (the starting weights)
    when given: it loads (tensors only, nothing unpickled), every floating tensor is finite, and
    the tensors it shares with ``base`` (keys matched without ``model.``/``net.`` wrappers)
    differ somewhere. A file sharing under half of its tensors with ``base`` is said so."""
    import torch  # deferred: core never imports torch at import time

    reference: dict[str, object] | None = None
    if base is not None:
        try:
            reference = {_plain_key(k): v for k, v in _load_tensors(base).items()}
        except Exception as e:  # a damaged or foreign base file: one sentence, no traceback
            why = f"{e.__class__.__name__}: {e}"
            raise UserError(f"--base {base} does not load as weights ({why}).") from None
    checks = []
    for path in files:
        try:
            held = _load_tensors(path)
        except Exception as e:
            checks.append(ExportCheck(path, False, error=f"{e.__class__.__name__}: {e}", by="weights"))
            continue
        bad = [k for k, t in held.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if not held or bad:
            what = (
                "holds no tensors"
                if not held
                else f"holds non-finite values in {len(bad)} tensor(s), e.g. {bad[0]}"
            )
            checks.append(ExportCheck(path, True, error=what, by="weights", tensors=len(held)))
            continue
        if reference is None:
            checks.append(ExportCheck(path, True, by="weights", tensors=len(held)))
            continue
        plain = ((_plain_key(k), t) for k, t in held.items())
        shared = [(t, reference[k]) for k, t in plain if k in reference]
        if len(shared) * 2 < len(held):
            note = f"shares only {len(shared)} of its {len(held)} tensors with --base: is it the same model?"
            checks.append(ExportCheck(path, True, error=note, by="weights", tensors=len(held)))
            continue
        diff = 0.0
        for mine, theirs in shared:
            if mine.shape != theirs.shape:
                diff = float("inf")
                break
            delta = (mine.float() - theirs.to(mine.dtype).float()).abs().max() if mine.numel() else 0
            diff = max(diff, float(delta))
        checks.append(ExportCheck(path, True, diff == 0.0, diff, by="weights", tensors=len(held)))
    return checks


def verify_files(
    job_dir: Path, files: list[Path], engine_kind: str, base: Path | None = None
) -> list[ExportCheck]:
    """Each of ``files`` (exported or converted from ``job_dir``) checked the deepest way this
    machine can: with ``base`` given, or for an engine whose sampler cannot run here, the
    tensor-level check against ``base``; else one tiny sample against the job's base weights.
    A file placed under two names (a hard link) is checked once and reported under both."""
    unique: dict[tuple[int, int], Path] = {}
    for path in files:
        st = Path(path).stat()
        unique.setdefault((st.st_dev, st.st_ino), Path(path))
    once = list(unique.values())
    checks = compare_with_base(job_dir, once, engine_kind) if base is None else None
    if checks is None:
        checks = compare_tensors_with_base(once, base)
    by_inode = dict(zip(unique, checks, strict=True))
    result = []
    for path in files:
        st = Path(path).stat()
        result.append(dataclasses.replace(by_inode[(st.st_dev, st.st_ino)], file=Path(path)))
    return result
