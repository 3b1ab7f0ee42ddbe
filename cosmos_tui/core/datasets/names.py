"""How a loader turns a video's file name into the names of the files that go with it.

The loaders do not strip one extension: Transfer2.5 single-view and Predict2.5 take
``basename.replace(".mp4", "")`` as the clip name, so ``x.mp4.y.mp4`` has its caption at
``captions/x.y.json`` and its depth at ``depth/x.y.mp4``; Predict1 opens
``t5_xxl/<view>/`` + ``basename.replace(".mp4", ".pkl")``, so the same video's embedding is
``x.pkl.y.pkl``. The HDMap loader builds ``<name>.mp4`` from caption stems, so its names are plain
stems. The validator pairs files by these rules, so it expects what the loader opens.
"""

from __future__ import annotations

from typing import Literal

NameRule = Literal["stem", "remove-mp4", "mp4-to-ext"]

RULE_TEXT: dict[NameRule, str] = {
    "stem": "drops the last '.mp4'",
    "remove-mp4": "removes every '.mp4' in the name",
    "mp4-to-ext": "replaces every '.mp4' in the name with the companion's extension",
}


def companion_stem(clip: str, ext: str, rule: NameRule) -> str:
    """The stem of the file with extension ``ext`` that the loader opens for video ``<clip>.mp4``."""
    if rule == "remove-mp4":
        return clip.replace(".mp4", "")
    if rule == "mp4-to-ext":
        return clip.replace(".mp4", ext)
    return clip
