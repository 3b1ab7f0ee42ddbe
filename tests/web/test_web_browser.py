"""`cosmos-tui web` in a real browser: headless Chromium (the distribution's package) through
Selenium. With the token the page shows the runs list with the run and Enter opens its dashboard;
without it the app never appears; Ctrl-C stops the server and every app process it started, and
a run started before goes on."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
from selenium.webdriver.common.keys import Keys
from support.browser import Browser
from support.runs import wait_run
from tui_world import RUN_OK, write_run
from web_helpers import WebServer

from cosmos_tui.core.engines.base import LaunchSpec
from cosmos_tui.core.presets import Preset
from cosmos_tui.core.runs import get_run, launch_prepared, procs, stop_run
from cosmos_tui.core.runs.targets import Prepared


def _row_whole(screen: str) -> bool:
    return any(RUN_OK in line and "40/40" in line for line in screen.splitlines())


@pytest.mark.timeout(60)
def test_with_the_token_the_runs_list_shows_the_run_enter_opens_its_dashboard_n_the_wizard(
    tmp_path: Path, browser: Browser
) -> None:
    write_run(RUN_OK, status="finished", iters=40, max_iter=40, exit_code=0, checkpoints=(10, 20, 30, 40))
    web = WebServer(tmp_path)  # after the run is written: the app reads the same state root
    try:
        browser.open(web.url)
        assert "token=" not in browser.driver.current_url  # the redirect took it out of the address bar
        browser.wait_for(_row_whole, 40)
        browser.press(Keys.ENTER)
        browser.wait_for(lambda s: "FINISHED" in s and "iter 40/40" in s, 30)
        browser.press(Keys.ESCAPE)
        browser.wait_for(lambda s: "1 run" in s and RUN_OK in s, 20)
        browser.press("n")  # the new-run wizard, reading the catalog
        browser.wait_for(lambda s: "1 · Model" in s and "builtin-s2mv-tiny" in s, 30)
        browser.press(Keys.ESCAPE)
        browser.wait_for("Leave the new-run wizard?", 20)
        browser.press("y")
        browser.wait_for(lambda s: "1 run" in s and RUN_OK in s, 20)
        # A second tab is a second app process; closing the page ends its process.
        assert len(web.app_processes()) == 1
        browser.driver.get("about:blank")
        web.wait_apps(0)
    finally:
        web.close()


@pytest.mark.timeout(60)
def test_without_the_token_the_app_never_appears(web: WebServer, browser: Browser) -> None:
    for url in (f"{web.base}/", f"{web.base}/?token=wrong-one", f"{web.base}/?token={web.token[:-2]}"):
        browser.open(url)
        time.sleep(1.0)
        html = browser.html()
        assert "needs its token" in html
        assert "textual-terminal" not in html and browser.screen() == ""
    assert web.app_processes() == []


def _sleeper_run(tmp_path: Path) -> str:
    """A real run (record, supervisor in its own session, a child printing steps) that lasts."""
    code = "import time; [(print(f'step {i}', flush=True), time.sleep(0.1)) for i in range(3000)]"
    spec = LaunchSpec(argv=(sys.executable, "-c", code), cwd=tmp_path, python=sys.executable)
    return launch_prepared(Prepared(Preset(), spec, tmp_path / "job", "adapter", ())).id


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_the_server_and_its_apps_and_the_run_goes_on(
    tmp_path: Path, browser: Browser, sig: signal.Signals
) -> None:
    run_id = _sleeper_run(tmp_path)
    record = wait_run(run_id, lambda r: r.status == "running" and r.agent is not None, 30)
    web = WebServer(tmp_path)
    try:
        browser.open(web.url)
        browser.wait_for(run_id, 40)  # the run, running, in the browser's runs list
        (app,) = web.wait_apps(1)
        group = [app, *app.children(recursive=True)]
        assert web.ctrl_c(20, sig) == 0
        _gone, alive = psutil.wait_procs(group, timeout=10)
        assert not alive, f"app processes left after Ctrl-C: {alive}"
        assert "stopping: 1 app process(es)" in web.stderr()
    finally:
        web.close()
    steps = record.console_log.read_text().count("step ")
    time.sleep(1.0)
    after = get_run(run_id)
    assert after.status == "running" and procs.alive(after.agent) and procs.alive(after.supervisor)
    assert record.console_log.read_text().count("step ") > steps  # still printing
    stop_run(run_id)


EVIL = """<!doctype html><title>waiting</title><script>
const results = [];
const ws = new WebSocket("ws://127.0.0.1:PORT/ws?width=80&height=24");
ws.onopen = () => { results.push("ws-open"); document.title = results.join(" "); };
ws.onclose = () => { results.push("ws-refused"); document.title = results.join(" "); };
fetch("http://127.0.0.1:PORT/", {credentials: "include"})
  .then(r => r.text()).then(t => results.push(t.includes("textual-terminal") ? "read-app" : "read-other"))
  .catch(() => results.push("fetch-blocked"))
  .finally(() => { document.title = results.join(" "); });
