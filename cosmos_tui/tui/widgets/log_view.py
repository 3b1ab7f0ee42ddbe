"""The run's console log: follow, search and level filter over a bounded buffer.

Lines arrive parsed (``core.monitor.logline.LogLine``) in batches from a worker that reads the
run monitor's ``LogTail``. The widget keeps
the last ``capacity`` of them; changing a filter re-renders from that buffer. Rendering uses
Textual's ``Log`` widget (line-based, virtualised, capped), so a flood of lines costs only what
the screen shows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from textual.widgets import Log

from cosmos_tui.core.monitor.logline import LogLine, matches

LEVEL_CYCLE: tuple[str | None, ...] = (None, "INFO", "WARNING", "ERROR")
"""The minimum levels the filter key steps through (``None``: every line)."""


class LogView(Log):
    """A capped, filterable, following log."""

    CAPACITY = 5000
    """Lines kept by default (older ones scroll out)."""

    def __init__(self, *, capacity: int = CAPACITY, **kwargs) -> None:
        super().__init__(max_lines=capacity, highlight=False, auto_scroll=True, **kwargs)
        self.buffer: deque[LogLine] = deque(maxlen=capacity)
        self.query_text: str = ""
        self.min_level: str | None = None
        self.skipped = 0
        """Lines of bursts passed over (they arrived faster than the view takes them)."""

    @property
    def follow(self) -> bool:
        """Whether new lines scroll the view to the end."""
        return self.auto_scroll

    def _keep(self, line: LogLine) -> bool:
        return matches(line, min_level=self.min_level, query=self.query_text or None)

    def add_lines(self, lines: Iterable[LogLine]) -> None:
        """Append a batch; only the lines passing the filters are shown."""
        lines = list(lines)
        self.buffer.extend(lines)
        shown = [ln.text for ln in lines[-self.buffer.maxlen :] if self._keep(ln)]  # type: ignore[operator]
        if shown:
            self.write_lines(shown, scroll_end=self.auto_scroll)

    def set_filter(self, *, query: str | None = None, min_level: str | bool | None = False) -> None:
        """Change the search text and/or minimum level and re-render from the buffer."""
        if query is not None:
            self.query_text = query
        if min_level is not False:
            self.min_level = min_level  # type: ignore[assignment]
        self.clear()
        self.write_lines([ln.text for ln in self.buffer if self._keep(ln)], scroll_end=True)

    def cycle_level(self) -> str | None:
        """Step the minimum level (all → INFO → WARNING → ERROR → all); the new level."""
        i = LEVEL_CYCLE.index(self.min_level) if self.min_level in LEVEL_CYCLE else 0
        self.set_filter(min_level=LEVEL_CYCLE[(i + 1) % len(LEVEL_CYCLE)])
        return self.min_level

    def toggle_follow(self) -> bool:
        """Turn following on or off; the new state."""
        self.auto_scroll = not self.auto_scroll
        if self.auto_scroll:
            self.scroll_end(animate=False)
        return self.auto_scroll
