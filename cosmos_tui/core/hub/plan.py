"""What a download would fetch: the exact files a model's engine loads, their sizes, what is
already on disk, and whether it fits. Planning never writes anything.

Two destinations, as upstream expects them:

- the Hugging Face cache (``HF_HUB_CACHE``, default ``$HF_HOME/hub``), where Transfer2.5 and
  Predict2.5 look (they download through the HF cache and honour ``HF_HUB_OFFLINE=1``);
- a checkpoint dir (``--checkpoint-dir``), laid out ``<dir>/<local_dir>/<file>`` the way
  Predict1's experiments read ``checkpoints/<Name>/...``.

With ``HF_HUB_OFFLINE=1`` (or for :func:`weights_present`) the plan is made from the disk only.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cosmos_tui.core.catalog import ModelSpec, RepoSpec
from cosmos_tui.core.engines.registry import get_adapter
from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.hub import settings
from cosmos_tui.core.hub.access import AccessStatus, RepoAccess, _result, _verdict
from cosmos_tui.core.safeio import POINTER_CAP, read_text_capped

PARTIAL_SUFFIX = ".cosmos-partial"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class PlannedFile:
    """One file a model needs."""

    repo_id: str
    revision: str  # as the model's engine asks for it (see EngineAdapter.revision)
    commit: str | None  # the commit it resolves to (None when planned offline)
    filename: str
    size: int | None  # bytes (None when unknown offline)
    etag: str | None  # the Hub's etag: sha256 for LFS files
    dest: Path  # where the file ends up (snapshot path in the HF cache, or under the checkpoint dir)
    present: bool
    partial_bytes: int  # bytes of an interrupted earlier download, kept for resuming
    role: str
    needed_for: str

    @property
    def missing_bytes(self) -> int:
        """Bytes still to fetch (0 when present or unknown)."""
        return 0 if self.present or self.size is None else max(self.size - self.partial_bytes, 0)


@dataclass(frozen=True)
class DownloadPlan:
    """Everything a download would do, decided before anything is fetched."""

    model_id: str
    mode: Literal["hf-cache", "checkpoint-dir"]
    target: Path
    files: tuple[PlannedFile, ...]
    access: tuple[RepoAccess, ...]  # verdicts for repos with files still to fetch (online only)
    unresolved: tuple[str, ...]  # "repo: why" for repos whose file list is unknown
    offline: bool
    free_bytes: int

    @property
    def total_bytes(self) -> int:
        """Known size of every planned file."""
        return sum(f.size or 0 for f in self.files)

    @property
    def missing(self) -> tuple[PlannedFile, ...]:
        """Files not yet on disk."""
        return tuple(f for f in self.files if not f.present)

    @property
    def missing_bytes(self) -> int:
        """Bytes still to fetch."""
        return sum(f.missing_bytes for f in self.files)

    @property
    def complete(self) -> bool:
        """Every needed file is on disk."""
        return not self.missing and not self.unresolved

    @property
    def fits(self) -> bool:
        """The free space at the target holds what is still to fetch."""
        return self.missing_bytes <= self.free_bytes

    @property
    def blocked(self) -> tuple[RepoAccess, ...]:
        """Access verdicts that stop the download."""
        return tuple(a for a in self.access if a.status is not AccessStatus.OK)


def _free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _matches(name: str, spec: RepoSpec) -> bool:
    if any(fnmatch.fnmatch(name, p) for p in spec.exclude):
        return False
    if spec.whole_repo:
        return True
    return name in spec.files or any(fnmatch.fnmatch(name, p) for p in spec.include)


def _folder(repo_id: str) -> str:
    return "models--" + repo_id.replace("/", "--")


def _cache_commit(cache: Path, spec: RepoSpec) -> str | None:
    if spec.pinned:
        return spec.revision
    ref = cache / _folder(spec.repo_id) / "refs" / spec.revision
    try:
        return read_text_capped(ref, POINTER_CAP, what="cache ref").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _partial_path(dest: Path, mode: str, cache: Path, repo_id: str, etag: str | None) -> Path | None:
    if not etag:
        return None
    if mode == "hf-cache":
        return cache / _folder(repo_id) / "blobs" / f"{etag}{PARTIAL_SUFFIX}"
    return dest.with_name(f"{dest.name}.{etag[:16]}{PARTIAL_SUFFIX}")


def _local_listing(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".cache"]
        for f in filenames:
            if not f.endswith(PARTIAL_SUFFIX):
                names.append(Path(dirpath, f).relative_to(root).as_posix())
    return sorted(names)


class _Planner:
    def __init__(
        self,
        model: ModelSpec,
        checkpoint_dir: Path | None,
        online: bool,
        inference: bool,
        checkout: Path | None = None,
    ) -> None:
        self.model = model
        self.inference = inference
        self.checkout = checkout
        self.mode: Literal["hf-cache", "checkpoint-dir"] = "checkpoint-dir" if checkpoint_dir else "hf-cache"
        self.cache = settings.hub_cache()
        self.target = Path(checkpoint_dir).expanduser().resolve() if checkpoint_dir else self.cache
        self.online = online
        self.files: dict[tuple[str, str], PlannedFile] = {}
        self.unresolved: list[str] = []
        self.access: list[RepoAccess] = []
        self._infos: dict[tuple[str, str], object] = {}

    def dest(self, spec: RepoSpec, commit: str | None, filename: str) -> Path:
        if self.mode == "checkpoint-dir":
            return self.target / spec.checkpoint_subdir / filename
        return self.cache / _folder(spec.repo_id) / "snapshots" / (commit or spec.revision) / filename

    def add(
        self, spec: RepoSpec, filename: str, commit: str | None, size: int | None, etag: str | None
    ) -> None:
        if (spec.repo_id, filename) in self.files:
            return
        dest = self.dest(spec, commit, filename)
        present = dest.is_file() and (size is None or dest.stat().st_size == size)
        partial = _partial_path(dest, self.mode, self.cache, spec.repo_id, etag)
        partial_bytes = partial.stat().st_size if partial is not None and partial.is_file() else 0
        self.files[(spec.repo_id, filename)] = PlannedFile(
            repo_id=spec.repo_id,
            revision=spec.revision,
            commit=commit,
            filename=filename,
            size=size,
            etag=etag,
            dest=dest,
            present=present,
            partial_bytes=0 if present else partial_bytes,
            role=spec.role,
            needed_for=spec.needed_for,
        )

    def plan_offline(self, spec: RepoSpec) -> None:
        commit = _cache_commit(self.cache, spec) if self.mode == "hf-cache" else None
        if self.mode == "hf-cache":
            listing = (
                _local_listing(self.cache / _folder(spec.repo_id) / "snapshots" / commit) if commit else []
            )
        else:
            listing = _local_listing(self.target / spec.checkpoint_subdir)
        names = list(spec.files) + [n for n in listing if n not in spec.files and _matches(n, spec)]
        if (spec.include or spec.whole_repo) and not any(n not in spec.files for n in names):
            self.unresolved.append(f"{spec.repo_id}: no local copy to list the files from")
        for name in names:
            self.add(spec, name, commit, None, None)

    def plan_online(self, spec: RepoSpec, logged_in: bool) -> None:
        hub = settings.hf()
        key = (spec.repo_id, spec.revision)
        info = self._infos.get(key)
        if info is None:
            try:
                info = hub.HfApi(endpoint=settings.endpoint()).model_info(
                    spec.repo_id, revision=spec.revision, files_metadata=True
                )
            except Exception as e:
                if settings.is_network_error(e):
                    raise UserError(
                        f"Cannot reach {settings.endpoint()}; check the network, or set HF_HUB_OFFLINE=1 "
                        "to use only the files already on disk."
                    ) from None
                status, detail = _verdict(spec, logged_in)
                self.access.append(_result(spec, status, detail, settings.endpoint()))
                self.unresolved.append(f"{spec.repo_id}: {detail}")
                return
            self._infos[key] = info
        siblings = {s.rfilename: s for s in info.siblings or []}  # type: ignore[attr-defined]
        absent = [f for f in spec.files if f not in siblings]
        if absent:
            self.unresolved.append(f"{spec.repo_id}: {', '.join(absent)} not in revision {spec.revision}")
        for name, sib in siblings.items():
            if name in absent or not _matches(name, spec):
                continue
            etag = sib.lfs.sha256 if sib.lfs else sib.blob_id
            self.add(spec, name, info.sha, sib.size, etag)  # type: ignore[attr-defined]
        missing = [f for f in self.files.values() if f.repo_id == spec.repo_id and not f.present]
        if missing and not any(
            a.repo_id == spec.repo_id and a.revision == spec.revision for a in self.access
        ):
            status, detail = _verdict(spec, logged_in)
            self.access.append(_result(spec, status, detail, settings.endpoint()))

    def build(self) -> DownloadPlan:
        specs = self.model.repos_for(inference=self.inference, checkout=self.checkout)
        logged_in = self.online and settings.current_token() is not None
        for spec in specs:
            if self.online:
                self.plan_online(spec, logged_in)
            else:
                self.plan_offline(spec)
        return DownloadPlan(
            model_id=self.model.id,
            mode=self.mode,
            target=self.target,
            files=tuple(self.files.values()),
            access=tuple(self.access),
            unresolved=tuple(self.unresolved),
            offline=not self.online,
            free_bytes=_free_bytes(self.target),
        )


def plan_download(
    model: ModelSpec,
    checkpoint_dir: Path | None = None,
    *,
    inference: bool = False,
    checkout: Path | None = None,
) -> DownloadPlan:
    """Plan fetching what ``model`` needs to post-train (plus inference extras with ``inference``).

    Each repo is planned at the revision the model's engine asks for (its adapter's pins for the
    engine checkout at ``checkout``, else for the version cosmos-tui targets), so upstream finds
    the files with ``HF_HUB_OFFLINE=1``. Online it asks the Hub for each repo's file list and
    sizes at that revision and checks access for repos with files still missing; with
    ``HF_HUB_OFFLINE=1`` it looks at the disk only.
    """
    if get_adapter(model.engine).weights_in_checkout and checkpoint_dir is None:
        raise UsageError(
            f"{model.id} reads its weights from the checkpoints/ folder of a {model.engine} checkout; "
            "pass --checkpoint-dir <checkout>/checkpoints."
        )
    online = not settings.offline()
    return _Planner(model, checkpoint_dir, online=online, inference=inference, checkout=checkout).build()


def weights_present(
    model: ModelSpec, checkpoint_dir: Path | None = None, *, checkout: Path | None = None
) -> bool:
    """Whether every file ``model`` needs to post-train is on disk, at the revisions its engine
    (checkout) asks for (no network)."""
    if not model.needs_hub:
        return True
    return _Planner(model, checkpoint_dir, online=False, inference=False, checkout=checkout).build().complete


def is_sha256(etag: str | None) -> bool:
    """Whether an etag is an LFS sha256 (so the downloaded bytes can be verified against it)."""
    return bool(etag and _SHA256.match(etag))
