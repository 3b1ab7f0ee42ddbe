"""The supervisor's watch: the monitor's watchdog, run headlessly beside one run.

Hours-long runs must not die or stall silently while no UI is open. The supervisor polls a
:class:`~cosmos_tui.core.monitor.runmonitor.RunMonitor` every few seconds, keeps the verdict in
``run.json`` (``health``: state, flags, last iteration) so ``runs list`` shows a stall or a NaN
loss, and hands events (finished, crashed, stalled, low disk, ...) to the user's notification
command from ``$COSMOS_TUI_HOME/config.toml`` (the terminal bell is the TUI's business: a
detached supervisor has no terminal).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.notify import Notifier
from cosmos_tui.core.monitor.runmonitor import RunMonitor
from cosmos_tui.core.notify_config import load_notify_config
from cosmos_tui.core.runs import registry
from cosmos_tui.core.runs.ownership import monitor_scope
from cosmos_tui.core.runs.record import RunRecord

WATCH_POLL_S = 5.0
"""Seconds between two looks at the run."""


class RunWatch:
    """Watches one run for its supervisor. Never raises: a broken watch is said once and stops."""

    def __init__(
        self, record: RunRecord, say: Callable[[str], None], *, poll_s: float = WATCH_POLL_S
    ) -> None:
        self.run_dir = record.run_dir
        self.say = say
        self.poll_s = poll_s
        self._next = 0.0
        self._written: dict[str, Any] | None = None
        notifier = None
        try:
            config = load_notify_config()
            if config.command:
                notifier = Notifier(dataclasses.replace(config, bell=False))
        except UserError as e:
            say(f"notifications off: {e}")
        self.notifier = notifier
        self.monitor: RunMonitor | None = RunMonitor(
            **monitor_scope(record),
            log_start="begin",
            log_buffer_lines=64,
            view_lines=0,
            notifier=notifier,
        )

    def tick(self, exit_code: int | None = None, *, force: bool = False, stopped: bool = False) -> None:
        """Look at the run when it is time (always with ``force``, as at its end; ``stopped``: it
        ended because someone asked it to)."""
        now = time.monotonic()
        if self.monitor is None or (not force and now < self._next):
            return
        self._next = now + self.poll_s
        try:
            snap = self.monitor.poll(exit_code, stopped=stopped)
            health = {
                "state": snap.health.state,
                "flags": list(snap.health.flags),
                "iteration": snap.progress.iteration,
                "stalled_for_s": snap.health.stalled_for_s,
            }
            for event in snap.events:
                self.say(f"watch: {event.kind}: {event.message}")
            if health != self._written:
                self._written = health
                registry.update(self.run_dir, lambda r: r.replace(health=health))
        except Exception as e:  # the watch must never take the run down with it
            self.say(f"watch stopped: {e!r}")
            self.monitor = None

    def close(self, timeout: float = 15.0) -> None:
        """Let notification commands still running finish (bounded), and log how they went."""
        if self.notifier is None:
            return
        self.notifier.join(timeout)
        for d in self.notifier.deliveries:
            if d.returncode != 0:
                self.say(f"notification command for {d.event.kind} failed: {d.error or d.returncode}")
