"""Who may reach ``cosmos-tui web``: one secret token, required on every request.

The server binds 127.0.0.1 unless told otherwise, but a loopback address alone keeps out only
other machines: every user of a shared GPU host can reach it. So a random token (256 bits) is
made at start, and every request must carry it: the first visit as ``?token=…`` (answered with
an HttpOnly, SameSite=Strict cookie and a redirect to the same page without it, so the token
leaves the address bar), every later one (page, static files, the websocket upgrade, downloads)
through that cookie. Anything else gets a 401 and a sentence, never the app. Tokens are compared
in constant time (:func:`hmac.compare_digest`). A websocket upgrade must also come from a page
of this server (its ``Origin`` names the address it was sent to): a page of another site cannot
drive the app even in a browser that would send the cookie.

A chosen token (``--token``, ``COSMOS_TUI_WEB_TOKEN`` or ``--token-file``) is required to serve on
an address other machines can reach; it must be long enough to resist guessing, and its file
private to its owner, like an SSH key.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import secrets
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from cosmos_tui.core.display import printable
from cosmos_tui.core.errors import UsageError

TOKEN_ENV = "COSMOS_TUI_WEB_TOKEN"
"""The environment variable a chosen token may come in (kept out of argv, unlike ``--token``)."""
MIN_TOKEN_CHARS = 16
"""The shortest chosen token accepted: a guess a second over a day of trying gets nowhere."""
LOOPBACK_NAMES = ("localhost",)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",  # no URL of this server leaks into another site's logs
    "X-Frame-Options": "DENY",  # no other page frames the app (clickjacking)
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

UNAUTHORIZED = (
    "401: this cosmos-tui web server needs its token: open the address it printed at start "
    "(http://HOST:PORT/?token=...), or pass the token you chose as ?token=...\n"
)


def new_token() -> str:
    """A fresh random token (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name (or 0.0.0.0, ""): reachable from elsewhere as far as we know


def checked_token(token: str, source: str) -> str:
    """``token`` (from ``source``, for the message) stripped, or a UsageError when it is too short
    or holds characters a URL or cookie cannot carry as they are."""
    token = token.strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise UsageError(
            f"the token from {source} has {len(token)} characters; use at least {MIN_TOKEN_CHARS} "
            "random ones (for example: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if not re.fullmatch(r"[A-Za-z0-9._~-]+", token):
        raise UsageError(
            f"the token from {source} holds characters other than letters, digits and . _ ~ -; "
            "use a URL-safe token (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


def read_token_file(path: Path) -> str:
    """The token in ``path`` (its first line), refused when others may read the file."""
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UsageError(f"cannot read the token file {printable(str(path))}: {e.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"the token file {printable(str(path))} is not a regular file")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(
            f"the token file {printable(str(path))} can be read by other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}); make it private: chmod 600 {printable(str(path))}"
        )
    first = text.splitlines()[0] if text.strip() else ""
    return checked_token(first, f"the token file {printable(str(path))}")


def choose_token(host: str, token: str | None, token_file: Path | None) -> tuple[str, bool]:
    """The token to require and whether it was chosen by the user (then it is never printed).

    Serving on an address other machines can reach needs a chosen token: a one-off token printed
    on a terminal is fine for a tunnel, not for a port open to a network."""
    if token is not None and token_file is not None:
        raise UsageError("pass either --token (or COSMOS_TUI_WEB_TOKEN) or --token-file, not both")
    if token_file is not None:
        return read_token_file(token_file), True
    if token is not None:
        return checked_token(token, f"--token or {TOKEN_ENV}"), True
    if not is_loopback(host):
        raise UsageError(
            f"refusing to serve on {printable(host)}, which other machines can reach, without a token "
            f"you chose: pass --token-file FILE (or set {TOKEN_ENV}), or keep the default 127.0.0.1 "
            "and reach it through an SSH tunnel (ssh -L 8765:127.0.0.1:8765 HOST)"
        )
    return new_token(), False


def cookie_name(port: int) -> str:
    """The cookie holding the token. Browsers share cookies between the ports of one host, so the
    name carries the port: two servers on one machine do not overwrite each other's."""
    return f"cosmos_tui_web_{port}"


class TokenGate:
    """The aiohttp middleware that lets through only requests carrying the token."""

    def __init__(self, token: str, port: int) -> None:
        self._token = token.encode()
        self.port = port

    def matches(self, supplied: str | None) -> bool:
        """Whether ``supplied`` is the token (constant time in the token's content)."""
        return supplied is not None and hmac.compare_digest(supplied.encode("utf-8", "replace"), self._token)

    @staticmethod
    def _same_origin(request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:  # not a browser page (a script the token holder runs)
            return True
        return urlsplit(origin).netloc.lower() == (request.host or "").lower()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        name = cookie_name(self.port)
        if "token" in request.query:
            if not self.matches(request.query.get("token")):
                return _refused(401, UNAUTHORIZED)
            query = {k: v for k, v in request.query.items() if k != "token"}
            # The same path without the token, never "//host/…" (a redirect to another site).
            location = str(request.rel_url.with_path("/" + request.path.lstrip("/")).with_query(query))
            response = web.Response(status=302, headers={**SECURITY_HEADERS, "Location": location})
            response.set_cookie(
                name,
                self._token.decode(),
                path="/",
                httponly=True,
                samesite="Strict",
                secure=request.secure,
            )
            return response
        if not self.matches(request.cookies.get(name)):
            return _refused(401, UNAUTHORIZED)
        if request.headers.get("Upgrade", "").lower() == "websocket" and not self._same_origin(request):
            return _refused(403, "403: a websocket to this server must come from its own page\n")
        answer = await handler(request)
        if not answer.prepared:
            answer.headers.update(SECURITY_HEADERS)
            if request.path.startswith("/static/"):  # the same for every tab: let the browser keep it
                answer.headers["Cache-Control"] = "private, max-age=3600"
        return answer


def _refused(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, headers=SECURITY_HEADERS)


def redacting(token: str) -> Callable[[str], str]:
    """A function that removes ``token`` (and any ``token=`` query value) from a log line."""
    pattern = re.compile(r"(token=)[^&\s\"']+")

    def redact(line: str) -> str:
        return pattern.sub(r"\1<redacted>", line.replace(token, "<redacted>"))

    return redact


def token_from_env() -> str | None:
    """The chosen token in ``COSMOS_TUI_WEB_TOKEN`` (removed from this process's environment, so
    no app process, run supervisor or torchrun started below inherits it)."""
    return os.environ.pop(TOKEN_ENV, None)
