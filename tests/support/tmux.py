"""A real terminal for TUI tests: the app runs in a detached tmux session on its own server
socket; tests type with ``send-keys`` and read the screen with ``capture-pane``."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from support.screens import wait_for_screen


class Tmux:
    """One tmux server (socket under ``workdir``) holding one window."""

    def __init__(self, workdir: Path, *, width: int = 120, height: int = 36) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed (.ci/run installs it)")
        self.socket = workdir / "tmux.sock"
        self.width, self.height = width, height
        self.started = False

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, check=check, timeout=30
        )

    def start(self, argv: list[str], env: Mapping[str, str]) -> None:
        """Run ``argv`` in the window with exactly ``env`` (not the test process's environment,
        whose COLUMNS or TMUX would leak in); the window stays after it exits, to read what it left."""
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        command = f"env -i {exports} {shlex.join(argv)}; echo '[exited '$?']'; sleep 600"
        if not self.started:
            self._tmux(
                "-f", "/dev/null", "new-session", "-d", "-s", "t",
                "-x", str(self.width), "-y", str(self.height), command,
            )  # fmt: skip
            self._tmux("set-option", "-g", "window-size", "manual")
            self.started = True
        else:
            self._tmux("respawn-pane", "-k", "-t", "t", command)

    def send(self, *keys: str, literal: bool = False) -> None:
        """Keys as tmux names them (``Enter``, ``C-Right``, ``Tab``) or, ``literal``, text to type."""
        self._tmux("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def type(self, text: str) -> None:
        """Type ``text`` as keystrokes."""
        self.send(text, literal=True)

    def screen(self) -> str:
        """What the terminal shows now, a line per row."""
        return self._tmux("capture-pane", "-p", "-t", "t").stdout

    def wait_for(self, want: str | Callable[[str], bool], timeout: float = 30.0) -> str:
        """The screen once it shows ``want`` (a text, or a test of the screen); fails with the
        last screen after ``timeout`` seconds."""
        return wait_for_screen(self.screen, want, timeout, "the terminal")

    def resize(self, width: int, height: int) -> None:
        """Resize the window (the app gets SIGWINCH, as when a person resizes the terminal)."""
        self._tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))
        self.width, self.height = width, height

    def close(self) -> None:
        """Stop the server and everything in it."""
        if self.started:
            self._tmux("kill-server", check=False)
