"""A real browser for the web tests: headless Chromium (the distribution's package) driven by
Selenium through the system chromedriver. The screen is read from the xterm.js terminal the page
draws on a canvas: a script installed before the page's own catches textual-serve's terminal
object when it is built, and ``screen()`` reads xterm.js's buffer (the rows the canvas shows)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from support.screens import wait_for_screen

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")

# textual.js builds one object per terminal and sets ``this.websocket_url`` first; a setter on
# Object.prototype sees that assignment and keeps the object (then defines the plain property).
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "websocket_url", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "websocket_url", {value, writable: true, enumerable: true});
    window.__textualTerminal = this;
  },
});
"""

READ_ROWS = """
const t = window.__textualTerminal && window.__textualTerminal.terminal;
if (!t) return null;
const b = t.buffer.active, rows = [];
for (let i = 0; i < t.rows; i++) {
  const line = b.getLine(b.viewportY + i);
  rows.push(line ? line.translateToString(true) : "");
}
return rows.join("\\n");
"""


def find(candidates: tuple[str, ...], name: str) -> str | None:
    for path in candidates:
        if Path(path).exists():
            return path
    return shutil.which(name)


def chromium_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) when both are installed."""
    chromium, driver = find(CHROMIUM, "chromium"), find(CHROMEDRIVER, "chromedriver")
    return (chromium, driver) if chromium and driver else None


class Browser:
    """One headless Chromium window."""

    def __init__(self, chromium: str, chromedriver: str, *, width: int = 1400, height: int = 900) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in (
            "--headless=new",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            f"--window-size={width},{height}",
        ):
            options.add_argument(arg)
        if os.geteuid() == 0:
            options.add_argument("--no-sandbox")  # Chromium refuses to sandbox as root (CI containers)
        self.driver = webdriver.Chrome(options=options, service=Service(chromedriver))
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_TERMINAL})

    def open(self, url: str) -> None:
        self.driver.get(url)

    def html(self) -> str:
        return self.driver.page_source

    def screen(self) -> str:
        """The terminal's rows as text ('' until the app has drawn)."""
        return self.driver.execute_script(READ_ROWS) or ""

    def wait_for(self, want: str | Callable[[str], bool], timeout: float = 30.0) -> str:
        return wait_for_screen(self.screen, want, timeout, "the browser's terminal")

    def press(self, *keys: str) -> None:
        """Type keys into the terminal (Selenium ``Keys`` values or text)."""
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(*keys)

    def close(self) -> None:
        self.driver.quit()
