"""Fetching a :class:`DownloadPlan`: resumable, verified, with progress and cancellation.

Each file streams through huggingface_hub's own HTTP download (``http_get``: auth headers, Range
requests, retries on a dropped connection) into a partial file that survives interruption, so the
next run resumes where the last one stopped (a ``Range`` request). A finished file is checked
against its size and, for LFS files, its sha256, then moved into place: into the HF cache as a
blob that ``hf_hub_download`` links into the snapshot (the library owns the cache layout), or to
``<checkpoint_dir>/<local_dir>/<file>``. Files already present are never fetched again.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.hub import settings
from cosmos_tui.core.hub.plan import (
    PARTIAL_SUFFIX,
    DownloadPlan,
    PlannedFile,
    _folder,
    _partial_path,
    is_sha256,
)
from cosmos_tui.core.units import human_bytes


class DownloadCancelled(UserError):
    """The download was stopped; what was fetched is kept and the next run resumes."""


@dataclass(frozen=True)
class DownloadProgress:
    """Where a download stands, after each chunk."""

    file: PlannedFile
    file_done: int  # bytes of this file on disk, resumed bytes included
    file_total: int | None
    done: int  # bytes fetched in this run, all files
    total: int  # bytes to fetch in this run, all files
    finished: bool = False  # this file is complete and in place


ProgressCallback = Callable[[DownloadProgress], None]


class _Bar:
    """The progress object huggingface_hub's http_get drives (the tqdm interface it uses)."""

    def __init__(
        self, on_bytes: Callable[[int], None], total: int | None = None, initial: int = 0, **_: object
    ):
        self.n = initial
        self.total = total
        self._on_bytes = on_bytes

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        self.n += n
        self._on_bytes(n)

    def close(self) -> None:
        pass


def _check_before(plan: DownloadPlan) -> None:
    if plan.blocked:
        lines = "; ".join(f"{a.repo_id}: {a.status.value} ({a.detail})" for a in plan.blocked)
        raise UserError(
            f"Cannot download {plan.model_id}: {lines}. Run 'cosmos-tui hf access {plan.model_id}'."
        )
    if plan.offline and (plan.missing or plan.unresolved):
        names = [f"{f.repo_id}/{f.filename}" for f in plan.missing[:3]] + [
            u.split(":")[0] for u in plan.unresolved
        ]
        raise UserError(
            f"Files are missing ({', '.join(names[:4])}) and HF_HUB_OFFLINE=1 is set; "
            "unset it to download, or copy the files in."
        )
    if plan.unresolved:
        raise UserError(f"Cannot plan {plan.model_id}: {'; '.join(plan.unresolved)}.")
    if not plan.fits:
        raise UserError(
            f"Not enough disk space: {plan.model_id} needs {human_bytes(plan.missing_bytes)} more, "
            f"{human_bytes(plan.free_bytes)} are free at {plan.target}; "
            "free some space or use --checkpoint-dir."
        )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 * 1024 * 1024), b""):
            h.update(block)
    return h.hexdigest()


def _fetch_one(
    plan: DownloadPlan,
    pf: PlannedFile,
    on_bytes: Callable[[int], None],
) -> Path:
    hub = settings.hf()
    from huggingface_hub.file_download import http_get  # deferred: huggingface_hub, only when the Hub is used
    from huggingface_hub.utils import build_hf_headers  # deferred: huggingface_hub, only when the Hub is used

    ep = settings.endpoint()
    url = hub.hf_hub_url(pf.repo_id, pf.filename, revision=pf.commit or pf.revision, endpoint=ep)
    meta = hub.get_hf_file_metadata(url, endpoint=ep)
    etag = meta.etag or pf.etag
    cache = settings.hub_cache()
    partial = _partial_path(pf.dest, plan.mode, cache, pf.repo_id, etag)
    assert partial is not None, "the Hub gave no etag"
    partial.parent.mkdir(parents=True, exist_ok=True)
    for stale in partial.parent.glob(f"{pf.dest.name}.*{PARTIAL_SUFFIX}") if plan.mode != "hf-cache" else ():
        if stale != partial:
            stale.unlink(missing_ok=True)  # an interrupted download of an older version of this file
    resume = partial.stat().st_size if partial.exists() else 0
    size = meta.size if meta.size is not None else pf.size
    if size is not None and resume > size:
        partial.unlink()
        resume = 0
    headers = build_hf_headers()
    if urlsplit(meta.location).netloc != urlsplit(ep).netloc:
        headers.pop("authorization", None)  # as huggingface_hub does for CDN redirects
    with open(partial, "ab") as f:
        http_get(
            meta.location,
            f,
            resume_size=resume,
            headers=headers,
            expected_size=size,
            displayed_filename=pf.filename,
            tqdm_class=functools.partial(_Bar, on_bytes),  # type: ignore[arg-type]
        )
    if is_sha256(etag) and _sha256(partial) != etag:
        partial.unlink()
        raise UserError(
            f"{pf.repo_id}/{pf.filename} arrived corrupted (sha256 mismatch); run the download again."
        )
    if plan.mode == "checkpoint-dir":
        os.replace(partial, pf.dest)
        return pf.dest
    blob = cache / _folder(pf.repo_id) / "blobs" / etag
    os.replace(partial, blob)
    # The blob is in place: hf_hub_download only links it into the snapshot and records the ref.
    path = hub.hf_hub_download(pf.repo_id, pf.filename, revision=pf.revision, cache_dir=cache, endpoint=ep)
    return Path(path)


def download(
    plan: DownloadPlan,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> list[Path]:
    """Fetch every missing file of ``plan``; return the paths of all planned files.

    Refuses before fetching anything when access is blocked, the plan is offline with files
    missing, or the disk is too small. ``progress`` is called after each chunk; setting ``cancel``
    stops at the next chunk with :class:`DownloadCancelled` (partial data is kept for resuming).
    """
    _check_before(plan)
    total = plan.missing_bytes
    done = 0
    paths: list[Path] = []
    for pf in plan.files:
        if pf.present:
            paths.append(pf.dest)
            continue
        file_done = pf.partial_bytes

        def on_bytes(n: int, pf: PlannedFile = pf) -> None:
            nonlocal done, file_done
            done += n
            file_done += n
            if progress is not None:
                progress(DownloadProgress(pf, file_done, pf.size, done, total))
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled(
                    f"Download of {plan.model_id} stopped; run it again to resume from {human_bytes(done)}."
                )

        try:
            path = _fetch_one(plan, pf, on_bytes)
        except UserError:
            raise
        except Exception as e:
            from huggingface_hub.errors import (
                HfHubHTTPError,
            )  # deferred: huggingface_hub, only when the Hub is used

            if settings.is_network_error(e):
                raise UserError(
                    f"The connection to {settings.endpoint()} failed while fetching {pf.filename}; "
                    "run the download again to resume."
                ) from None
            if isinstance(e, HfHubHTTPError):
                raise UserError(
                    f"Download of {pf.repo_id}/{pf.filename} failed: {settings.scrub(str(e))}"
                ) from None
            raise
        paths.append(path)
        if progress is not None:
            progress(DownloadProgress(pf, pf.size or file_done, pf.size, done, total, finished=True))
    return paths
