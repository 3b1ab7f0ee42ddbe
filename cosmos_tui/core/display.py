"""Untrusted text made safe to show: names from disk or from a user never drive the terminal.

A file name may hold a newline (and print a fake "valid" line), a carriage return (and overwrite
the line before it), an escape sequence (``\\x1b[2J`` clears the screen) or a bidirectional
override (and read backwards). :func:`printable` writes each such character as its escape
(``\\n``, ``\\x1b``, ``\\u202e``), so what is shown is what is on disk, one line per name. The
CLI (:func:`cosmos_tui.cli.common.shown`) and the TUI add Rich markup escaping on top.
"""

from __future__ import annotations

import re

UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
"""C0 and C1 controls, DEL, zero-width and direction marks, line/paragraph separators, the
bidirectional embeddings, overrides and isolates, and the byte-order mark."""


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` with every control, direction or invisible character written as its escape."""
    return UNPRINTABLE.sub(_escape, str(text))


def _escape_but_tab(match: re.Match[str]) -> str:
    return "\t" if match.group() == "\t" else _escape(match)


def printable_line(text: str) -> str:
    """One line of an engine's log made safe for a terminal: like :func:`printable`, every control
    (ESC, C1), direction override and invisible character written as its escape, except that a tab
    stays a tab (tracebacks and tables indent with it). Most lines hold none, and pay one C-level
    scan (``str.isprintable``)."""
    if text.isprintable():
        return text
    return UNPRINTABLE.sub(_escape_but_tab, text)


def markup_safe(text: object) -> str:
    """:func:`printable` and then Rich markup escaped: safe to put inside a Rich or Textual markup
    string (a path holding ``[/]`` or ``[bold]`` shows as itself instead of breaking the markup)."""
    from rich.markup import escape  # deferred: rich renderables, only when that output is printed

    return escape(printable(text))
