"""Validate a LeRobot v3.0 dataset as cosmos-framework's action recipes read it.

Facts from cosmos-framework 5eee9ed ``cosmos_framework/data/generator/action/datasets/
base_dataset.py`` and ``libero_lerobot_dataset.py`` (LIBERO reads the files itself; DROID goes
through the ``lerobot`` library's ``LeRobotDatasetMetadata``, codebase ``v3.0``):
``meta/info.json`` (``codebase_version``, ``fps``, ``features`` with the camera keys as
``dtype: "video"`` and shape ``[H, W, C]``, the ``video_path`` template with ``video_key``,
``chunk_index``, ``file_index``), ``meta/tasks.parquet`` (``task_index`` and the task text as the
``task`` column or the pandas index), ``meta/episodes/chunk-*/file-*.parquet`` (``episode_index``,
``length``, ``dataset_from_index``/``dataset_to_index``, ``videos/<key>/{chunk_index, file_index,
from_timestamp, to_timestamp}``), ``data/chunk-*/file-*.parquet`` (``index``, ``episode_index``,
``task_index``, ``timestamp``, ``action``). A window is ``chunk_length + 1`` frames (16 for LIBERO,
32 for DROID), so an episode of at most ``chunk_length`` frames gives no sample.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cosmos_tui.core.datasets.findings import Report, Tally, ValidationPass
from cosmos_tui.core.datasets.layouts import Layout
from cosmos_tui.core.datasets.probe import ProbeError, probe_video
from cosmos_tui.core.datasets.walk import fs_finding
from cosmos_tui.core.safeio import CONFIG_CAP, PARQUET_CAP, read_bytes_capped, regular_file

CODEBASE_VERSION = "v3.0"
LIBERO_CAMERAS = ("observation.images.image", "observation.images.wrist_image")
DATA_COLUMNS = ("index", "episode_index", "task_index", "timestamp", "action")
LIBERO_SUITES = ("libero_spatial", "libero_object", "libero_goal", "libero_10")
"""``action_policy_libero_all_nano`` reads ``${LIBERO_ROOT}/<suite>`` for each of these."""


def read_parquet(path: Path, rel: str, tally: Tally, columns: tuple[str, ...] | None = None) -> Any:
    """The table at ``path`` (bounded read), or None with a finding."""
    import pyarrow as pa  # deferred: pyarrow, only for LeRobot datasets
    import pyarrow.parquet as pq  # deferred: pyarrow, only for LeRobot datasets

    try:
        data = read_bytes_capped(path, PARQUET_CAP, what="parquet file")
    except FileNotFoundError:
        tally.add("lerobot-missing-file", rel)
        return None
    except OSError as e:
        tally.add(*fs_finding(e, rel))
        return None
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as e:
        tally.add("lerobot-bad-parquet", f"{rel}: {str(e)[:200]}")
        return None
    missing = [c for c in columns or () if c not in table.column_names]
    if missing:
        tally.add("lerobot-bad-parquet", f"{rel}: no column {', '.join(missing)}")
        return None
    return table


def _info(root: Path, tally: Tally) -> dict[str, Any] | None:
    rel = "meta/info.json"
    try:
        info = json.loads(read_bytes_capped(root / rel, CONFIG_CAP, what="info.json"))
    except FileNotFoundError:
        tally.add("lerobot-missing-file", f"{rel} (every LeRobot dataset has one)")
        return None
    except OSError as e:
        tally.add(*fs_finding(e, rel))
        return None
    except ValueError as e:
        tally.add("lerobot-bad-info", f"{rel}: not JSON ({getattr(e, 'msg', e)})")
        return None
    if not isinstance(info, dict):
        tally.add("lerobot-bad-info", f"{rel}: not a JSON object")
        return None
    ok = True
    if info.get("codebase_version") != CODEBASE_VERSION:
        tally.add("lerobot-version", f"{rel}: codebase_version {info.get('codebase_version')!r}")
        ok = False
    fps = info.get("fps")
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or fps <= 0:
        tally.add("lerobot-bad-info", f"{rel}: fps is {fps!r}, expected a positive number")
        ok = False
    features = info.get("features")
    if not isinstance(features, dict) or not all(isinstance(v, dict) for v in features.values()):
        tally.add("lerobot-bad-info", f"{rel}: features is not an object of feature objects")
        ok = False
    template = info.get("video_path")
    if not isinstance(template, str) or "{video_key}" not in template:
        tally.add("lerobot-bad-info", f"{rel}: video_path {template!r} has no {{video_key}}")
        ok = False
    return info if ok else None


def _cameras(info: dict[str, Any], experiment: str | None, tally: Tally) -> dict[str, tuple[int, int]]:
    cams: dict[str, tuple[int, int]] = {}
    for key, ft in info["features"].items():
        if ft.get("dtype") != "video":
            continue
        shape = ft.get("shape")
        names = ft.get("names") or ["height", "width", "channels"]
        if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(x, int) for x in shape)):
            tally.add(
                "lerobot-bad-info", f"meta/info.json: features.{key}.shape is {shape!r}, expected [H, W, C]"
            )
            continue
        dims = dict(zip(names, shape, strict=False))
        cams[key] = (int(dims.get("height", shape[0])), int(dims.get("width", shape[1])))
    wanted = LIBERO_CAMERAS if experiment and "libero" in experiment else ()
    for key in wanted:
        if key not in cams:
            tally.add(
                "lerobot-missing-camera", f"meta/info.json: no video feature {key} ({experiment} reads it)"
            )
    if not cams:
        tally.add("lerobot-missing-camera", "meta/info.json: no feature of dtype 'video'")
    return cams


def validate_lerobot_v3(
    root: Path, spec: Layout, *, experiment: str | None, need: int, deep: bool = False
) -> Report:
    """Validate the LeRobot v3.0 dataset at ``root``; ``need`` is ``chunk_length + 1`` frames.

    For ``action_policy_libero_all_nano`` a ``root`` without ``meta/info.json`` is the parent of the
    four LIBERO suites, each validated as a dataset of its own (details start with the suite)."""
    checking = ValidationPass(root, spec.id, experiment, need, deep)
    if experiment == "action_policy_libero_all_nano" and not os.path.lexists(root / "meta" / "info.json"):
        return _validate_suites(root, spec, checking)
    tally = Tally()
    videos = 0
    info = _info(root, tally)
    episodes: list[dict[str, Any]] = []
    if info is not None:
        cams = _cameras(info, experiment, tally)
        task_ids = _task_ids(root, tally)
        episodes = _episodes(root, tally)
        data_files, data_rows, data_tasks = _data_rows(root, tally)
        for t in sorted(data_tasks - task_ids) if task_ids is not None else ():
            tally.add("lerobot-inconsistent", f"data: task_index {t} is not in meta/tasks.parquet")
        fps = float(info["fps"])
        probed: dict[str, Any] = {}
        for ep in episodes:
            e = ep["episode_index"]
            length = ep["length"]
            subject = f"episode {e}"
            span = ep["dataset_to_index"] - ep["dataset_from_index"]
            if length != span:
                tally.add(
                    "lerobot-inconsistent",
                    f"episode {e}: length {length}, index span {span}",
                    subject=subject,
                )
            if data_files and data_rows.get(e, 0) != length:
                detail = f"episode {e}: length {length}, data files hold {data_rows.get(e, 0)} rows"
                tally.add("lerobot-inconsistent", detail, subject=subject)
            if length < need:
                tally.add("lerobot-short-episode", f"episode {e}: {length} frames < {need}", subject=subject)
            for key, (h, w) in cams.items():
                try:
                    rel = info["video_path"].format(
                        video_key=key,
                        chunk_index=int(ep.get(f"videos/{key}/chunk_index", 0)),
                        file_index=int(ep.get(f"videos/{key}/file_index", 0)),
                    )
                except (KeyError, IndexError, ValueError, TypeError) as err:
                    tally.add("lerobot-bad-info", f"meta/info.json: video_path does not format ({err})")
                    return checking.report(tally, clips=len(episodes), videos=videos)
                if rel not in probed:
                    probed[rel] = _probe(root, rel, deep, tally, subject)
                    videos += 1
                vi = probed[rel]
                if vi is None:
                    continue
                if (vi.height, vi.width) != (h, w):
                    tally.add(
                        "lerobot-video-mismatch",
                        f"{rel}: {vi.height}x{vi.width}, info.json says {h}x{w}",
                        subject=subject,
                    )
                if vi.fps and abs(vi.fps - fps) > 0.01:
                    tally.add(
                        "lerobot-video-mismatch",
                        f"{rel}: {vi.fps:g} fps, info.json says {fps:g}",
                        subject=subject,
                    )
                to_ts = ep.get(f"videos/{key}/to_timestamp")
                lasts = vi.best_frames / vi.fps if vi.fps and vi.best_frames else None
                if isinstance(to_ts, (int, float)) and lasts is not None and to_ts > lasts + 1.0 / fps:
                    detail = f"{rel}: episode {e} ends at {to_ts:g} s, the video lasts {lasts:g} s"
                    tally.add("lerobot-video-mismatch", detail, subject=subject)
        if episodes and all(ep["length"] < need for ep in episodes):
            tally.add("lerobot-no-samples", f"every episode is shorter than {need} frames")
    return checking.report(tally, clips=len(episodes), videos=videos)


def _validate_suites(root: Path, spec: Layout, checking: ValidationPass) -> Report:
    """The four LIBERO suites under ``root``, each validated as a dataset of its own, in one
    report (details start with the suite)."""
    tally = Tally()
    clips = videos = 0
    for suite in LIBERO_SUITES:
        if not (root / suite).is_dir():
            tally.add("lerobot-missing-file", f"{suite}/ (a LIBERO suite the recipe reads)")
            continue
        sub = validate_lerobot_v3(
            root / suite, spec, experiment=checking.experiment, need=checking.min_frames, deep=checking.deep
        )
        clips, videos = clips + sub.clips, videos + sub.videos
        for f in sub.findings:
            for item in f.items:
                tally.add(f.id, f"{suite}/{item}")
    return checking.report(tally, clips=clips, videos=videos)


def _task_ids(root: Path, tally: Tally) -> set[int] | None:
    """The ``task_index`` values of ``meta/tasks.parquet`` (``None``: it could not be read)."""
    tasks = read_parquet(root / "meta/tasks.parquet", "meta/tasks.parquet", tally, ("task_index",))
    if tasks is None:
        return None
    text_col = "task" if "task" in tasks.column_names else "__index_level_0__"
    if text_col not in tasks.column_names:
        tally.add("lerobot-bad-parquet", "meta/tasks.parquet: no task text (column or index 'task')")
    return {int(x) for x in tasks.column("task_index").to_pylist()}


def _episodes(root: Path, tally: Tally) -> list[dict[str, Any]]:
    """Every row of ``meta/episodes/chunk-*/file-*.parquet``."""
    episodes: list[dict[str, Any]] = []
    ep_files = sorted((root / "meta/episodes").glob("chunk-*/file-*.parquet"))
    if not ep_files:
        tally.add("lerobot-missing-file", "meta/episodes/chunk-*/file-*.parquet")
    cols = ("episode_index", "length", "dataset_from_index", "dataset_to_index")
    for path in ep_files:
        table = read_parquet(path, str(path.relative_to(root)), tally, cols)
        if table is not None:
            episodes.extend(table.to_pylist())
    return episodes


def _data_rows(root: Path, tally: Tally) -> tuple[list[Path], dict[int, int], set[int]]:
    """The data files, the rows they hold per episode and the task indexes they use."""
    data_rows: dict[int, int] = {}
    data_tasks: set[int] = set()
    data_files = sorted((root / "data").glob("chunk-*/file-*.parquet"))
    if not data_files:
        tally.add("lerobot-missing-file", "data/chunk-*/file-*.parquet")
    for path in data_files:
        table = read_parquet(path, str(path.relative_to(root)), tally, DATA_COLUMNS)
        if table is None:
            continue
        for ep in table.column("episode_index").to_pylist():
            data_rows[int(ep)] = data_rows.get(int(ep), 0) + 1
        data_tasks |= {int(t) for t in table.column("task_index").to_pylist()}
    return data_files, data_rows, data_tasks


def _probe(root: Path, rel: str, deep: bool, tally: Tally, subject: str) -> Any:
    path = root / rel
    try:
        regular_file(path, what="video")
        return probe_video(path, deep=deep)
    except FileNotFoundError:
        tally.add("lerobot-missing-file", rel, subject=subject)
    except ProbeError as e:
        tally.add("broken-video", f"{rel}: {e}", subject=subject)
    except OSError as e:
        tally.add(*fs_finding(e, rel), subject=subject)
    return None


__all__ = ["CODEBASE_VERSION", "read_parquet", "validate_lerobot_v3"]
