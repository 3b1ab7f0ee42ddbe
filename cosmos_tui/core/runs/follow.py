"""Following a run's ``console.log`` until the run ends (``runs logs -f``, ``run`` without
``--detach``). The file may not exist yet when following starts, and may be long: it is read a
capped chunk at a time through :func:`cosmos_tui.core.monitor.logtail.read_from`."""

from __future__ import annotations

import time
from collections.abc import Iterator

from cosmos_tui.core.monitor.logtail import read_from
from cosmos_tui.core.runs import registry
from cosmos_tui.core.runs.lifecycle import reconcile
from cosmos_tui.core.runs.record import RunRecord

POLL_S = 0.2
"""Sleep between reads when nothing new arrived."""
STATUS_EVERY_S = 1.0
"""How often the record is re-read (and reconciled) to see whether the run ended."""
CHUNK = 1 << 20


def follow(
    record: RunRecord, from_offset: int = 0, *, poll: float = POLL_S, idle_timeout: float | None = None
) -> Iterator[str]:
    """Yield each new line of the run's console log (without its newline) until the run has
    ended and the log is drained. ``idle_timeout`` stops after that many seconds without output
    (``None``: wait as long as the run is active)."""
    path = record.console_log
    pos = max(0, from_offset)
    pending = b""
    last_status = 0.0
    last_output = time.monotonic()
    ended = not reconcile(registry.read(record.run_dir)).active
    while True:
        data, start = read_from(path, pos, max_bytes=CHUNK)
        if start < pos:  # truncated or replaced: start again
            pos, pending = 0, b""
        if data:
            pos += len(data)
            last_output = time.monotonic()
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace").rstrip("\r")
            continue
        if ended:
            if pending:
                yield pending.decode("utf-8", "replace")
            return
        now = time.monotonic()
        if idle_timeout is not None and now - last_output > idle_timeout:
            return
        if now - last_status >= STATUS_EVERY_S:
            last_status = now
            # One more read after the run is seen to end, so the last lines are not missed.
            ended = not reconcile(registry.read(record.run_dir)).active
            if ended:
                continue
        time.sleep(poll)
