"""An app process that will not quit: :class:`cosmos_tui.tui.web.AppProcess` ends its whole
process group (SIGTERM, then SIGKILL), children included, and nothing outside the group."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import psutil
import pytest
from test_web_gate import _cookie, _upgrade
from web_helpers import WebServer

from cosmos_tui.tui import web
from cosmos_tui.tui.web import AppProcess

# Says it is a Textual app, starts a child in its group and one in a session of its own (as a run's
# supervisor is), then ignores quit requests, SIGTERM and SIGINT.
STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
kid = subprocess.Popen([sys.executable, "-c", deaf])
own = subprocess.Popen(  # as a run's supervisor: its own session, none of the app's pipes
    [sys.executable, "-c", "import time; time.sleep(120)"],
    start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
open(sys.argv[1], "w").write(f"{kid.pid} {own.pid}")
sys.stdout.write("__GANGLION__\\n"); sys.stdout.flush()
time.sleep(120)
"""


async def _noop(*args: object) -> None:
    return None


@pytest.mark.timeout(60)
async def test_an_app_that_ignores_quit_and_sigterm_is_killed_with_its_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = tmp_path / "pids"
    monkeypatch.setattr(web, "APP_ARGV", (sys.executable, "-c", STUBBORN, str(pids)))
    monkeypatch.setattr(web, "QUIT_GRACE_S", 1.0)
    monkeypatch.setattr(web, "TERM_GRACE_S", 1.0)
    from textual_serve.download_manager import DownloadManager

    service = AppProcess(
        "app", write_bytes=_noop, write_str=_noop, close=_noop, download_manager=DownloadManager()
    )
    await service.start(80, 24)
    deadline = time.monotonic() + 30
    while not pids.exists() or not pids.read_text():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    kid, own = (psutil.Process(int(p)) for p in pids.read_text().split())
    assert os.getpgid(service.pid) == service.pid  # its own group, led by the app
    started = time.monotonic()
    await service.stop()
    took = time.monotonic() - started
    assert service.exited() and 1.5 < took < 10  # the quit and SIGTERM graces, then SIGKILL
    _gone, alive = psutil.wait_procs([kid], timeout=5)
    assert not alive, "a child in the app's group outlived it"
    assert own.is_running() and own.status() != psutil.STATUS_ZOMBIE  # its own session: left alone
    own.kill()
    await asyncio.sleep(0.2)  # the loop closes the ended process's transport


@pytest.mark.timeout(60)
def test_an_app_process_ends_itself_when_the_server_is_killed(web: WebServer) -> None:
    """SIGKILL leaves the server no chance to stop its apps: each notices its parent is gone."""
    import http.client

    cookie = _cookie(web)
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    conn.request("GET", "/ws?width=80&height=24", headers=_upgrade(cookie))
    assert conn.getresponse().status == 101
    (app,) = web.wait_apps(1)
    time.sleep(2.0)  # the app is up (its parent watch running)
    web.proc.kill()
    web.proc.wait(10)
    _gone, alive = psutil.wait_procs([app], timeout=20)
    assert not alive, "an app process outlived its killed server"
    conn.close()