</script>"""


@pytest.mark.timeout(60)
def test_another_sites_page_in_the_same_browser_cannot_open_the_app(
    tmp_path: Path, web: WebServer, browser: Browser
) -> None:
    """A page on another port of the same host is *same-site* (ports do not count), so the browser
    sends it the cookie: the websocket's Origin check is what refuses it."""
    import http.server
    import threading

    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "index.html").write_text(EVIL.replace("PORT", str(web.port)))
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path / "evil"))  # noqa: E731
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        browser.open(web.url)  # the person's own tab: the browser now holds the cookie
        browser.wait_for("cosmos-tui", 40)
        browser.open(f"http://127.0.0.1:{evil.server_address[1]}/index.html")
        web.wait_apps(0)  # the app tab is gone
        deadline = time.monotonic() + 20
        while "ws-" not in (title := browser.driver.title) or ("fetch" not in title and "read" not in title):
            assert time.monotonic() < deadline, title
            time.sleep(0.2)
        assert "ws-refused" in title and "ws-open" not in title
        assert "read-app" not in title  # CORS keeps the page's answer from it
        assert web.app_processes() == []
    finally:
        evil.shutdown()


CELL_COLOURS = """
const t = window.__textualTerminal.terminal, b = t.buffer.active, seen = {};
for (let y = 0; y < t.rows; y++) {
  const line = b.getLine(b.viewportY + y);
  for (let x = 0; x < t.cols; x++) {
    const c = line.getCell(x);
    if (c && c.getChars() === arguments[0] && c.isFgRGB()) {
      seen[c.getFgColor()] = (seen[c.getFgColor()] || 0) + 1;
    }
  }
}
return seen;
"""


@pytest.mark.timeout(60)
def test_sample_images_draw_as_half_blocks_and_play_opens_the_mp4_in_a_tab(
    tmp_path: Path, browser: Browser
) -> None:
    from support.sample_sets import write_sample_set

    record = write_run(RUN_OK, status="finished", iters=40, max_iter=40, exit_code=0, checkpoints=(40,))
    write_sample_set(Path(record.job_dir), None, (1.0, -1.0, -1.0), size=(32, 48))  # red, a white square
    web = WebServer(tmp_path)
    try:
        browser.open(web.url)
        browser.wait_for(_row_whole, 40)
        browser.press(Keys.ENTER)
        browser.wait_for("FINISHED", 30)
        browser.press("S")
        screen = browser.wait_for(lambda s: "base" in s and "▀" in s, 30)
        colours = {int(k): v for k, v in browser.driver.execute_script(CELL_COLOURS, "▀").items()}
        red = sum(n for rgb, n in colours.items() if rgb >> 16 > 200 and (rgb >> 8) & 255 < 60)
        assert red >= 20, (colours, screen)  # the image's red pixels, drawn by xterm.js
        if shot := os.environ.get("COSMOS_TUI_WEB_SCREENSHOT"):
            browser.driver.save_screenshot(shot)  # to look at it
        # Play: the browser is the player; the mp4 opens in a new tab, through the token gate.
        browser.press("p")
        browser.wait_for("to your browser", 20)
        deadline = time.monotonic() + 20
        while len(browser.driver.window_handles) < 2:
            assert time.monotonic() < deadline, "no tab opened for the mp4"
            time.sleep(0.2)
        browser.driver.switch_to.window(browser.driver.window_handles[-1])
        assert "/download/" in browser.driver.current_url
        assert browser.driver.execute_script("return document.contentType") == "video/mp4"
    finally:
        web.close()
