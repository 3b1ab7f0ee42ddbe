"""Caption sources: the validator reads the caption each upstream loader reads, by the loader's rule.

Transfer2.5 single-view (singleview_dataset.py at 2ff49d0): captions/ if it exists, else metas/;
in it <name>.json, then <name>.txt; otherwise the caption "a video". Predict2.5 (dataset_video.py
at 7e5ffc8): any captions/*.json switches every clip to captions/<name>.json read as
{"<model>": {"long", "short", "medium"}}; else metas/<name>.txt; a failed read is an empty caption.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from data_helpers import FRAMES
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.datasets.findings import Report
from cosmos_tui.core.datasets.validate import validate

Make = Callable[[str], Path]
T25, P25, HD = "transfer25-singleview", "predict25-video2world", "transfer25-multiview-hdmap"
LORA_JSON = "predict2_lora_training_2b_cosmos_nemo_assets_json"
CLIPS = ("clip_0000", "clip_0001")
PROMPTS = {"qwen3_vl_30b_a3b": {"long": "A long caption.", "short": "Short.", "medium": "Medium."}}


def check(root: Path, layout: str, experiment: str | None = None) -> Report:
    return validate(root, layout, experiment=experiment, min_frames=FRAMES, workers=2)


def ids(report: Report) -> set[str]:
    return report.ids() - {"low-resolution"}


def _metas(root: Path, clips: tuple[str, ...] = CLIPS) -> None:
    (root / "metas").mkdir(exist_ok=True)
    for clip in clips:
        (root / f"metas/{clip}.txt").write_text(f"{clip} in metas\n")


def _p25_json(root: Path, clips: tuple[str, ...] = CLIPS, obj: object = PROMPTS) -> None:
    (root / "captions").mkdir(exist_ok=True)
    for clip in clips:
        (root / f"captions/{clip}.json").write_text(json.dumps(obj))


# ---- Transfer2.5 single-view ------------------------------------------------------------------------


def test_t25_metas_beside_a_captions_folder_is_never_read(dataset: Make) -> None:
    root = dataset(T25)
    (root / "captions/clip_0001.json").unlink()
    _metas(root)
    report = check(root, T25)
    assert ids(report) == {"stand-in-caption"} and not report.ok
    f = report.get("stand-in-caption")
    assert f.severity == "error" and f.clips == ("clip_0001",)
    assert f.title == "upstream will train 1 clip on the caption 'a video'"
    assert f.examples == (
        "clip_0001: no captions/clip_0001.json or captions/clip_0001.txt; "
        "metas/clip_0001.txt is never read (captions/ exists)",
    )


def test_t25_an_empty_captions_folder_trains_every_clip_on_a_video(dataset: Make) -> None:
    root = dataset(T25)
    for clip in CLIPS:
        (root / f"captions/{clip}.json").unlink()
    _metas(root)
    f = check(root, T25).get("stand-in-caption")
    assert f is not None and f.clips == CLIPS
    assert f.title == "upstream will train 2 clips on the caption 'a video'"
    shutil.rmtree(root / "captions")  # now metas/ is the caption folder
    assert ids(check(root, T25)) == set()


def test_t25_reads_txt_in_captions_and_json_in_metas(dataset: Make) -> None:
    root = dataset(T25)
    (root / "captions/clip_0001.json").unlink()
    (root / "captions/clip_0001.txt").write_text("a caption as text\n")
    assert ids(check(root, T25)) == set()
    shutil.move(root / "captions", root / "metas")
    assert ids(check(root, T25)) == set()


def test_t25_a_json_that_fails_to_load_falls_back_to_the_txt_beside_it(dataset: Make) -> None:
    root = dataset(T25)
    (root / "captions/clip_0000.json").write_text("{not json")
    (root / "captions/clip_0000.txt").write_text("the text caption\n")
    report = check(root, T25)
    assert ids(report) == {"bad-caption"}
    (root / "captions/clip_0000.txt").unlink()
    f = check(root, T25).get("stand-in-caption")
    assert f is not None and f.examples == (
        "clip_0000: the loader gets no caption from captions/clip_0000.json (see the finding on that file)",
    )


def test_t25_without_any_caption_folder(dataset: Make) -> None:
    root = dataset(T25)
    shutil.rmtree(root / "captions")
    f = check(root, T25).get("stand-in-caption")
    assert f is not None and f.count == 2
    assert f.examples[0] == "clip_0000: no metas/clip_0000.json or metas/clip_0000.txt (no captions/)"


# ---- Predict2.5 ---------------------------------------------------------------------------------------


def test_p25_one_json_switches_every_clip_to_json(dataset: Make) -> None:
    root = dataset(P25)  # metas/*.txt for every clip
    _p25_json(root, ("clip_0000",))
    report = check(root, P25)
    assert ids(report) == {"stand-in-caption"} and not report.ok
    f = report.get("stand-in-caption")
    assert f.title == "upstream will train 1 clip on an empty caption ('')"
    assert f.examples == (
        "clip_0001: no captions/clip_0001.json; metas/clip_0001.txt is never read "
        "(captions/ holds *.json files, so every clip reads JSON)",
    )


def test_p25_flat_caption_json_is_not_the_loaders_schema(dataset: Make) -> None:
    """``{"caption": ...}``: the loader takes the first key's value as an object of prompts and
    fails, so every clip trains on an empty caption (the old validator called this valid)."""
    root = dataset(P25)
    shutil.rmtree(root / "metas")
    _p25_json(root, obj={"caption": "a long caption about a car"})
    report = check(root, P25)
    assert ids(report) == {"bad-caption", "stand-in-caption"} and not report.ok
    assert report.get("bad-caption").examples[0] == (
        'captions/clip_0000.json: the first key "caption" holds a string, not prompts '
        '(expected {"<model>": {"long": ..., "short": ..., "medium": ...}})'
    )
    assert report.get("stand-in-caption").title == "upstream will train 2 clips on an empty caption ('')"


@pytest.mark.parametrize(
    "content",
    [
        json.dumps(PROMPTS),
        '"qwen": {"short": "only short"}',  # no top-level braces: the loader wraps it in {}
        json.dumps({"m": {"medium": "first prompt", "long": "long prompt"}}),
    ],
)
def test_p25_model_prompts_schema_is_valid(dataset: Make, content: str) -> None:
    root = dataset(P25)
    shutil.rmtree(root / "metas")
    _p25_json(root)
    for clip in CLIPS:
        (root / f"captions/{clip}.json").write_text(content)
    assert ids(check(root, P25)) == set()
    assert ids(check(root, P25, LORA_JSON)) == set()


@pytest.mark.parametrize(
    ("obj", "detail"),
    [
        ({}, "an empty JSON object"),
        ({"m": {}}, 'the first key "m" holds an empty object'),
        ({"m": {"long": None}}, 'prompt "long" holds null, not text'),
        ({"m": {"long": "  "}}, 'prompt "long" is empty'),
    ],
)
def test_p25_broken_prompts(dataset: Make, obj: object, detail: str) -> None:
    root = dataset(P25)
    _p25_json(root, obj=obj)
    report = check(root, P25)
    assert "bad-caption" in ids(report) and not report.ok
    assert detail in report.get("bad-caption").examples[0]


def test_p25_reads_the_prompt_the_experiment_asks_for(dataset: Make) -> None:
    root = dataset(P25)
    shutil.rmtree(root / "metas")
    _p25_json(root, obj={"m": {"short": "fine", "long": "bell\u0007"}})
    assert ids(check(root, P25)) == set()  # default: the first prompt ("short")
    assert ids(check(root, P25, LORA_JSON)) == {"caption-control-chars"}  # prompt_type="long"


def test_p25_lora_json_needs_a_captions_folder(dataset: Make) -> None:
    root = dataset(P25)  # metas/*.txt only: the LoRA json experiment forces caption_format="json"
    assert ids(check(root, P25)) == set()
    report = check(root, P25, LORA_JSON)
    assert ids(report) == {"no-captions"} and not report.ok
    assert report.get("no-captions").examples == ("no captions/ (this experiment reads JSON captions only)",)


def test_p25_any_json_name_switches_even_a_folder(dataset: Make) -> None:
    """The loader's test is ``any(f.endswith(".json") for f in os.listdir(captions))``."""
    root = dataset(P25)
    (root / "captions/old.json").mkdir(parents=True)
    report = check(root, P25)
    assert report.get("stand-in-caption").count == 2


