"""What every CLI command shares: output streams, JSON, and the error contract.

Data goes to stdout, messages to stderr. Readers take ``--json``. Exit codes: 0 ok, 1 the thing
checked is bad or the run failed, 2 usage error. A :class:`~cosmos_tui.core.errors.UserError`
becomes one line on stderr and its exit code, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from cosmos_tui.core.display import markup_safe
from cosmos_tui.core.errors import UsageError

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")


def to_jsonable(obj: Any) -> Any:
    """Turn dataclasses, pydantic models, paths and enums into plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "model_dump"):
        return to_jsonable(obj.model_dump(mode="json"))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Enum):
        return obj.value
    return obj


def emit_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON to stdout."""
    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def info(message: str) -> None:
    """A message for the person (stderr)."""
    err.print(message)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {message}")


def shown(value: object) -> str:
    """A path, name or message from disk or a user, safe inside Rich output: control characters
    written as escapes and markup escaped (:func:`cosmos_tui.core.display.markup_safe`), so a file
    called ``[red]x`` or ``a\\nvalid`` prints as itself on one line."""

    return markup_safe(value)


ResumeOption = typer.Option(
    False, "--resume", help="The job folder holds checkpoints: continue that job from its latest one."
)
FreshOption = typer.Option(
    False, "--fresh", help="The job folder holds checkpoints: start over as a new job (NAME-2, ...)."
)


def existing_choice(resume: bool, fresh: bool) -> str:
    """``ask``, ``resume`` or ``fresh`` from the two flags (both is a usage error)."""
    if resume and fresh:
        raise UsageError("--resume and --fresh exclude each other; pick one")
    return "resume" if resume else ("fresh" if fresh else "ask")
