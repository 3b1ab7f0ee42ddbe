"""Waiting for a terminal to show something: one poll loop for the tmux pane and the browser's
xterm.js terminal."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for_screen(
    read: Callable[[], str], want: str | Callable[[str], bool], timeout: float, who: str
) -> str:
    """``read()`` once it shows ``want`` (a text, or a test of the screen); after ``timeout``
    seconds, fails saying ``who`` never showed it, with the last screen."""
    test = want if callable(want) else (lambda screen: want in screen)
    deadline = time.monotonic() + timeout
    while True:
        screen = read()
        if test(screen):
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{who} never showed {want!r}; it shows:\n{screen}")
        time.sleep(0.2)
