"""`cosmos-tui web` over plain HTTP: the token on every request (no token, a wrong one, a
websocket upgrade without it or from another site's page: a 401 or 403 and never the app), the
cookie it answers the token with, static files kept in their folder, the refusals of the CLI,
and the token kept out of the app processes and the logs."""

from __future__ import annotations

import http.client
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
from web_helpers import CLI, WebServer

APP_PAGE = "textual-terminal"  # the terminal's element in textual-serve's page


def _get(server: WebServer, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def _cookie(server: WebServer) -> str:
    """The cookie the server answers the right token with (name=value)."""
    response = _get(server, f"/?token={server.token}")
    return response.getheader("Set-Cookie").split(";", 1)[0]


def _upgrade(cookie: str | None = None, origin: str | None = None) -> dict[str, str]:
    headers = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    if cookie:
        headers["Cookie"] = cookie
    if origin:
        headers["Origin"] = origin
    return headers


@pytest.mark.timeout(60)
def test_without_the_token_every_path_is_401_and_never_the_app(web: WebServer) -> None:
    wrong = web.token[:-1] + ("A" if web.token[-1] != "A" else "B")  # one character off
    for path in ("/", "/ws", "/static/js/textual.js", "/static/css/xterm.css", "/download/x", "/nope"):
        for query in ("", "?token=", "?token=guess", f"?token={wrong}", f"?token={web.token}x"):
            response = _get(web, path + query)
            assert response.status == 401, (path, query, response.status)
            assert APP_PAGE.encode() not in response.body and b"<html" not in response.body.lower()
            assert b"needs its token" in response.body
    # A cookie with a wrong value is no better than none.
    response = _get(web, "/", {"Cookie": f"cosmos_tui_web_{web.port}={wrong}"})
    assert response.status == 401 and APP_PAGE.encode() not in response.body
    # Another port's cookie (another server on this host) is not this one's.
    response = _get(web, "/", {"Cookie": f"cosmos_tui_web_1={web.token}"})
    assert response.status == 401


@pytest.mark.timeout(60)
def test_the_token_sets_a_strict_cookie_and_leaves_the_address(web: WebServer) -> None:
    response = _get(web, f"/?token={web.token}&fontsize=14")
    assert response.status == 302
    assert response.getheader("Location") == "/?fontsize=14"  # the token leaves the address bar
    elsewhere = _get(web, f"//evil.example/?token={web.token}")
    assert elsewhere.getheader("Location") == "/evil.example/"  # a path here, never another site
    cookie = response.getheader("Set-Cookie")
    assert cookie.startswith(f"cosmos_tui_web_{web.port}={web.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert response.getheader("Referrer-Policy") == "no-referrer"
    page = _get(web, "/", {"Cookie": cookie.split(";", 1)[0]})
    assert page.status == 200 and APP_PAGE.encode() in page.body
    assert f"ws://127.0.0.1:{web.port}/ws".encode() in page.body
    assert page.getheader("X-Frame-Options") == "DENY"
    # The page's URLs follow the address the browser used (an SSH tunnel's local port).
    tunnel = _get(web, "/", {"Cookie": cookie.split(";", 1)[0], "Host": "localhost:9999"})
    assert b"ws://localhost:9999/ws" in tunnel.body
    assert _get(web, "/static/js/textual.js", {"Cookie": cookie.split(";", 1)[0]}).status == 200


@pytest.mark.timeout(60)
def test_a_websocket_needs_the_cookie_and_this_servers_page(web: WebServer) -> None:
    cookie = _cookie(web)
    assert _get(web, "/ws", _upgrade()).status == 401
    assert _get(web, f"/ws?token={web.token[:10]}", _upgrade()).status == 401
    foreign = _get(web, "/ws", _upgrade(cookie, origin="http://evil.example"))
    assert foreign.status == 403  # another site's page, even in a browser that sent the cookie
    # DNS rebinding: a foreign name for this address is a foreign origin too
    rebound = _get(web, "/ws", _upgrade(cookie, origin=f"http://evil.example:{web.port}"))
    assert rebound.status == 403
    assert web.app_processes() == []  # none of them started an app
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    conn.request("GET", "/ws?width=80&height=24", headers=_upgrade(cookie, f"http://127.0.0.1:{web.port}"))
    assert conn.getresponse().status == 101  # the check lets the server's own page through
    web.wait_apps(1)
    conn.close()
    web.wait_apps(0)  # the tab closed: its app process ended


@pytest.mark.timeout(60)
def test_static_files_stay_in_their_folder(web: WebServer) -> None:
    headers = {"Cookie": _cookie(web)}
    for path in (
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/js/..%2f..%2f..%2fserver.py",
        "/static//etc/passwd",
    ):
        response = _get(web, path, headers)
        assert response.status in (400, 403, 404), (path, response.status)
        assert b"root:" not in response.body and b"import" not in response.body
    assert _get(web, "/static/", headers).status in (403, 404)  # no folder listing
    assert _get(web, "/static/js/", headers).status in (403, 404)


def _web_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=30, env=env or dict(os.environ)
    )


@pytest.mark.timeout(60)
def test_a_non_loopback_address_needs_a_chosen_token(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.7", "gpu-box.example"):
        res = _web_cli("--host", host, "--port", "0")
        assert res.returncode == 2, (host, res.stderr)
        assert res.stdout == "" and len(res.stderr.strip().splitlines()) == 1
        assert "refusing to serve on" in res.stderr and "--token-file" in res.stderr
        assert "Traceback" not in res.stderr
    short = _web_cli("--host", "0.0.0.0", "--token", "hunter2")
    assert short.returncode == 2 and "at least 16" in short.stderr
    token_file = tmp_path / "token"
    token_file.write_text("a-long-enough-chosen-token-0123456789\n")
    token_file.chmod(0o644)
    loose = _web_cli("--host", "0.0.0.0", "--token-file", str(token_file))
    assert loose.returncode == 2 and "chmod 600" in loose.stderr
    both = _web_cli("--token", "a" * 20, "--token-file", str(token_file))
    assert both.returncode == 2 and "not both" in both.stderr


@pytest.mark.timeout(60)
def test_a_chosen_token_serves_any_address_and_is_never_printed(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    chosen = "a-long-enough-chosen-token-0123456789"
    token_file.write_text(chosen + "\n")
    token_file.chmod(stat.S_IRUSR | stat.S_IWUSR)
    with open(tmp_path / "out", "wb") as out:
        proc = subprocess.Popen(
            [*CLI, "--host", "0.0.0.0", "--port", "0", "--token-file", str(token_file)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while "token=<the token you chose>" not in (text := (tmp_path / "out").read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, text
            time.sleep(0.1)
        assert chosen not in text
        port = int(text.split("http://0.0.0.0:")[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/?token={chosen}")
        assert conn.getresponse().status == 302
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("chosen", [False, True], ids=["random", "chosen-in-env"])
def test_the_token_is_in_no_app_process_and_no_log_line(tmp_path: Path, chosen: bool) -> None:
    env = dict(os.environ)
    if chosen:
        env["COSMOS_TUI_WEB_TOKEN"] = "chosen-token-from-the-environment-42"
    web = WebServer(tmp_path, env=env, token=env.get("COSMOS_TUI_WEB_TOKEN"))
    try:
        _token_kept_out(web, printed=not chosen)
    finally:
        web.close()


def _token_kept_out(web: WebServer, *, printed: bool) -> None:
    cookie = _cookie(web)
    _get(web, "/?token=wrong-guess")
    _get(web, f"/static/js/textual.js?token={web.token}")
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    conn.request("GET", "/ws?width=100&height=30", headers=_upgrade(cookie))
    assert conn.getresponse().status == 101
    (app,) = web.wait_apps(1)
    time.sleep(1.0)  # let the app start whatever it starts
    for proc in [app, *app.children(recursive=True)]:
        argv = " ".join(proc.cmdline())
        assert web.token not in argv, argv
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().decode(errors="replace")
        assert web.token not in environ and "COSMOS_TUI_WEB_TOKEN" not in environ
    assert os.getpgid(app.pid) == app.pid != os.getpgid(web.proc.pid)  # its own process group
    conn.close()
    web.wait_apps(0)
    assert web.ctrl_c() == 0
    log = web.stderr()
    assert "tab opened" in log and "tab closed" in log  # the log is there, and says things
    assert web.token not in log and "wrong-guess" not in log
    assert web.stdout().count(web.token) == (1 if printed else 0)  # a chosen token is never printed


@pytest.mark.timeout(60)
def test_a_port_in_use_is_one_sentence_and_exit_2() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = _web_cli("--port", str(port))
    assert res.returncode == 2 and res.stdout == ""
    want = f"cannot listen on 127.0.0.1:{port}: address already in use; pick another --port"
    assert res.stderr.startswith(f"error: {want}") and res.stderr.count("\n") == 1


def test_a_log_line_and_its_traceback_never_show_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from cosmos_tui.tui import web

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    token = "the-secret-token-0123456789abcdef"
    try:
        web._logging(token)
        try:
            raise ValueError(f"bad request GET /?token={token}")
        except ValueError:
            logging.getLogger("aiohttp.server").exception("Error handling %s", f"/ws?token={token}&x=1")
        logging.getLogger("textual-serve").warning("a guess: /?token=guess-123")
    finally:
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err
    assert "Error handling /ws?token=<redacted>&x=1" in err and "ValueError: bad request" in err
    assert token not in err and "guess-123" not in err