def test_p25_without_captions_the_loader_raises(dataset: Make) -> None:
    root = dataset(P25)
    for p in (root / "metas").iterdir():
        p.unlink()
    report = check(root, P25)
    assert ids(report) == {"no-captions"}
    assert report.get("no-captions").examples == ("neither captions/*.json nor metas/*.txt",)


@pytest.mark.parametrize("layout", [T25, P25])
def test_a_file_named_captions(dataset: Make, layout: str) -> None:
    """Transfer2.5 takes any existing captions path as its caption folder; Predict2.5 lists it."""
    root = dataset(layout)
    shutil.rmtree(root / "captions", ignore_errors=True)
    (root / "captions").write_text("not a folder")
    _metas(root)
    report = check(root, layout)
    if layout == T25:
        assert report.get("stand-in-caption").count == 2
    else:
        assert report.get("no-captions").examples == (
            "captions is not a folder (the loader lists it and stops)",
        )


def test_t25_a_broken_captions_link_leaves_metas_the_caption_folder(dataset: Make, tmp_path: Path) -> None:
    """``os.path.exists`` is False for a link to nothing, so the loader reads metas/."""
    root = dataset(T25)
    shutil.rmtree(root / "captions")
    (root / "captions").symlink_to(tmp_path / "gone")
    _metas(root)
    assert "stand-in-caption" not in ids(check(root, T25))


