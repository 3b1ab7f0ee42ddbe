"""The prompts file of ``cosmos-tui samples --prompts``: one sample per line.

Each line is ``prompt<TAB>seed<TAB>clip``; the seed and the clip are optional, and an empty prompt
means the clip's own caption. A line without a seed is drawn once per ``--seeds`` seed. Blank lines
and lines starting with ``#`` are skipped. Lines end at ``\n`` only (a trailing ``\r`` is dropped),
so line numbers are an editor's; a form feed or other separator inside a line is a control
character. The file is read bounded (a regular file of at most :data:`PROMPTS_CAP`; ``/dev/zero``
or a FIFO is refused before anything is read), and every bad line (a malformed field, bytes that
are not UTF-8) is a :class:`~cosmos_tui.core.errors.UsageError` (exit 2): one sentence naming the
file, the line and what is wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.safeio import MiB, read_bytes_capped

PROMPTS_CAP = 1 * MiB
"""The largest prompts file read."""
MAX_SAMPLES = 1000
"""Samples one samples job draws per checkpoint, at most."""
MAX_PROMPT_CHARS = 2000
_CLIP = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,199}")
_FORMAT = "write prompt<TAB>seed<TAB>clip (seed and clip optional)"


@dataclass(frozen=True)
class SampleRequest:
    """One sample to draw."""

    prompt: str | None
    """The text (``None``: the clip's own caption)."""
    seed: int
    clip: str | None
    """The dataset clip it is conditioned on (``None``: the first clip)."""
    origin: str | None = field(default=None, compare=False)
    """Where it was asked for (``prompts file P line N``), for messages; not sent to the engine."""


def parse_seeds(text: str) -> tuple[int, ...]:
    """``0,1`` -> ``(0, 1)``; a :class:`UsageError` for anything else."""
    parts = [p.strip() for p in text.split(",")]
    if not parts or any(not p.isdigit() or int(p) >= 2**63 for p in parts):
        raise UsageError(f"--seeds must be comma-separated whole numbers like 0,1; got {text!r}.")
    return tuple(dict.fromkeys(int(p) for p in parts))


def _line_error(path: Path, number: int, what: str) -> UserError:
    return UsageError(f"prompts file {path} line {number}: {what}; {_FORMAT}.")


def parse_prompt_line(path: Path, number: int, line: str, seeds: tuple[int, ...]) -> list[SampleRequest]:
    """The samples of one line (``number`` counts from 1)."""
    fields = line.split("\t")
    if len(fields) > 3:
        raise _line_error(path, number, f"{len(fields)} tab-separated fields, at most 3 are allowed")
    prompt = fields[0].strip()
    if len(prompt) > MAX_PROMPT_CHARS:
        raise _line_error(
            path, number, f"the prompt has {len(prompt)} characters, at most {MAX_PROMPT_CHARS}"
        )
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in prompt):
        raise _line_error(path, number, "the prompt holds control characters")
    seed_text = fields[1].strip() if len(fields) > 1 else ""
    if seed_text and (not seed_text.isdigit() or int(seed_text) >= 2**63):
        raise _line_error(path, number, f"the seed {seed_text[:40]!r} is not a whole number below 2**63")
    clip = fields[2].strip() if len(fields) > 2 else ""
    if clip and not _CLIP.fullmatch(clip):
        raise _line_error(path, number, f"the clip {clip[:40]!r} is not a clip name (letters, digits, . _ -)")
    line_seeds = (int(seed_text),) if seed_text else seeds
    origin = f"prompts file {path} line {number}"
    return [SampleRequest(prompt or None, s, clip or None, origin) for s in line_seeds]


def _decoded(path: Path, number: int, raw: bytes) -> str:
    """Line ``number`` as text; a :class:`UsageError` naming the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _line_error(
            path,
            number,
            f"byte 0x{raw[e.start]:02x} at column {e.start + 1} is not UTF-8 (save the file as UTF-8)",
        ) from None


def read_prompts(path: Path, seeds: tuple[int, ...]) -> tuple[SampleRequest, ...]:
    """The samples a prompts file asks for (see the module docs)."""
    data = read_bytes_capped(path, PROMPTS_CAP, what="prompts file").removeprefix(b"\xef\xbb\xbf")
    out: list[SampleRequest] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line = _decoded(path, number, raw.removesuffix(b"\r"))
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        out.extend(parse_prompt_line(path, number, line, seeds))
        if len(out) > MAX_SAMPLES:
            raise UsageError(f"prompts file {path} asks for more than {MAX_SAMPLES} samples; split it.")
    if not out:
        raise UsageError(f"prompts file {path} holds no prompt; {_FORMAT}.")
    return tuple(out)


def default_requests(seeds: tuple[int, ...]) -> tuple[SampleRequest, ...]:
    """Without a prompts file: the first clip's own conditioning, once per seed."""
    return tuple(SampleRequest(None, s, None) for s in seeds)


def requests_json(requests: tuple[SampleRequest, ...]) -> str:
    """The samples as the engine reads them (a JSON list of ``{prompt, seed, clip}``)."""
    rows = [{"prompt": r.prompt, "seed": r.seed, "clip": r.clip} for r in requests]
    return json.dumps(rows, indent=1) + "\n"
