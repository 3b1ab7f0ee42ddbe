"""Errors that are the user's to fix.

A :class:`UserError` carries one sentence that says what is wrong and what to do. The CLI prints
it without a traceback and exits with its code; the TUI shows it in a notification. Anything
else that escapes is a bug in cosmos-tui and keeps its traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BAD = 1  # the thing checked is bad, or the run failed
EXIT_USAGE = 2  # the command was used wrongly


class UserError(Exception):
    """A mistake the user can fix: bad input, missing file, refused action."""

    exit_code: int = EXIT_BAD

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(UserError):
    """The command was called wrongly (exit code 2)."""

    exit_code = EXIT_USAGE
