"""The polling loop every thread worker runs: produce a snapshot, post it, wait, repeat.

Pollers run in ``@work(thread=True)`` workers and stop when the worker is cancelled (the screen
goes away). A failed read posts nothing and is retried at the next tick; ``on_error`` may turn it
into a message. ``wake`` makes the next tick happen now (a refresh key, an action that finished).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from textual.message import Message
from textual.worker import get_current_worker

CANCEL_CHECK_S = 0.05
"""How often a waiting poller looks whether it was cancelled (so the app exits at once)."""


def poll(
    produce: Callable[[], Message | None],
    post: Callable[[Message], object],
    interval: float,
    *,
    wake: threading.Event | None = None,
    on_error: Callable[[Exception], Message | None] | None = None,
) -> None:
    """Call ``produce`` every ``interval`` seconds and post what it returns, until cancelled."""
    worker = get_current_worker()
    wake = wake or threading.Event()
    while not worker.is_cancelled:
        try:
            message = produce()
        except Exception as e:  # a bad read must not kill the poller; the UI shows why
            message = on_error(e) if on_error else None
        if message is not None and not worker.is_cancelled:
            post(message)
        deadline = time.monotonic() + interval
        while not worker.is_cancelled and not wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wake.wait(min(left, CANCEL_CHECK_S))
        wake.clear()
