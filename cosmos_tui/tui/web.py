"""``cosmos-tui web``: the same TUI in a browser, one app process per tab, through textual-serve.

textual-serve (by the Textual authors) speaks the protocol of Textual's own ``WebDriver``: the app
runs unchanged in a child process whose stdin and stdout are pipes, and the page draws it with
xterm.js. This module reuses its pieces (the page template, xterm.js assets, the message loop,
downloads) and changes what a server open to a shared machine needs:

- every request passes :class:`~cosmos_tui.tui.web_gate.TokenGate` (the token, and the origin of
  a websocket); no access log is written and every log line is stripped of the token;
- each app process is started from an argv list (textual-serve uses a shell), in its own session,
  with nothing secret in its argv or environment;
- the page's URLs are built from the address the browser used (an SSH tunnel may use another
  port than the server);
- Ctrl-C or SIGTERM asks every app process to quit, then ends each one's process group (SIGTERM,
  then SIGKILL). A run started from the app keeps going: its supervisor has its own session.

Sample images render as coloured half-blocks: xterm.js here draws no Kitty or Sixel graphics.
The module serves presentation (it starts the Textual app and depends on textual-serve, which
depends on Textual), so it lives in ``tui``; ``core`` never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
from collections.abc import Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from cosmos_tui.core.errors import UsageError
from cosmos_tui.tui import web_gate
from cosmos_tui.tui.widgets import sample_image

APP_ARGV = (sys.executable, "-m", "cosmos_tui.tui.web_tab")
"""What each browser tab runs: the TUI itself, ending when this server is gone (:mod:`web_tab`)."""
QUIT_GRACE_S = 3.0
"""How long an app process has to quit when asked before its process group gets SIGTERM."""
TERM_GRACE_S = 2.0
"""How long after SIGTERM before SIGKILL."""

log = logging.getLogger("cosmos_tui.web")


class AppProcess(AppService):
    """One browser tab's app: started from an argv list in its own session (so its process group
    can be ended as a whole), without the token in its environment."""

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        env = self._build_environment(width=width, height=height)
        env.pop(web_gate.TOKEN_ENV, None)
        # Half-blocks draw in xterm.js; Kitty/Sixel do not, and probing would write into the pipe.
        keep = env.get(sample_image.ENV) == "unicode"
        env[sample_image.ENV] = "unicode" if keep else "halfcell"
        self._process = process = await asyncio.create_subprocess_exec(
            *APP_ARGV,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    @property
    def pid(self) -> int | None:
        """The app's pid (its process group's id), or None before it started."""
        return None if self._process is None else self._process.pid

    def exited(self) -> bool:
        return self._process is None or self._process.returncode is not None

    async def _wait(self, seconds: float) -> bool:
        """Whether the app exited within ``seconds``."""
        if self._process is None:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._process.wait(), seconds)
        return self.exited()

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, sig)

    async def stop(self) -> None:
        """Ask the app to quit; end its process group when it does not within the grace time."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(super().stop(), QUIT_GRACE_S)
        if not await self._wait(0):
            self._signal_group(signal.SIGTERM)
            if not await self._wait(TERM_GRACE_S):
                self._signal_group(signal.SIGKILL)
                await self._wait(TERM_GRACE_S)
        if self._stdin is not None and self.exited():
            self._stdin.close()  # its pipe: the process's transport closes once all are


class WebServer(Server):
    """textual-serve's server behind the token gate, tracking every app process it starts."""

    def __init__(self, host: str, port: int, token: str) -> None:
        super().__init__(shlex.join(APP_ARGV), host=host, port=port, title="cosmos-tui")
        self.gate = web_gate.TokenGate(token, port)
        self.apps: set[AppProcess] = set()
        self._sockets: set[web.WebSocketResponse] = set()

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.gate.middleware])
        aiohttp_jinja2.setup(app, loader=aiohttp_jinja2.jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                # No directory listing, no symlinks out of the package's folder.
                web.static(
                    "/static", self.statics_path, show_index=False, follow_symlinks=False, name="static"
                ),
            ]
        )
        return app

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, its URLs on the address the browser used (a tunnel's local port)."""
        scheme = "wss" if request.secure else "ws"
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{scheme}://{request.host}/ws",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab: its own app process for as long as its websocket is open."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)
        self._sockets.add(websocket)
        service = AppProcess(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
        )
        self.apps.add(service)
        try:
            await service.start(width, height)
            log.info("tab opened: app process %s", service.pid)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("the app process of a tab failed")
        finally:
            await service.stop()
            log.info("tab closed: app process %s ended", service.pid)
            self.apps.discard(service)
            self._sockets.discard(websocket)
            with contextlib.suppress(Exception):
                await websocket.close()
        return websocket

    async def stop_apps(self) -> None:
        """Stop every app process (in parallel) and close every tab."""
        await asyncio.gather(*(service.stop() for service in list(self.apps)), return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in list(self._sockets)), return_exceptions=True)

    async def run(self, ready: Callable[[str, int], None]) -> None:
        """Serve until SIGINT or SIGTERM, then stop every app process and return. ``ready`` is
        called with the host and the port bound (``--port 0`` picks a free one)."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = web.AppRunner(await self._make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            try:
                await site.start()
            except OSError as e:
                why = os.strerror(e.errno) if e.errno else str(e)
                raise UsageError(
                    f"cannot listen on {self.host}:{self.port}: {why.lower()}; "
                    "pick another --port (or stop what holds it)"
                ) from None
            port = int(runner.addresses[0][1])
            self.gate.port = self.port = port
            ready(self.host, port)
            await stop.wait()
            log.info("stopping: %d app process(es)", len(self.apps))
            await self.stop_apps()
        finally:
            await runner.cleanup()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


class _RedactingFormatter(logging.Formatter):
    """A log line with the token (and any ``token=`` value) taken out, tracebacks included."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__("cosmos-tui web: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def _logging(token: str) -> None:
    """Log lines (ours, aiohttp's, textual-serve's) to stderr, each stripped of the token."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter(web_gate.redacting(token)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("aiohttp.access").disabled = True


def serve(host: str, port: int, token: str, *, chosen: bool) -> None:
    """Serve the TUI on ``host:port`` until Ctrl-C; print the address to open (with the token
    when it was made here; a chosen token is never printed)."""
    _logging(token)
    server = WebServer(host, port, token)

    def ready(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        base = f"http://{shown}:{port}/"
        log.info("serving the TUI on %s (each tab runs its own app; Ctrl-C stops them, runs go on)", base)
        if chosen:
            print(f"{base}?token=<the token you chose>", flush=True)
        else:
            print(f"{base}?token={token}", flush=True)

    asyncio.run(server.run(ready))
