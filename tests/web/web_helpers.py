"""The web tests' server: ``cosmos-tui web`` as a real subprocess in its own session (as a shell
starts it: Ctrl-C there signals its whole process group, which :meth:`WebServer.ctrl_c` does)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

CLI = [sys.executable, "-m", "cosmos_tui", "web"]
_ADDRESS = re.compile(r"^http://127\.0\.0\.1:(\d+)/\?token=(.+)$", re.M)


class WebServer:
    """One ``cosmos-tui web --port 0`` and what it printed."""

    def __init__(
        self, workdir: Path, *args: str, env: dict[str, str] | None = None, token: str | None = None
    ) -> None:
        """``token``: the one chosen in ``env`` or ``args`` (then the address is printed without it)."""
        self.out, self.err = workdir / "web.stdout", workdir / "web.stderr"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [*CLI, "--port", "0", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env if env is not None else dict(os.environ),
                start_new_session=True,
            )
        try:
            self.port, printed = self._address()
        except BaseException:
            self.close()  # a server that printed no address still goes
            raise
        self.token = token or printed
        self.base = f"http://127.0.0.1:{self.port}"

    def _address(self, timeout: float = 30.0) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = _ADDRESS.search(self.out.read_text())
            if m:
                return int(m.group(1)), m.group(2)
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"cosmos-tui web printed no address:\n{self.stdout()}\n{self.stderr()}")

    @property
    def url(self) -> str:
        """The address it printed (with the token)."""
        return f"{self.base}/?token={self.token}"

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def app_processes(self) -> list[psutil.Process]:
        """The app processes it runs now (its children)."""
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def wait_apps(self, count: int, timeout: float = 30.0) -> list[psutil.Process]:
        deadline = time.monotonic() + timeout
        while True:
            apps = self.app_processes()
            if len(apps) == count:
                return apps
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(apps)} app processes, not {count}")
            time.sleep(0.1)

    def ctrl_c(self, timeout: float = 30.0, sig: signal.Signals = signal.SIGINT) -> int:
        """SIGINT to its process group, as Ctrl-C in its terminal (or ``sig``: SIGTERM, as a
        service manager stops it); its exit code."""
        os.killpg(self.proc.pid, sig)
        return self.proc.wait(timeout)

    def close(self) -> None:
        """Make sure nothing it started outlives the test."""
        groups = {p.pid for p in self.app_processes()}
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
