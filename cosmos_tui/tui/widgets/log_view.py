"""The run's console log: follow, level filter, search highlights, wrapping and a compact prefix
over a bounded buffer.

Lines arrive parsed (``core.monitor.logline.LogLine``) in batches from a worker that reads the
run monitor's ``LogTail``. The widget keeps the last ``capacity`` of them, contiguous and ending at
byte :attr:`LogView.end_offset` of the file (so a whole-file search hit maps to a buffered line).
Changing a filter, the wrapping or the prefix re-renders from that buffer. Rendering uses
Textual's ``Log`` widget (line-based, virtualised), so a flood of lines costs only what the screen
shows.

Following is this widget's own state (:attr:`follow`): while it is on, every batch and every
resize scrolls to the end. (``Log`` itself scrolls only when the view already sits at its end, and
a resize that shrinks the view leaves it above the end, so the log stopped moving while it still
claimed to follow.) Scrolling up by key, wheel or scrollbar turns following off; ``end`` or ``f``
turns it on again. A search hit outside the buffer is shown in a *context* of lines read from the
file around it, until following resumes.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

from rich.cells import chop_cells
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Log

from cosmos_tui.core.monitor.logline import LogLine, compact_text, matches, parse_line

LEVEL_CYCLE: tuple[str | None, ...] = (None, "INFO", "WARNING", "ERROR")
"""The minimum levels the filter key steps through (``None``: every line)."""

MATCH_STYLE = Style(color="black", bgcolor="yellow")
"""How a search match is drawn."""
CURRENT_STYLE = Style(bgcolor="grey30", bold=True)
"""How the line of the current match is drawn."""


class LogView(Log):
    """A capped, filterable, following, searchable log."""

    CAPACITY = 5000
    """Lines kept by default (older ones scroll out)."""

    def __init__(self, *, capacity: int = CAPACITY, **kwargs) -> None:
        super().__init__(max_lines=None, highlight=False, auto_scroll=False, **kwargs)
        self.capacity = capacity
        self.buffer: deque[LogLine] = deque(maxlen=capacity)
        self.received = 0
        """Lines ever added (buffer line ``i`` is line number ``received - len(buffer) + i``)."""
        self.end_offset: int | None = None
        """Byte offset in the file just after the newest buffered line (``None``: not known)."""
        self.query_text: str = ""
        self.min_level: str | None = None
        self.skipped = 0
        """Lines of bursts passed over (they arrived faster than the view takes them)."""
        self._follow = True
        self.wrap = False
        """Long lines continue on the next rows instead of running off the right edge."""
        self.compact = False
        """Show a short time/level/rank/module prefix instead of torchrun's and loguru's."""
        self.search: str = ""
        """The text whose matches are highlighted (case-insensitive)."""
        self._search_re: re.Pattern[str] | None = None
        self.context: tuple[LogLine, ...] | None = None
        """Lines read from the file around a match outside the buffer, shown instead of it."""
        self._current: int | None = None
        """Source index (into the buffer or the context) of the current match's line."""
        self._current_rows: range = range(0)
        self._row_counts: list[int] = []
        """Rows each buffered line takes on screen (0: filtered out), oldest first."""
        self._rendered_width = 0

    class FollowChanged(Message):
        """Following was turned on or off (by the person scrolling, a jump or ``f``)."""

    @property
    def follow(self) -> bool:
        """Whether new lines (and resizes) scroll the view to the end."""
        return self._follow

    @follow.setter
    def follow(self, on: bool) -> None:
        if on != self._follow:
            self._follow = on
            self.post_message(self.FollowChanged())

    # -- content -------------------------------------------------------------------------------

    def _keep(self, line: LogLine) -> bool:
        return matches(line, min_level=self.min_level, query=self.query_text or None)

    def _text(self, line: LogLine) -> str:
        return compact_text(line) if self.compact else line.text

    def _wrap_width(self) -> int:
        return max(10, self.scrollable_content_region.width or self.size.width or 80)

    def _rows(self, line: LogLine) -> list[str]:
        text = self._text(line)
        if not self.wrap or not text:
            return [text]
        return chop_cells(self._process_line(text), self._wrap_width()) or [""]

    @property
    def first_seq(self) -> int:
        """Line number of the oldest buffered line."""
        return self.received - len(self.buffer)

    def add_lines(self, lines: Iterable[LogLine], *, end_offset: int | None = None) -> None:
        """Append a batch (that ends at byte ``end_offset`` of the file); only the lines passing the
        filters are shown."""
        lines = list(lines)
        dropped = max(0, len(self.buffer) + len(lines) - self.capacity)
        self.buffer.extend(lines)
        self.received += len(lines)
        if end_offset is not None:
            self.end_offset = end_offset
        if self.context is not None:
            return  # drawn once the person goes back to the live log
        if len(lines) >= self.capacity:  # a burst replaced the whole buffer
            self._current = None
            self._render()
            self._scroll_if_following()
            return
        rows = self._new_rows(lines)
        dropped = min(dropped, len(self._row_counts))
        gone = sum(self._row_counts[:dropped])
        del self._row_counts[:dropped]
        if self._current is not None and dropped:
            self._current -= dropped
            if self._current < 0:
                self._current, self._current_rows = None, range(0)
            else:
                self._current_rows = range(self._current_rows.start - gone, self._current_rows.stop - gone)
        if gone:  # the lines that left the buffer leave the screen
            del self._lines[:gone]
            self._render_line_cache.clear()
            self.virtual_size = Size(self.virtual_size.width, len(self._lines))
            if not self.follow:
                self.scroll_to(y=max(0, self.scroll_y - gone), animate=False, immediate=True)
        if rows:  # (Log scrolls itself only when at the end: the explicit scroll below makes sure)
            self.write_lines(rows, scroll_end=self.follow)
        elif gone:
            self.refresh()
        self._scroll_if_following()

    def _new_rows(self, lines: list[LogLine]) -> list[str]:
        """The rows of a batch, their counts recorded (the common case, no filter, no wrapping and
        no short prefix, without Python per line beyond the list itself: the flood's path)."""
        counts = self._row_counts
        if not self.wrap and not self.compact:
            if self.min_level is None and not self.query_text:
                counts.extend([1] * len(lines))
                return [ln.text for ln in lines]
            kept = [self._keep(ln) for ln in lines]
            counts.extend(map(int, kept))
            return [ln.text for ln, k in zip(lines, kept, strict=True) if k]
        rows: list[str] = []
        for ln in lines:
            chunk = self._rows(ln) if self._keep(ln) else []
            rows.extend(chunk)
            counts.append(len(chunk))
        return rows

    def _render(self) -> None:
        """Draw the buffer (or the context) again with the current filters."""
        source = self.context if self.context is not None else self.buffer
        rows: list[str] = []
        counts: list[int] = []
        self._current_rows = range(0)
        for i, ln in enumerate(source):
            if not self._keep(ln) and i != self._current:
                counts.append(0)
                continue
            chunk = self._rows(ln)
            counts.append(len(chunk))
            if i == self._current:
                self._current_rows = range(len(rows), len(rows) + len(chunk))
            rows.extend(chunk)
        self._row_counts = counts if self.context is None else []
        self._rendered_width = self._wrap_width()
        self.clear()
        self.write_lines(rows, scroll_end=False)
        self._render_line_cache.clear()

    def _scroll_if_following(self) -> None:
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def set_filter(self, *, query: str | None = None, min_level: str | bool | None = False) -> None:
        """Change the filter text and/or minimum level and re-render from the buffer."""
        if query is not None:
            self.query_text = query
        if min_level is not False:
            self.min_level = min_level  # type: ignore[assignment]
        self._rerender_keeping_place()

    def cycle_level(self) -> str | None:
        """Step the minimum level (all → INFO → WARNING → ERROR → all); the new level."""
        i = LEVEL_CYCLE.index(self.min_level) if self.min_level in LEVEL_CYCLE else 0
        self.set_filter(min_level=LEVEL_CYCLE[(i + 1) % len(LEVEL_CYCLE)])
        return self.min_level

    def toggle_wrap(self) -> bool:
        """Wrap long lines or not; the new state."""
        self.wrap = not self.wrap
        self._rerender_keeping_place()
        return self.wrap

    def toggle_compact(self) -> bool:
        """Use the compact prefix or the lines as written; the new state."""
        self.compact = not self.compact
        self._rerender_keeping_place()
        return self.compact

    def _rerender_keeping_place(self) -> None:
        self._render()
        if self.follow:
            self._scroll_if_following()
        else:
            self._show_current()

    # -- following -----------------------------------------------------------------------------

    def set_follow(self, on: bool) -> None:
        """Follow the end of the live log (leaving any context), or stop following."""
        self.follow = on
        if on:
            self._current = None
            if self.context is not None:
                self.context = None
            self._render()
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def toggle_follow(self) -> bool:
        """Turn following on or off; the new state."""
        self.set_follow(not self.follow)
        return self.follow

    def on_resize(self, event: events.Resize) -> None:
        if self.wrap and self._wrap_width() != self._rendered_width:
            self._render()
            if not self.follow:
                self._show_current()
        if self.follow:
            self.call_after_refresh(self._scroll_if_following)

    def _user_scrolled_up(self) -> None:
        self.follow = False

    def action_scroll_up(self) -> None:
        self._user_scrolled_up()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self._user_scrolled_up()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self._user_scrolled_up()
        super().action_scroll_home()

    def action_scroll_end(self) -> None:
        self.set_follow(True)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._user_scrolled_up()
        super()._on_mouse_scroll_up(event)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self.is_vertical_scrollbar_grabbed and new < old:
            self._user_scrolled_up()

    # -- search --------------------------------------------------------------------------------

    def set_search(self, text: str) -> None:
        """Highlight every (case-insensitive) match of ``text``; empty clears the highlights."""
        self.search = text
        self._search_re = re.compile(re.escape(text), re.IGNORECASE) if text else None
        if not text:
            self._current = None
            self._current_rows = range(0)
        self._render_line_cache.clear()
        self.refresh()

    def jump_to(self, seq: int) -> bool:
        """Show buffered line number ``seq`` as the current match (following stops); ``False`` when
        it is no longer buffered."""
        index = seq - self.first_seq
        if not 0 <= index < len(self.buffer):
            return False
        self.follow = False
        self.context = None
        self._current = index
        self._render()
        self._show_current()
        return True

    def show_context(self, lines: Iterable[str], hit: int) -> None:
        """Show ``lines`` read from the file (not the buffer) with line ``hit`` as the current match
        (following stops; following again returns to the live log)."""
        self.follow = False
        self.context = tuple(parse_line(t) for t in lines)
        self._current = hit
        self._render()
        self._show_current()

    def _show_current(self) -> None:
        if not self._current_rows:
            return
        top = max(0, self._current_rows.start - max(1, self.size.height // 3))
        self.call_after_refresh(self.scroll_to, y=top, animate=False, immediate=True)
        self.scroll_to(y=top, animate=False, immediate=True)

    @property
    def current_text(self) -> str | None:
        """The current match's whole line (``None``: none)."""
        source = self.context if self.context is not None else self.buffer
        if self._current is None or not 0 <= self._current < len(source):
            return None
        return source[self._current].text

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        if self._search_re is None and not self._current_rows:
            return super()._render_line_strip(y, rich_style)
        line = self._process_line(self._lines[y])
        text = Text(line, no_wrap=True)
        text.stylize(rich_style)
        if y in self._current_rows:
            text.stylize(CURRENT_STYLE)
        if self._search_re is not None:
            for m in self._search_re.finditer(line):
                text.stylize(MATCH_STYLE, m.start(), m.end())
        return Strip(text.render(self.app.console), text.cell_len)
