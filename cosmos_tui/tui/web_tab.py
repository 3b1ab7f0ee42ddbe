"""The app process of one browser tab (``python -m cosmos_tui.tui.web_tab``, started by
``cosmos-tui web``): the TUI on Textual's web driver, whose stdin and stdout are the server's
pipes, not a terminal (so the CLI's "needs a terminal" check does not apply).

It ends itself when the server that started it is gone: a server killed with SIGKILL cannot stop
its app processes, and Textual's web driver does not exit when its input ends. A thread watches
the parent; once it changes, the app gets SIGTERM (the web driver quits the app on it) and, if it
is still there after a grace time, exits. Runs it started go on: they have their own sessions.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from cosmos_tui.tui.app import run_app

POLL_S = 1.0
"""How often the parent is checked."""
GRACE_S = 5.0
"""How long the app has to quit on SIGTERM before the process exits anyway."""


def watch_parent(parent: int, *, poll_s: float = POLL_S, grace_s: float = GRACE_S) -> None:
    """Block until ``parent`` is no longer this process's parent, then end this process."""
    while os.getppid() == parent:
        time.sleep(poll_s)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace_s)
    os._exit(1)


def main() -> None:
    threading.Thread(target=watch_parent, args=(os.getppid(),), name="web parent watch", daemon=True).start()
    run_app()


if __name__ == "__main__":
    main()
