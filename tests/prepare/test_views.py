"""Multiview grouping by a naming rule or a mapping file, and frame alignment over real mp4 files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from extras_support import make_clip

from cosmos_tui.core.datasets.layouts import HDMAP_CAMERAS, P1_VIEWS
from cosmos_tui.core.datasets.prepare import views as mv
from cosmos_tui.core.errors import UsageError

VIEWS = P1_VIEWS[:3]  # pinhole_front, pinhole_front_left, pinhole_front_right


def _touch(src: Path, *rels: str) -> list[Path]:
    out = []
    for rel in rels:
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
        out.append(p)
    return out


def test_flat_rule_splits_clip_and_view_even_when_views_share_prefixes(tmp_path: Path) -> None:
    files = _touch(
        tmp_path,
        *[f"run_a_1_{v}.mp4" for v in VIEWS],
        *[f"b_{v}.mp4" for v in VIEWS],
    )
    g = mv.group_views(files, VIEWS, src=tmp_path, rule="{clip}_{view}.mp4")
    assert list(g.groups) == ["b", "run_a_1"]
    assert g.groups["run_a_1"] == {v: tmp_path / f"run_a_1_{v}.mp4" for v in VIEWS}
    assert list(g.groups["b"]) == list(VIEWS) and g.dropped == []


def test_folder_rule_with_view_folders_and_wildcard(tmp_path: Path) -> None:
    cams = HDMAP_CAMERAS[:2]
    files = _touch(tmp_path, *[f"ftheta_{c}/s1_take3.mp4" for c in cams], "notes/readme.mp4")
    g = mv.group_views(files, cams, src=tmp_path, rule="ftheta_{view}/{clip}_take*.mp4")
    assert list(g.groups) == ["s1"]
    assert g.dropped == [("notes/readme.mp4", "does not match the view rule")]


def test_incomplete_unknown_view_and_duplicates_are_reported(tmp_path: Path) -> None:
    files = _touch(
        tmp_path,
        "pinhole_front/c1.mp4",
        "pinhole_front_left/c1.mp4",  # c1 lacks pinhole_front_right
        "pinhole_frnt/c2.mp4",  # a typo of a view name
        *[f"{v}/c3.mp4" for v in VIEWS],
    )
    g = mv.group_views(files, VIEWS, src=tmp_path, rule="{view}/{clip}.mp4")
    assert list(g.groups) == ["c3"]
    reasons = dict(g.dropped)
    assert reasons["c1"] == "missing view(s) pinhole_front_right"
    assert reasons["pinhole_frnt/c2.mp4"] == "unknown view 'pinhole_frnt' (did you mean 'pinhole_front'?)"


def test_two_files_for_one_view_drop_the_clip(tmp_path: Path) -> None:
    files = _touch(tmp_path, *[f"{v}/c.mp4" for v in VIEWS], "pinhole_front/c.MP4.mp4")
    g = mv.group_views(files, VIEWS, src=tmp_path, rule="{view}/{clip}*.mp4")
    assert g.groups == {}
    assert g.dropped == [
        ("c", "two files for view 'pinhole_front': pinhole_front/c.MP4.mp4, pinhole_front/c.mp4")
    ]


def test_hostile_file_names_are_dropped_not_grouped(tmp_path: Path) -> None:
    files = _touch(tmp_path, *[f"{v}/ev\nil.mp4" for v in VIEWS], *[f"{v}/.hidden.mp4" for v in VIEWS])
    g = mv.group_views([*files, tmp_path.parent / "x.mp4"], VIEWS, src=tmp_path, rule="{view}/{clip}.mp4")
    assert g.groups == {}
    reasons = [r for _, r in g.dropped]
    assert sum("newline" in r for r in reasons) == 3 and sum("starts with '.'" in r for r in reasons) == 3
    assert (str(tmp_path.parent / "x.mp4"), "lies outside SRC") in g.dropped


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{clip}.mp4", "must name both"),
        ("{clip}_{cam}.mp4", "may name only"),
        ("/abs/{view}/{clip}.mp4", "relative pattern"),
        ("../{view}/{clip}.mp4", "must not hold '..'"),
    ],
)
def test_bad_rules_are_usage_errors(tmp_path: Path, rule: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        mv.group_views([], VIEWS, src=tmp_path, rule=rule)


def test_rule_or_mapping_exactly_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="either a view rule or a view mapping"):
        mv.group_views([], VIEWS, src=tmp_path)


def test_csv_mapping(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _touch(src, "raw/a0.mp4", "raw/a1.mp4", "raw/a2.mp4", "raw/b0.mp4", "raw/b1.mp4")
    rows = ["view,clip,path"]  # any column order
    rows += [f"{v},a,raw/a{i}.mp4" for i, v in enumerate(VIEWS)]
    rows += [f"{VIEWS[0]},b,raw/b0.mp4", f"{VIEWS[1]},b,raw/b1.mp4", f"{VIEWS[2]},b,raw/missing.mp4", ""]
    (tmp_path / "map.csv").write_text("\n".join(rows))
    g = mv.group_views(None, VIEWS, src=src, mapping=tmp_path / "map.csv")
    assert g.groups == {"a": {v: src / f"raw/a{i}.mp4" for i, v in enumerate(VIEWS)}}
    assert g.dropped == [("b", "the file for view 'pinhole_front_right' (raw/missing.mp4) is not there")]


def test_json_mappings_and_the_same_file_for_two_views(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _touch(src, "x.mp4", "y.mp4", "z.mp4")
    nested = {"c": {VIEWS[0]: "x.mp4", VIEWS[1]: "y.mp4", VIEWS[2]: str(src / "z.mp4")}}
    (tmp_path / "m.json").write_text(json.dumps(nested))
    g = mv.group_views(None, VIEWS, src=src, mapping=tmp_path / "m.json")
    assert g.groups == {"c": {VIEWS[0]: src / "x.mp4", VIEWS[1]: src / "y.mp4", VIEWS[2]: src / "z.mp4"}}
    flat = [{"clip": "d", "view": v, "path": "x.mp4"} for v in VIEWS]  # one file for every view
    flat.append({"clip": "e", "view": "pinhole_front_lft", "path": "y.mp4"})
    (tmp_path / "l.json").write_text(json.dumps(flat))
    g = mv.group_views(None, VIEWS, src=src, mapping=tmp_path / "l.json")
    assert g.groups == {}
    reasons = dict(g.dropped)
    assert reasons["d"].startswith("the same file x.mp4 is given for d/pinhole_front, d/pinhole_front_left")
    assert reasons["e"] == "unknown view 'pinhole_front_lft' (did you mean 'pinhole_front_left'?)"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("c,pinhole_front,../outside.mp4", "holds '..'"),
        ("c,pinhole_front,/etc/passwd", "is outside SRC"),
        ("../c,pinhole_front,x.mp4", "clip id '../c' holds a path"),
        ('c,pinhole_front,"x\nevil.mp4"', "newline or control character"),
        ("c,pinhole_front", "'path' is missing"),
    ],
)
def test_hostile_mapping_rows_refuse_the_whole_mapping(tmp_path: Path, row: str, message: str) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "m.csv").write_text(f"clip,view,path\n{row}\n")
    with pytest.raises(UsageError, match=message):
        mv.group_views(None, VIEWS, src=tmp_path / "src", mapping=tmp_path / "m.csv")


def test_broken_mapping_files(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        mv.read_mapping(tmp_path / "m.json", tmp_path)
    (tmp_path / "m.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="clip,view,path header"):
        mv.read_mapping(tmp_path / "m.csv", tmp_path)
    with pytest.raises(UsageError, match="Cannot read the view mapping"):
        mv.read_mapping(tmp_path / "none.csv", tmp_path)
    with pytest.raises(UsageError, match="Cannot read the view mapping"):
        mv.read_mapping(tmp_path, tmp_path)  # a folder


def _clips(src: Path, clip: str, frames: dict[str, int], fps: dict[str, int] | None = None) -> list[Path]:
    return [
        make_clip(src / v / f"{clip}.mp4", frames=n, fps=(fps or {}).get(v, 10), size=(16, 16))
        for v, n in frames.items()
    ]


def test_align_keeps_equal_counts_and_drops_or_trims_mismatches(tmp_path: Path) -> None:
    files = _clips(tmp_path, "same", dict.fromkeys(VIEWS, 5))
    files += _clips(tmp_path, "ragged", {VIEWS[0]: 5, VIEWS[1]: 4, VIEWS[2]: 6})
    g = mv.group_views(files, VIEWS, src=tmp_path, rule="{view}/{clip}.mp4")
    assert sorted(g.groups) == ["ragged", "same"]
    dropped = mv.align_frames(g, deep=True)
    assert list(dropped.groups) == ["same"] and dropped.frames == {"same": 5}
    assert dropped.dropped == [
        (
            "ragged",
            "views differ in frame count (pinhole_front 5, pinhole_front_left 4, pinhole_front_right 6); "
            "trim to the shortest (4) to keep it",
        )
    ]
    trimmed = mv.align_frames(g, trim=True)
    assert trimmed.frames == {"ragged": 4, "same": 5} and trimmed.dropped == []
    assert trimmed.trimmed[0][0] == "ragged" and "cut to 4 frames" in trimmed.trimmed[0][1]


def test_align_drops_unreadable_views_and_mixed_rates(tmp_path: Path) -> None:
    files = _clips(tmp_path, "rates", dict.fromkeys(VIEWS, 3), fps={VIEWS[1]: 25})
    files += _clips(tmp_path, "broken", dict.fromkeys(VIEWS, 3))
    (tmp_path / VIEWS[2] / "broken.mp4").write_bytes(b"\0" * 64)
    g = mv.group_views(files, VIEWS, src=tmp_path, rule="{view}/{clip}.mp4")
    out = mv.align_frames(g, fps_must_match=True)
    reasons = dict(out.dropped)
    assert reasons["broken"].startswith("view 'pinhole_front_right' (broken.mp4) is unreadable")
    assert "differ in frame rate" in reasons["rates"]
    assert list(mv.align_frames(g, trim=True).groups) == ["rates"]  # rates only matter when asked
