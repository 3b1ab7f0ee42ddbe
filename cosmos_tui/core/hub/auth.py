"""Logging in to Hugging Face: login, logout, whoami.

The token is stored by huggingface_hub's own mechanism (the token file under ``HF_HOME``, which
cosmos-tui checks is mode 0600). It is never taken from argv, never logged, never put into an
exception message: every message that could carry it goes through :func:`settings.scrub`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Literal

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.hub import settings

TOKENS_PAGE = "https://huggingface.co/settings/tokens"


@dataclass(frozen=True)
class Account:
    """Who the active token belongs to."""

    name: str
    fullname: str
    orgs: tuple[str, ...]
    token_name: str
    token_role: str
    token_source: str  # "env" (HF_TOKEN) or "file" (the stored token)
    endpoint: str


def _network_error(e: BaseException) -> bool:
    return settings.is_network_error(e)


@contextmanager
def _hub_errors(
    token: str, *, rejected: str, failed: str, unreachable: str, value_errors: bool = False
) -> Iterator[None]:
    """Turn what a Hub call raises into one :class:`UserError`: ``rejected`` for HTTP 401,
    ``failed: <reason>`` (token scrubbed) for other HTTP errors (and ``ValueError`` when
    ``value_errors``), ``unreachable`` for a network error. Anything else propagates."""
    from huggingface_hub.errors import HfHubHTTPError  # deferred: huggingface_hub, only when the Hub is used

    try:
        yield
    except HfHubHTTPError as e:
        if e.response is not None and e.response.status_code == 401:
            raise UserError(rejected) from None
        raise UserError(f"{failed}: {settings.scrub(str(e), token)}") from None
    except ValueError as e:
        if not value_errors:
            raise
        raise UserError(f"{failed}: {settings.scrub(str(e), token)}") from None
    except Exception as e:
        if _network_error(e):
            raise UserError(unreachable) from None
        raise


def _account(info: dict) -> Account:
    token = (info.get("auth") or {}).get("accessToken") or {}
    return Account(
        name=str(info.get("name", "")),
        fullname=str(info.get("fullname", "")),
        orgs=tuple(str(o.get("name", "")) for o in info.get("orgs") or []),
        token_name=str(token.get("displayName", "")),
        token_role=str(token.get("role", "")),
        token_source=settings.token_source() or "",
        endpoint=settings.endpoint(),
    )


def _check_mode() -> None:
    """Make sure the stored token file is readable by its owner only (0600)."""
    path = settings.token_path()
    if path.exists() and stat.S_IMODE(path.stat().st_mode) != 0o600:
        os.chmod(path, 0o600)


def login(token: str) -> Account:
    """Validate ``token`` against the Hub and store it with huggingface_hub; return the account."""
    token = (token or "").strip()
    if not token:
        raise UserError(f"No token given; create a Read token at {TOKENS_PAGE} and paste it at the prompt.")
    if settings.offline():
        raise UserError("HF_HUB_OFFLINE=1 is set, so the token cannot be checked; unset it to log in.")
    hub = settings.hf()
    with _hub_errors(
        token,
        rejected=f"{settings.endpoint()} rejected the token (invalid or expired); "
        f"create a new Read token at {TOKENS_PAGE}.",
        failed="Could not log in",
        unreachable=f"Cannot reach {settings.endpoint()} to check the token; check the network.",
        value_errors=True,
    ):
        hub.login(token=token, add_to_git_credential=False, skip_if_logged_in=False)
    _check_mode()
    account = whoami()
    assert account is not None
    return account


LoggedOut = Literal["logged-out", "not-logged-in", "env-remains"]


def logout() -> LoggedOut:
    """Remove the stored token(s): ``logged-out`` when one was stored, ``not-logged-in`` when none
    was (an empty token file left behind is removed too), ``env-remains`` when ``HF_TOKEN`` still
    logs this shell in. huggingface_hub's own words ("Not logged in!", "Successfully logged
    out...") are kept quiet: the CLI and the TUI say one thing."""
    paths = (settings.token_path(), settings.hf_home() / "stored_tokens")
    stored = [p for p in paths if os.path.lexists(p)]
    had_token = False
    if stored:
        hub = settings.hf()
        had_token = _token_in(settings.token_path()) or bool(_saved_tokens())
        with _hub_quiet():
            try:
                hub.logout()
            except OSError:  # huggingface_hub raises when HF_TOKEN keeps the session logged in
                pass
        for path in stored:  # an empty or unreadable leftover huggingface_hub saw no token in
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    if settings.token_source() == "env":
        return "env-remains"
    return "logged-out" if had_token else "not-logged-in"


def _token_in(path: os.PathLike[str]) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return bool(f.read(4096).strip())
    except OSError:
        return False


def _saved_tokens() -> dict[str, str]:
    """The named tokens ``hf auth login`` saved (``stored_tokens``), as huggingface_hub reads them."""
    try:
        from huggingface_hub.utils import get_stored_tokens  # deferred: huggingface_hub

        return dict(get_stored_tokens())
    except Exception:  # an unreadable stored_tokens file holds no token we can use
        return {}


@contextmanager
def _hub_quiet() -> Iterator[None]:
    """huggingface_hub's prints (stdout) and its logger's warnings, swallowed."""
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def whoami() -> Account | None:
    """The account of the active token, or None when there is no token."""
    token = settings.current_token()
    if not token:
        return None
    if settings.offline():
        raise UserError("HF_HUB_OFFLINE=1 is set, so the token cannot be checked; unset it to ask the Hub.")
    where = "HF_TOKEN" if settings.token_source() == "env" else "the stored token"
    with _hub_errors(
        token,
        rejected=f"The Hugging Face token from {where} is invalid or expired; "
        f"run 'cosmos-tui hf login' with a new token from {TOKENS_PAGE}.",
        failed="The Hub could not say who you are",
        unreachable=f"Cannot reach {settings.endpoint()}; check the network or set HF_ENDPOINT.",
    ):
        info = settings.hf().HfApi(endpoint=settings.endpoint()).whoami(token=token)
    return _account(info)
