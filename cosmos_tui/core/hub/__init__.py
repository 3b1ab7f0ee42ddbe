"""Everything between a user and the weights: login, gated-access checks, planned downloads.

Built on huggingface_hub (imported lazily, inside functions). Public API::

    login(token) -> Account          logout() -> LoggedOut     whoami() -> Account | None
    check_access(model) -> list[RepoAccess]
    plan_download(model, checkpoint_dir=None) -> DownloadPlan
    download(plan, progress=callback, cancel=event) -> list[Path]
    weights_present(model) -> bool
"""

from __future__ import annotations

from cosmos_tui.core.hub.access import AccessStatus, RepoAccess, check_access
from cosmos_tui.core.hub.auth import Account, login, logout, whoami
from cosmos_tui.core.hub.fetch import DownloadCancelled, DownloadProgress, download
from cosmos_tui.core.hub.plan import DownloadPlan, PlannedFile, plan_download, weights_present

__all__ = [
    "AccessStatus",
    "Account",
    "DownloadCancelled",
    "DownloadPlan",
    "DownloadProgress",
    "PlannedFile",
    "RepoAccess",
    "check_access",
    "download",
    "login",
    "logout",
    "plan_download",
    "weights_present",
    "whoami",
]
