"""Cosmos 3 vision SFT index (train/video_dataset_file.jsonl): synth, validate, hostile input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.datasets.layouts import detect_layout
from cosmos_tui.core.datasets.synth_cosmos3 import synthesize_vision_jsonl
from cosmos_tui.core.datasets.validate import validate
from cosmos_tui.core.datasets.vision_jsonl import JSONL, estimate_tokens
from cosmos_tui.core.safeio import iter_lines_capped

LAYOUT = "cosmos3-vision-jsonl"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_vision_jsonl(tmp_path_factory.mktemp("c3") / "set", clips=2, frames=61, workers=1)


def _copy(clean: Path, tmp_path: Path) -> Path:
    root = tmp_path / "set"
    (root / "train" / "videos").mkdir(parents=True)
    for mp4 in (clean / "train" / "videos").iterdir():
        os.symlink(mp4, root / "train" / "videos" / mp4.name)
    return root


def _records(clean: Path) -> list[dict]:
    return [json.loads(line) for line in (clean / JSONL).read_text().splitlines()]


def _write(root: Path, lines: list[str | bytes]) -> None:
    data = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    (root / JSONL).write_bytes(data)


def _check(root: Path, **kw):
    return validate(root, LAYOUT, experiment="vision_sft_nano", workers=1, **kw)


def test_synthesised_set_validates_clean_and_is_detected(clean: Path) -> None:
    report = _check(clean)
    assert report.ok and report.findings == (), report.findings
    assert (report.clips, report.videos) == (2, 2)
    assert detect_layout(clean) == LAYOUT
    rec = _records(clean)[0]
    assert rec["vision_path"] == "videos/clip_0000.mp4"  # relative to train/, as the loader reads it
    assert rec["t2w_windows"][0]["end_frame"] == 60  # inclusive: 61 frames


def test_bad_lines_are_named_by_number(clean: Path, tmp_path: Path) -> None:
    root = _copy(clean, tmp_path)
    good = json.dumps(_records(clean)[0])
    _write(root, [good, "", "{not json", b"\xff\xfe", "[1, 2]", "\x00" * 50])
    report = _check(root)
    bad = report.get("jsonl-bad-line")
    assert bad is not None and not report.ok
    assert bad.clips == ("line 2", "line 3", "line 4", "line 5", "line 6")


def test_wrong_types_and_missing_fields(clean: Path, tmp_path: Path) -> None:
    root = _copy(clean, tmp_path)
    rec = _records(clean)[0]
    variants = []
    for key, value in (("uuid", 7), ("duration", "3s"), ("width", 0), ("height", True)):
        variants.append(json.dumps({**rec, key: value}))
    no_uuid = dict(rec)
    del no_uuid["uuid"]
    variants.append(json.dumps(no_uuid))
    win = dict(rec["t2w_windows"][0], temporal_interval=0)
    variants.append(json.dumps({**rec, "uuid": "ti0", "t2w_windows": [win]}))
    win = dict(rec["t2w_windows"][0], caption=5)
    del win["caption_json"]
    variants.append(json.dumps({**rec, "uuid": "cap5", "t2w_windows": [win]}))
    variants.append('{"uuid": "nan", "duration": NaN, "width": 96, "height": 64}')
    _write(root, variants)
    report = _check(root)
    field = report.get("jsonl-bad-field")
    assert field is not None
    assert set(field.clips) == {f"line {i}" for i in (1, 2, 3, 4, 5, 6, 8)}
    assert any("temporal_interval is 0, expected an integer >= 1" in x for x in field.items)
    assert report.get("jsonl-no-caption").clips == ("line 7",)


def test_windows_past_the_end_and_too_short(clean: Path, tmp_path: Path) -> None:
    root = _copy(clean, tmp_path)
    rec = _records(clean)[0]
    w = rec["t2w_windows"][0]
    _write(
        root,
        [
            json.dumps({**rec, "uuid": "a", "t2w_windows": [dict(w, start_frame=0, end_frame=90)]}),
            json.dumps({**rec, "uuid": "b", "t2w_windows": [dict(w, start_frame=70, end_frame=140)]}),
            json.dumps({**rec, "uuid": "c", "t2w_windows": [dict(w, start_frame=0, end_frame=30)]}),
            json.dumps({**rec, "uuid": "d", "duration": 75.0}),
        ],
    )
    report = _check(root)
    assert report.get("jsonl-window-clamped").clips == ("line 1",)
    assert report.get("jsonl-window-outside").clips == ("line 2",)
    assert report.get("jsonl-window-too-short").clips == ("line 3",)
    assert report.get("jsonl-clip-too-long").clips == ("line 4",)


def test_no_usable_window_is_an_error(clean: Path, tmp_path: Path) -> None:
    root = _copy(clean, tmp_path)
    rec = _records(clean)[0]
    _write(root, [json.dumps({**rec, "t2w_windows": [dict(rec["t2w_windows"][0], end_frame=10)]})])
    report = _check(root)
    assert "jsonl-no-usable-windows" in report.ids() and not report.ok


def test_vision_path_escapes_missing_and_hostile_targets(clean: Path, tmp_path: Path) -> None:
    root = _copy(clean, tmp_path)
    rec = _records(clean)[0]
    outside = tmp_path / "elsewhere.mp4"
    os.symlink(clean / "train" / "videos" / "clip_0000.mp4", outside)
    os.symlink("/dev/zero", root / "train" / "videos" / "zero.mp4")
    os.symlink("loop.mp4", root / "train" / "videos" / "loop.mp4")
    (root / "train" / "videos" / "cut.mp4").write_bytes(
        (clean / "train" / "videos" / "clip_0000.mp4").read_bytes()[:300]
    )
    paths = ["../../elsewhere.mp4", str(outside), "videos/none.mp4", "videos/zero.mp4", "videos/loop.mp4"]
    paths += ["videos/cut.mp4", "s3://bucket/x.mp4", "videos/a\x00b.mp4"]
    _write(root, [json.dumps({**rec, "uuid": f"u{i}", "vision_path": p}) for i, p in enumerate(paths)])
    report = _check(root)
    assert report.get("vision-path-outside").clips == ("line 1", "line 2")
    assert report.get("vision-path-missing").clips == ("line 3",)
    assert report.get("not-a-regular-file").clips == ("line 4",)
    assert report.get("symlink-loop").clips == ("line 5",)
    assert report.get("broken-video").clips == ("line 6",)
    assert report.get("vision-path-remote").clips == ("line 7",)
    assert report.get("jsonl-bad-field").clips == ("line 8",)


def test_jsonl_as_dev_zero_loop_or_folder_is_refused(clean: Path, tmp_path: Path) -> None:
    for i, target in enumerate(("/dev/zero", "self", "dir")):
        root = tmp_path / f"r{i}"
        (root / "train").mkdir(parents=True)
        jsonl = root / JSONL
        if target == "dir":
            jsonl.mkdir()
        elif target == "self":
            os.symlink(jsonl.name, jsonl)
        else:
            os.symlink(target, jsonl)
        report = _check(root)
        assert not report.ok
        assert report.ids() & {"not-a-regular-file", "symlink-loop"}, report.ids()


def test_huge_line_is_skipped_not_loaded(clean: Path, tmp_path: Path) -> None:
    root = _copy(clean, tmp_path)
    good = json.dumps(_records(clean)[0])
    _write(root, [good, '{"uuid": "' + "x" * (5 << 20) + '"}', good.replace("clip_0000", "other")])
    report = _check(root)
    assert report.get("jsonl-line-too-long").clips == ("line 2",)
    assert report.get("jsonl-duplicate-uuid") is None


def test_size_and_aspect_mismatch(clean: Path, tmp_path: Path) -> None:
    root = _copy(clean, tmp_path)
    rec = _records(clean)[0]
    _write(
        root,
        [json.dumps({**rec, "width": 64}), json.dumps({**rec, "uuid": "b", "width": 192, "height": 128})],
    )
    report = _check(root)
    assert report.get("jsonl-aspect-mismatch").clips == ("line 1",)
    assert report.get("jsonl-size-mismatch").clips == ("line 2",)


def test_caption_token_estimate_and_cap(clean: Path, tmp_path: Path) -> None:
    root = _copy(clean, tmp_path)
    rec = _records(clean)[0]
    long = dict(rec["t2w_windows"][0])
    long["caption_json"] = dict(long["caption_json"], temporal_caption="word " * 3000)
    _write(root, [json.dumps({**rec, "t2w_windows": [long]})])
    assert "caption-too-long" in _check(root).ids()
    assert "caption-too-long" not in _check(root, max_caption_tokens=100_000).ids()
    bound, estimate = estimate_tokens("héllo")
    assert bound == 6 + 8 and estimate == 2 + 8


@given(st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b), max_size=8), st.integers(1, 20))
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_iter_lines_capped_matches_splitlines(tmp_path: Path, lines: list[bytes], cap: int) -> None:
    path = tmp_path / "x.jsonl"
    data = b"\n".join(lines)
    path.write_bytes(data)
    got = list(iter_lines_capped(path, 1 << 20, cap))
    want = data.split(b"\n") if data else []
    if want and want[-1] == b"" and data.endswith(b"\n"):
        want = want[:-1]
    assert [n for n, _ in got] == list(range(1, len(want) + 1))
    assert [b for _, b in got] == [w if len(w) <= cap else None for w in want]


@given(st.lists(st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode)), max_size=6))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_bytes_give_findings_never_a_crash(tmp_path: Path, lines: list[bytes]) -> None:
    root = tmp_path / "h"
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / JSONL).write_bytes(b"\n".join(lines))
    report = _check(root)
    assert all(f.fix for f in report.findings)


def test_cli_synth_then_validate_json(tmp_path: Path) -> None:
    runner = CliRunner()
    root = tmp_path / "cli"
    res = runner.invoke(app, ["data", "synth", str(root), "--layout", LAYOUT, "--clips", "1"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["data", "validate", str(root), "--layout", LAYOUT, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["ok"] is True
    (root / JSONL).write_text("{}\n\n")
    res = runner.invoke(app, ["data", "validate", str(root), "--layout", LAYOUT, "--json"])
    assert res.exit_code == 1
    kinds = {f["id"]: f["clips"] for f in json.loads(res.stdout)["findings"]}
    assert kinds["jsonl-bad-line"] == ["line 2"] and kinds["jsonl-bad-field"] == ["line 1"]
    res = runner.invoke(app, ["data", "synth", str(tmp_path / "x"), "--layout", LAYOUT, "--frames", "20"])
    assert res.exit_code == 2 and "61" in res.output


def test_missing_index_no_windows_duplicates_and_caption_schema(clean: Path, tmp_path: Path) -> None:
    root = _copy(clean, tmp_path)
    assert _check(root).get("jsonl-missing") is not None
    rec = _records(clean)[0]
    w = dict(rec["t2w_windows"][0])
    w["caption_json"] = dict(w["caption_json"], fps="fast", subjects="one", resolution={"H": 1, "W": 2})
    w["caption"] = "A red\x1b[31m square."
    del w["caption_json"]["temporal_caption"]
    _write(
        root,
        [
            json.dumps({**rec, "t2w_windows": [w]}),
            json.dumps({**rec, "uuid": "y", "t2w_windows": []}),
            json.dumps(rec),
            json.dumps({**rec, "uuid": "x", "t2w_windows": [dict(w, caption_json=None)]}),
        ],
    )
    report = _check(root)
    assert report.get("jsonl-no-windows").clips == ("line 2",)
    assert report.get("jsonl-duplicate-uuid").clips == ("line 3",)
    schema = report.get("caption-json-field")
    assert set(schema.clips) == {"line 1", "line 4"}
    assert any(".fps is text" in x for x in schema.items) and any("resolution" in x for x in schema.items)
    assert report.get("jsonl-no-caption").clips == ("line 4",)  # str(None) == "None"
    nothing = tmp_path / "empty"
    (nothing / "train").mkdir(parents=True)
    (nothing / JSONL).write_text("")
    assert _check(nothing).get("empty-file") is not None
