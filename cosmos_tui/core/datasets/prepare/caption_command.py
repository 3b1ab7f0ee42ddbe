"""Captioning by a command the person names: ``--caption-command 'CMD ARGS {clip}'``.

The template is split with :func:`shlex.split` once, into an argv list (never a shell); in each
argument ``{clip}`` becomes the prepared window's mp4 (absolute path) and ``{src}`` the source
video's. The command runs with no stdin, a timeout, and its stdout (UTF-8, at most 1 MiB) is the
caption. Nothing is downloaded by cosmos-tui: the command is the person's own captioner.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.datasets.caption_text import text_problem
from cosmos_tui.core.datasets.prepare.controls import fill_template
from cosmos_tui.core.errors import UsageError

_OUT_CAP = 1 << 20
_PLACEHOLDERS = ("{clip}", "{src}")


class CaptionFailed(Exception):
    """The command gave no usable caption; the message says why."""


@dataclass(frozen=True)
class CaptionCommand:
    """A parsed caption command: the argv template and its timeout."""

    argv: tuple[str, ...]
    timeout_s: float = 120.0

    @classmethod
    def parse(cls, template: str, timeout_s: float = 120.0) -> CaptionCommand:
        """Split ``template``; a :class:`UsageError` when it is empty, unbalanced, or names no clip."""
        try:
            argv = tuple(shlex.split(template))
        except ValueError as e:
            raise UsageError(
                f"--caption-command {template!r} does not parse ({e}); check its quotes."
            ) from None
        if not argv:
            raise UsageError("--caption-command is empty; name a program, e.g. 'my-captioner {clip}'.")
        if not any(p in a for a in argv for p in _PLACEHOLDERS):
            raise UsageError(
                f"--caption-command {template!r} names no {{clip}} (or {{src}}); put {{clip}} where the "
                "video's path goes, e.g. 'my-captioner --video {clip}'."
            )
        if any(p in argv[0] for p in _PLACEHOLDERS):
            raise UsageError("--caption-command must start with the program, not with {clip}.")
        if timeout_s <= 0:
            raise UsageError(f"--caption-timeout must be positive, not {timeout_s:g}.")
        return cls(argv, timeout_s)

    def run(self, clip: Path, src: Path) -> str:
        """The caption of ``clip`` (a prepared window of ``src``); :class:`CaptionFailed` otherwise."""
        argv = fill_template(self.argv, {"clip": os.fspath(clip), "src": os.fspath(src)})
        try:
            done = subprocess.run(  # an argv list, never a shell
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except FileNotFoundError:
            raise CaptionFailed(f"caption command {argv[0]!r} not found") from None
        except PermissionError:
            raise CaptionFailed(f"caption command {argv[0]!r} is not executable") from None
        except subprocess.TimeoutExpired:
            raise CaptionFailed(f"caption command timed out after {self.timeout_s:g} s") from None
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise CaptionFailed(f"caption command exited {done.returncode}: {tail[0][:200]}")
        if len(done.stdout) > _OUT_CAP:
            raise CaptionFailed(f"caption command printed over {_OUT_CAP >> 20} MiB")
        try:
            text = done.stdout.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise CaptionFailed("caption command printed text that is not UTF-8") from None
        if not text:
            raise CaptionFailed("caption command printed nothing")
        problem = text_problem(text)
        if problem:
            raise CaptionFailed(f"caption command printed {problem}")
        return text
