"""The dashboard's log panel actions: follow, whole-file search with n / N between matches, the
first error, wrapping, the short prefix, and the panel's subtitle that says which are on.

A mixin of :class:`~cosmos_tui.tui.screens.dashboard.DashboardScreen` (which holds the keys). The
searches run in thread workers through the backend (core's ``logsearch`` and ``logjump``); a match
still in the panel's buffer is scrolled to, an older one is shown in its context read from the
file.
"""

from __future__ import annotations

from textual import work
from textual.widgets import Input

from cosmos_tui.core.display import markup_safe
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui.backend import LogHit, LogSearch
from cosmos_tui.tui.messages import FirstErrorFound, LogContextLoaded, LogSearched
from cosmos_tui.tui.widgets.log_view import LogView


class LogPanelActions:
    """The log panel's actions and their workers (mixed into the dashboard screen)."""

    run_id: str
    _search: LogSearch | None = None
    """The last whole-log search (``None``: none, or cleared)."""
    _match: int | None = None
    """Index in ``_search.hits`` of the match shown."""

    def _log_subtitle(self) -> None:
        log = self.query_one(LogView)
        parts = []
        if log.min_level:
            parts.append(f"level ≥ {log.min_level}")
        if self._search is not None:
            s = self._search
            where = (
                f"match {self._match + 1}/{s.count:,}" if self._match is not None else f"{s.count:,} matches"
            )
            more = f" (first {len(s.hits):,} kept)" if s.truncated else ""
            parts.append(f"“{s.query}”: {where}{more}" if s.count else f"“{s.query}”: no match")
        if log.context is not None:
            parts.append("from the file · f live")
        elif not log.follow:
            parts.append("paused · f follow")
        if log.wrap:
            parts.append("wrap")
        if log.compact:
            parts.append("short prefix")
        if log.skipped:
            parts.append(f"skipped {log.skipped:,} lines of a burst")
        log.border_subtitle = markup_safe(" · ".join(parts))

    def on_log_view_follow_changed(self, message: LogView.FollowChanged) -> None:
        self._log_subtitle()

    def action_follow(self) -> None:
        on_ = self.query_one(LogView).toggle_follow()
        self._log_subtitle()
        self.notify("Following the log." if on_ else "Stopped following; f to follow again.")

    def action_wrap(self) -> None:
        self.query_one(LogView).toggle_wrap()
        self._log_subtitle()

    def action_compact(self) -> None:
        self.query_one(LogView).toggle_compact()
        self._log_subtitle()

    def action_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "log-search":
            return
        event.stop()
        query = event.value
        # The box goes away (the subtitle names the query), so no later key looks like typing in it.
        event.input.display = False
        log = self.query_one(LogView)
        log.focus()
        if not query.strip():
            self._clear_search()
            return
        self.search_log(query, log.end_offset, len(log.buffer), log.first_seq)

    def _clear_search(self) -> None:
        self._search, self._match = None, None
        self.query_one(LogView).set_search("")
        self._log_subtitle()

    def on_log_searched(self, message: LogSearched) -> None:
        if message.error or message.search is None:
            self.notify(markup_safe(message.error), severity="error")
            return
        self._search, self._match = message.search, None
        self.query_one(LogView).set_search(message.search.query)
        if message.search.hits:
            self._goto_match(0)
        self._log_subtitle()

    def action_match(self, step: int) -> None:
        """``n`` / ``N``: the next or previous match of the search (wrapping around)."""
        if self._search is None:
            self.notify("Nothing searched yet; press / to search the whole log.")
            return
        if not self._search.hits:
            self.notify(markup_safe(f"No line holds “{self._search.query}”."))
            return
        here = -1 if self._match is None and step > 0 else (self._match or 0)
        self._goto_match((here + step) % len(self._search.hits))

    def _goto_match(self, index: int) -> None:
        assert self._search is not None
        self._match = index
        self._show_hit(self._search.hits[index])
        self._log_subtitle()

    def _show_hit(self, hit: LogHit) -> None:
        log = self.query_one(LogView)
        if hit.seq is not None and log.jump_to(hit.seq):
            self._log_subtitle()
            return
        self.load_context(hit.offset)

    def on_log_context_loaded(self, message: LogContextLoaded) -> None:
        if message.error or message.context is None:
            self.notify(markup_safe(message.error), severity="error")
            return
        self.query_one(LogView).show_context(message.context.lines, message.context.hit)
        self._log_subtitle()

    def action_first_error(self) -> None:
        log = self.query_one(LogView)
        self.find_first_error(log.end_offset, len(log.buffer), log.first_seq)

    def on_first_error_found(self, message: FirstErrorFound) -> None:
        if message.error:
            self.notify(markup_safe(message.error), severity="error")
        elif message.hit is None:
            self.notify("No error in the log: no traceback, ERROR line or exception.")
        else:
            self._show_hit(message.hit)

    def action_level(self) -> None:
        self.query_one(LogView).cycle_level()
        self._log_subtitle()

    @work(thread=True, exclusive=True, group="dash-search", name="log search")
    def search_log(self, query: str, end_offset: int | None, buffered: int, first_seq: int) -> None:
        """Search the whole console.log (core's logsearch), placing each hit in the view's buffer."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            found = backend.search_log(
                self.run_id, query, end_offset=end_offset, buffered=buffered, first_seq=first_seq
            )
            self.post_message(LogSearched(found))
        except UserError as e:
            self.post_message(LogSearched(error=str(e)))

    @work(thread=True, exclusive=True, group="dash-context", name="log context")
    def load_context(self, offset: int) -> None:
        """Read the lines around a match that is no longer (or not yet) in the view's buffer."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            self.post_message(LogContextLoaded(backend.log_context(self.run_id, offset)))
        except UserError as e:
            self.post_message(LogContextLoaded(error=str(e)))

    @work(thread=True, exclusive=True, group="dash-search", name="first error")
    def find_first_error(self, end_offset: int | None, buffered: int, first_seq: int) -> None:
        """Find the log's first error line by the log grammar."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            hit = backend.first_error(
                self.run_id, end_offset=end_offset, buffered=buffered, first_seq=first_seq
            )
            self.post_message(FirstErrorFound(hit))
        except UserError as e:
            self.post_message(FirstErrorFound(error=str(e)))
