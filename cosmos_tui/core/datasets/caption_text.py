"""Is a caption text? The loaders hand it to the text encoder as it is, so every character counts.

A caption made of NUL bytes, or one holding escape codes or other control characters (a binary file
saved as .txt, a mangled export), decodes fine and is not blank, yet it trains the model on garbage
tokens. Tabs and line breaks are ordinary text.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

_ALLOWED_CONTROLS = frozenset("\t\n\r")
_BAD_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters; lone surrogates (from JSON escapes)


def text_problem(text: str) -> str | None:
    """What makes ``text`` unfit as a caption (control characters), or None when it is text."""
    bad = Counter(
        ch for ch in text if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in _BAD_CATEGORIES
    )
    if not bad:
        return None
    n = sum(bad.values())
    kinds = ", ".join(f"U+{ord(ch):04X} x{k}" for ch, k in bad.most_common(3))
    more = ", ..." if len(bad) > 3 else ""
    return f"{n} control character(s) of {len(text)} ({kinds}{more})"


def decode_problem(error: UnicodeDecodeError) -> str:
    """Where a caption stops being UTF-8, for people."""
    return f"not UTF-8 (byte 0x{error.object[error.start]:02x} at offset {error.start})"
