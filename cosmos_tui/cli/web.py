"""`cosmos-tui web`: the TUI served to a browser (each tab its own app process), for GPU machines
reached over SSH. The serving lives in :mod:`cosmos_tui.tui.web`; the token rules in
:mod:`cosmos_tui.tui.web_gate`."""

from __future__ import annotations

from pathlib import Path

import typer


def web(
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on. Anything but loopback needs a token you chose (--token-file).",
    ),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port to listen on (0: a free one)."),
    token: str | None = typer.Option(
        None,
        "--token",
        help="A token you chose (16+ URL-safe characters). Other users see argv: prefer "
        "--token-file or the COSMOS_TUI_WEB_TOKEN environment variable.",
        show_default=False,
    ),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="A file (mode 600) whose first line is the token.", show_default=False
    ),
) -> None:
    """Serve the TUI to a browser: runs list, wizard, dashboards, one app process per tab.

    Prints the address to open, with a fresh random token that every request must carry.

    From your laptop: ssh -L 8765:127.0.0.1:8765 HOST, then open the printed address.

    Ctrl-C stops the server and every app process it started; runs go on.
    """
    from cosmos_tui.tui import web_gate  # deferred: aiohttp, textual-serve, Textual

    env_token = web_gate.token_from_env()  # popped either way: nothing started below inherits it
    secret, chosen = web_gate.choose_token(host, token if token is not None else env_token, token_file)
    from cosmos_tui.tui.web import serve  # deferred: textual-serve and Textual, after the checks

    serve(host, port, secret, chosen=chosen)
