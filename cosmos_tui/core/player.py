"""Opening a file (a sample's mp4) in the user's own program: ``xdg-open`` on Linux and the BSDs,
``open`` on macOS, as an argv list (never a shell), detached from the terminal the TUI holds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.containment import resolved
from cosmos_tui.core.display import printable
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.shell import join as shell_join

OPENERS = ("open",) if sys.platform == "darwin" else ("xdg-open",)
"""The programs that open a file in its default application, in order of preference."""

Launcher = Callable[[Sequence[str]], None]
"""What runs an argv (the default starts it detached; tests pass a recorder)."""


@dataclass(frozen=True)
class Opened:
    """What :func:`open_file` did."""

    argv: tuple[str, ...] | None
    """The command started (``None``: no opener on this machine)."""
    message: str
    """One sentence for the user, naming the file and the command."""


def opener_argv(path: Path, which: Callable[[str], str | None] = shutil.which) -> list[str] | None:
    """``[opener, /resolved/path]`` for the first opener found on ``PATH``; ``None`` when none is."""
    for name in OPENERS:
        found = which(name)
        if found:
            return [found, str(resolved(path))]
    return None


def shown(argv: Sequence[str]) -> str:
    """``argv`` as a command line to paste (quoted; a control character is shown escaped)."""
    try:
        return shell_join(argv)
    except UserError:
        return printable(" ".join(argv))


def _detached(argv: Sequence[str]) -> None:
    subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def open_file(
    path: Path, *, launch: Launcher = _detached, which: Callable[[str], str | None] = shutil.which
) -> Opened:
    """Open ``path`` in the user's program; without an opener (or when it cannot start), say where
    the file is and which command would open it."""
    real = resolved(path)
    if not real.is_file():
        return Opened(None, f"{printable(str(real))} is not there any more; draw the samples again.")
    argv = opener_argv(real, which)
    if argv is None:
        return Opened(
            None,
            f"No {' or '.join(OPENERS)} on this machine; open it yourself: {shown([OPENERS[0], str(real)])}",
        )
    try:
        launch(argv)
    except OSError as e:
        return Opened(
            None, f"Could not start {argv[0]} ({e.strerror or e}); the file is {printable(str(real))}."
        )
    return Opened(tuple(argv), f"Opened {printable(str(real))} with {shown(argv)}")
