"""What SRC gives a prepare job: videos (hidden names skipped), captions by precedence, and one
sentence for a damaged captions file."""

from __future__ import annotations

from pathlib import Path

import pytest
from prepare_helpers import HOSTILE

from cosmos_tui.core.datasets.prepare.sources import gather, slug_of
from cosmos_tui.core.errors import UserError


def test_walk_and_caption_precedence(raw_src: Path, captions_jsonl: Path):
    src = gather(raw_src.resolve(), captions_jsonl)
    by_rel = {c.rel: c for c in src.clips}
    assert sorted(by_rel) == sorted(
        [
            "corrupt.mp4",
            "cut.mp4",
            "long.mp4",
            "nocap.mp4",
            "short.mp4",
            "square.mp4",
            "sub/fast.mov",
            HOSTILE,
        ]
    )
    assert by_rel["long.mp4"].caption.origin == "txt"
    assert by_rel["sub/fast.mov"].caption.origin == "file"
    assert by_rel[HOSTILE].caption.prompts() == {"long": "An odd name.", "short": "Odd."}
    assert by_rel["nocap.mp4"].caption is None
    assert [rel for rel, _ in src.skipped] == ["._long.mp4"]


def test_slugs_are_safe():
    assert slug_of("a/b c/..x.mp4.mp4") == "a__b-c__x-mp4"
    assert slug_of("--.mp4") == "clip"
    assert slug_of("-rf.mov") == "rf"


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("c.jsonl", '{"path": "long.mp4"}\n', 'needs "path"'),
        ("c.jsonl", "not json\n", "is not JSON"),
        ("c.csv", "/etc/passwd,x\n", "outside SRC"),
        ("c.csv", "long.mp4,bad\x1b[31m\n", "control character"),
        ("c.txt", "long.mp4,x\n", "name a .csv"),
    ],
)
def test_damaged_captions_file_is_one_sentence(raw_src: Path, tmp_path: Path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError, match=match):
        gather(raw_src.resolve(), path)


def test_caption_beside_with_control_characters_drops_only_that_clip(raw_src: Path):
    (raw_src / "long.txt").write_bytes(b"\x00\x01binary")
    clips = {c.rel: c for c in gather(raw_src.resolve()).clips}
    assert clips["long.mp4"].caption is None and "control character" in clips["long.mp4"].caption_problem
    assert clips["cut.mp4"].caption is not None
