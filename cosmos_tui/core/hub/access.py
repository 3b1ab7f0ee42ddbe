"""Can this account download what a model needs? One verdict per repository.

The check users most lack: a model needs several gated repos (weights, tokenizer, text encoder,
guardrail), and each one's licence must be accepted separately on its own Hub page.

Two different 403s. huggingface_hub raises ``GatedRepoError`` when the Hub says ``X-Error-Code:
GatedRepo`` (the licence is not accepted: accept it on the repo's page), and a plain
``HfHubHTTPError`` with status 403 otherwise. Since the Hub's storage migration a revision that
upstream code pinned long ago can answer that plain 403 for a repo the account reads fine at
``main``; so on a plain 403 at a pinned revision the same file is asked for at ``main``, and a
readable ``main`` makes the verdict ``revision-forbidden`` (update or drop the pin), not
``denied`` (the token's permissions).
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
    REVISION_FORBIDDEN = "revision-forbidden"  # a pinned revision answers 403, main reads fine
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
    repo_type: str = "model"  # or "dataset": the model's training data (``check_access(datasets=True)``)

    @property
    def ok(self) -> bool:
        return self.status is AccessStatus.OK


def _file_to_ask(spec: RepoSpec, ep: str) -> str | None:
    """The file whose HEAD at ``spec.revision`` proves read access (raises the client's error).

    A repo with exact files: the first one. A whole repo: ``None`` after the Hub's auth-check,
    except at a pinned revision, which the auth-check ignores: then one of its files there
    (README.md when it has one).
    """
    if spec.files:
        return spec.files[0]
    api = settings.hf().HfApi(endpoint=ep)
    api.auth_check(spec.repo_id, repo_type=spec.repo_type)
    if not spec.pinned:
        return None
    info = api.repo_info(spec.repo_id, revision=spec.revision, repo_type=spec.repo_type)
    names = [s.rfilename for s in info.siblings or ()]
    return "README.md" if "README.md" in names else (names[0] if names else None)


def _head(spec: RepoSpec, path: str, revision: str, ep: str) -> None:
    hub = settings.hf()
    url = hub.hf_hub_url(spec.repo_id, path, repo_type=spec.repo_type, revision=revision, endpoint=ep)
    hub.get_hf_file_metadata(url, endpoint=ep)


def _main_reads(spec: RepoSpec, path: str | None, ep: str) -> bool:
    """Whether ``path`` of the repo reads at ``main`` (``None``: the 403 was not a file's)."""
    if path is None:
        return False
    try:
        _head(spec, path, "main", ep)
    except Exception:  # any failure at main means the 403 is not (only) the pin's
        return False
    return True


def _stale_pin_fix(spec: RepoSpec, engine: str) -> str:
    """What to do when ``spec``'s pinned revision answers 403 but ``main`` reads."""
    said = (
        f"the pinned revision {spec.revision} answers 403 while main reads fine (pins from before the "
        "Hub's storage migration can)"
    )
    if spec.role == "dataset":  # pinned by upstream's docs, which the catalog follows
        return (
            f"{said}: download it at main instead (drop --revision {spec.revision} from upstream's "
            f"`hf download --repo-type {spec.repo_type} {spec.repo_id}` command) or at a current commit"
        )
    where = f"your {engine} checkout" if engine else "the engine checkout"
    return (
        f"{said}: update {where} to a commit that pins a current revision of {spec.repo_id}, or "
        f"replace the pin {spec.revision} with main where the checkout sets it"
    )


def _verdict(spec: RepoSpec, logged_in: bool, engine: str = "") -> tuple[AccessStatus, str]:
    """Ask the Hub about one repo at the revision its ``engine`` loads (see :func:`_file_to_ask`)."""
    from huggingface_hub import errors  # deferred: huggingface_hub, only when the Hub is used

    ep = settings.endpoint()
    page = spec.page_url(ep)
    path: str | None = None
    try:
        path = _file_to_ask(spec, ep)
        if path is not None:
            _head(spec, path, spec.revision, ep)
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
        return (
            AccessStatus.NOT_FOUND,
            f"revision {spec.revision} is not in {spec.repo_id}; update the engine checkout or that pin",
        )
    except errors.RemoteEntryNotFoundError:
        return AccessStatus.NOT_FOUND, f"{path} is not in {spec.repo_id}@{spec.revision}"
    except errors.DisabledRepoError:
        return AccessStatus.DENIED, f"access to {spec.repo_id} is disabled on the Hub"
    except errors.HfHubHTTPError as e:
        code = e.response.status_code if e.response is not None else 0
        if code == 401:
            return AccessStatus.NOT_LOGGED_IN, "the token is invalid or expired; run 'cosmos-tui hf login'"
        if code == 403 and spec.pinned and _main_reads(spec, path, ep):
            return AccessStatus.REVISION_FORBIDDEN, _stale_pin_fix(spec, engine)
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
    model: ModelSpec, *, inference: bool = False, checkout: Path | None = None, datasets: bool = False
) -> list[RepoAccess]:
    """One :class:`RepoAccess` per repository the model needs (train; plus inference extras), at
    the revision its engine (the checkout at ``checkout``, when given) loads; with ``datasets``
    also each dataset its recipes train on, at the revision upstream's docs pin."""
    specs = model.repos_for(inference=inference, checkout=checkout)
    if datasets:
        specs += tuple(d.as_repo() for d in model.datasets)
    ep = settings.endpoint()
    if settings.offline():
        return [
            _result(s, AccessStatus.OFFLINE, "HF_HUB_OFFLINE=1 is set; nothing was asked", ep) for s in specs
        ]
    logged_in = settings.current_token() is not None
    seen: dict[tuple[str, str, str, str], tuple[AccessStatus, str]] = {}
    results = []
    for spec in specs:
        key = (spec.repo_type, spec.repo_id, spec.revision, spec.files[0] if spec.files else "")
        if key not in seen:
            seen[key] = _verdict(spec, logged_in, model.engine)
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
        repo_type=spec.repo_type,
    )