def test_hdmap_clip_without_its_front_caption(dataset: Make) -> None:
    root = dataset(HD)
    (root / "captions/ftheta_camera_front_wide_120fov/clip_0001.json").unlink()
    report = check(root, HD)
    assert ids(report) == {"missing-caption"}
    assert report.get("missing-caption").severity == "error"


# ---- hostile caption files, through the CLI -------------------------------------------------------------


def _cli(root: Path, layout: str, *extra: str):
    res = CliRunner().invoke(
        app, ["data", "validate", str(root), "-l", layout, "--frames", str(FRAMES), *extra]
    )
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res


def test_cli_says_how_many_clips_train_on_a_video(dataset: Make) -> None:
    root = dataset(T25)
    for clip in CLIPS:
        (root / f"captions/{clip}.json").unlink()
    _metas(root)
    res = _cli(root, T25)
    assert res.exit_code == 1
    assert "stand-in-caption x2: upstream will train 2 clips on the caption 'a video'" in res.stdout


@pytest.mark.parametrize("layout", [T25, P25])
@pytest.mark.parametrize("kind", ["corrupt", "huge", "folder", "dev-zero"])
def test_hostile_caption_json_is_a_finding(dataset: Make, layout: str, kind: str) -> None:
    root = dataset(layout)
    if layout == P25:
        _p25_json(root)
    path = root / "captions/clip_0000.json"
    path.unlink()
    if kind == "corrupt":
        path.write_bytes(b"\x00\xff{\x1b[31m")
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(64 << 20)  # sparse: 64 MiB of NULs
    elif kind == "folder":
        path.mkdir()
    else:
        os.symlink("/dev/zero", path)
    res = _cli(root, layout, "--json")
    assert res.exit_code == 1
    found = {f["id"]: f for f in json.loads(res.stdout)["findings"]}
    expected = {
        "corrupt": "caption-not-utf8",
        "huge": "file-too-large",
        "folder": "not-a-regular-file",
        "dev-zero": "not-a-regular-file",
    }[kind]
    assert expected in found, found
    assert found[expected]["examples"][0].startswith("captions/clip_0000.json")
    # a file the loader fails on trains the clip on the fallback; one it would hang on has no verdict
    assert ("stand-in-caption" in found) == (kind in ("corrupt", "folder")), found
