"""Can this account download what a model needs? One verdict per repository.

The check users most lack: a model needs several gated repos (weights, tokenizer, text encoder,
guardrail), and each one's licence must be accepted separately on its own Hub page.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cosmos_tui.core.catalog import ModelSpec, RepoSpec
from cosmos_tui.core.hub import settings


class AccessStatus(StrEnum):
    """The verdict for one repository."""

    OK = "ok"
    NOT_LOGGED_IN = "not-logged-in"
    LICENCE_NOT_ACCEPTED = "licence-not-accepted"
    DENIED = "denied"
    NOT_FOUND = "not-found"
    OFFLINE = "offline"
    ERROR = "error"  # the Hub answered with an unexpected failure (5xx, ...)


@dataclass(frozen=True)
class RepoAccess:
    """Whether the active account can read one repository the model needs."""

    repo_id: str
    revision: str
    role: str
    needed_for: str
    status: AccessStatus
    detail: str
    page_url: str  # where to accept the licence or ask for access

    @property
    def ok(self) -> bool:
        return self.status is AccessStatus.OK


def _verdict(spec: RepoSpec, logged_in: bool) -> tuple[AccessStatus, str]:
    """Ask the Hub about one repo: HEAD of its first needed file, else the repo's auth-check."""
    hub = settings.hf()
    from huggingface_hub import errors  # deferred: huggingface_hub, only when the Hub is used

    ep = settings.endpoint()
    page = spec.page_url(ep)
    try:
        if spec.files:
            url = hub.hf_hub_url(spec.repo_id, spec.files[0], revision=spec.revision, endpoint=ep)
            hub.get_hf_file_metadata(url, endpoint=ep)
        else:
            hub.HfApi(endpoint=ep).auth_check(spec.repo_id)
    except errors.GatedRepoError:
        if not logged_in:
            return (
                AccessStatus.NOT_LOGGED_IN,
                "gated repo: log in with 'cosmos-tui hf login', then accept the licence",
            )
        return AccessStatus.LICENCE_NOT_ACCEPTED, f"accept the licence at {page}"
    except errors.RepositoryNotFoundError:
        extra = "" if logged_in else " (if it is private, log in with 'cosmos-tui hf login')"
        return AccessStatus.NOT_FOUND, f"no repo {spec.repo_id} on {ep}{extra}"
    except errors.RevisionNotFoundError:
        return AccessStatus.NOT_FOUND, f"revision {spec.revision} is not in {spec.repo_id}"
    except errors.RemoteEntryNotFoundError:
        return AccessStatus.NOT_FOUND, f"{spec.files[0]} is not in {spec.repo_id}@{spec.revision}"
    except errors.DisabledRepoError:
        return AccessStatus.DENIED, f"access to {spec.repo_id} is disabled on the Hub"
    except errors.HfHubHTTPError as e:
        code = e.response.status_code if e.response is not None else 0
        if code == 401:
            return AccessStatus.NOT_LOGGED_IN, "the token is invalid or expired; run 'cosmos-tui hf login'"
        if code == 403:
            return (
                AccessStatus.DENIED,
                f"the token may not read {spec.repo_id}; check its permissions or {page}",
            )
        return AccessStatus.ERROR, settings.scrub(
            f"the Hub answered {code or 'an error'}: {e}".splitlines()[0]
        )
    except errors.OfflineModeIsEnabled:
        return AccessStatus.OFFLINE, "HF_HUB_OFFLINE=1 is set"
    except Exception as e:
        if settings.is_network_error(e):
            return AccessStatus.OFFLINE, f"cannot reach {ep}"
        raise
    return AccessStatus.OK, "ok"


def check_access(
    model: ModelSpec, *, inference: bool = False, checkout: Path | None = None
) -> list[RepoAccess]:
    """One :class:`RepoAccess` per repository the model needs (train; plus inference extras), at
    the revision its engine (the checkout at ``checkout``, when given) loads."""
    specs = model.repos_for(inference=inference, checkout=checkout)
    ep = settings.endpoint()
    if settings.offline():
        return [
            _result(s, AccessStatus.OFFLINE, "HF_HUB_OFFLINE=1 is set; nothing was asked", ep) for s in specs
        ]
    logged_in = settings.current_token() is not None
    seen: dict[tuple[str, str, str], tuple[AccessStatus, str]] = {}
    results = []
    for spec in specs:
        key = (spec.repo_id, spec.revision, spec.files[0] if spec.files else "")
        if key not in seen:
            seen[key] = _verdict(spec, logged_in)
        status, detail = seen[key]
        results.append(_result(spec, status, detail, ep))
    return results


def _result(spec: RepoSpec, status: AccessStatus, detail: str, ep: str) -> RepoAccess:
    return RepoAccess(
        repo_id=spec.repo_id,
        revision=spec.revision,
        role=spec.role,
        needed_for=spec.needed_for,
        status=status,
        detail=detail,
        page_url=spec.page_url(ep),
    )
