"""Telling a person: a terminal bell and/or a webhook *command* the user configured.

The command is an argv list (never a shell string) run with the event as JSON on stdin, in a
background thread with a timeout, so a slow webhook never stalls the poller. Its environment is
the caller's; nothing secret is added to argv.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.watchdog import MonitorEvent

DEFAULT_EVENTS = frozenset({"finished", "stopped", "crashed", "stalled", "low_disk"})


@dataclass(frozen=True)
class NotifyConfig:
    """Which events to announce, and how."""

    bell: bool = False
    """Ring the terminal bell."""
    command: tuple[str, ...] | None = None
    """A program and its arguments, run with the event JSON on stdin."""
    events: frozenset[str] = DEFAULT_EVENTS
    """Event kinds to announce (see :class:`~cosmos_tui.core.monitor.watchdog.MonitorEvent`)."""
    timeout_s: float = 10.0
    """How long the command may run."""

    @classmethod
    def build(cls, *, bell: bool = False, command: Sequence[str] | str | None = None, **kw) -> NotifyConfig:
        """Validate user input: the command must be a list of arguments."""
        if isinstance(command, str):
            raise UserError(
                "The notification command must be a list of arguments such as "
                "['curl', '-d', '@-', 'https://...'], not a shell string."
            )
        if command is not None and (not command or not all(isinstance(a, str) and a for a in command)):
            raise UserError("The notification command must be a non-empty list of non-empty strings.")
        return cls(bell=bell, command=None if command is None else tuple(command), **kw)


@dataclass(frozen=True)
class Delivery:
    """What happened to one command notification."""

    event: MonitorEvent
    returncode: int | None
    error: str | None


class Notifier:
    """Announces events per its config; deliveries of the command are kept for inspection."""

    def __init__(self, config: NotifyConfig, *, stream: TextIO | None = None) -> None:
        self.config = config
        self._stream = stream
        self._threads: list[threading.Thread] = []
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def notify(self, events: Sequence[MonitorEvent]) -> None:
        """Announce the events the config selects."""
        for ev in events:
            if ev.kind not in self.config.events:
                continue
            if self.config.bell:
                stream = self._stream or sys.stderr
                stream.write("\a")
                stream.flush()
            if self.config.command:
                t = threading.Thread(target=self._run, args=(ev,), name="cosmos-tui-notify", daemon=True)
                t.start()
                self._threads.append(t)

    def _run(self, ev: MonitorEvent) -> None:
        assert self.config.command is not None
        try:
            done = subprocess.run(
                list(self.config.command),
                input=json.dumps(ev.to_json()).encode(),
                capture_output=True,
                timeout=self.config.timeout_s,
                check=False,
            )
            delivery = Delivery(
                ev, done.returncode, None if done.returncode == 0 else done.stderr.decode()[-500:]
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            delivery = Delivery(ev, None, str(e))
        with self._lock:
            self.deliveries.append(delivery)

    def join(self, timeout: float | None = None) -> None:
        """Wait for command deliveries in flight."""
        for t in self._threads:
            t.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
