"""How a person names a record: its whole id, a unique prefix, a unique part of it, or
``latest``; one rule for runs, samples jobs, queue entries and sweeps."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from cosmos_tui.core.errors import UserError


def match_id(
    ref: str,
    ids: Sequence[str],
    *,
    what: str,
    plural: str | None = None,
    listing: str,
    none_yet: str = "",
    latest: bool = True,
) -> str:
    """The id in ``ids`` (oldest first) that ``ref`` names: itself, ``latest``/``last`` (the newest,
    when ``latest``), the one id starting with it, else the one id holding it. Otherwise a
    :class:`UserError` naming the ids it matches, the close ones, or ``listing`` (the command that
    lists them); ``none_yet`` says how to make the first one."""
    plural = plural or f"{what}s"
    if latest and ref in ("latest", "last") and ids:
        return ids[-1]
    if ref in ids:
        return ref
    matches = [i for i in ids if i.startswith(ref)] or [i for i in ids if ref in i]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
        raise UserError(f"'{ref}' matches {len(matches)} {plural} ({shown}); give more of the id")
    if not ids:
        raise UserError(f"no {what} '{ref}': no {plural} yet" + (f"; {none_yet}" if none_yet else ""))
    close = difflib.get_close_matches(ref, ids, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; `{listing}` shows them"
    raise UserError(f"no {what} '{ref}'{hint}")
