"""Process trees via psutil against real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from cosmos_tui.core.monitor.procs import ProcSampler, host_memory

BUSY_TREE = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'x = bytearray(64 << 20)\\nwhile True: pass'])\n"
    "time.sleep(30)\n"
)


def test_tree_cpu_and_rss_of_real_processes() -> None:
    root = subprocess.Popen([sys.executable, "-c", BUSY_TREE])
    pids: tuple[int, ...] = ()
    try:
        sampler = ProcSampler([root.pid])
        deadline = time.monotonic() + 10
        snap = sampler.poll()
        while len(snap.pids) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            snap = sampler.poll()
        pids = snap.pids
        assert root.pid in snap.pids and len(snap.pids) == 2 and snap.alive
        time.sleep(0.5)
        snap = sampler.poll()
        assert snap.cpu_percent > 20  # the child spins
        assert snap.rss_bytes > 64 << 20  # the child's 64 MiB buffer is resident
        assert snap.host.total_bytes > 0
    finally:
        for pid in pids:  # the spinning child too, not only the root
            if pid != root.pid:
                os.kill(pid, signal.SIGKILL)
        root.kill()
        root.wait()
    gone = ProcSampler([root.pid]).poll()
    assert not gone.alive and root.pid not in gone.pids


def test_host_memory_warning_threshold() -> None:
    mem = host_memory(low_fraction=1.0)  # everything counts as low
    assert mem.warning and "exit -9" in mem.warning
    assert host_memory(low_fraction=0.0, low_bytes=0).warning is None
