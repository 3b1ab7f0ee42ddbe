"""No secret leaks: the whole demo and a launch run with ``HF_TOKEN``, ``WANDB_API_KEY`` and a stored
HF token (``hf login --stdin``, checked against the ``HfTestServer`` test double) set to canaries.
Every file under the state root, the job folders, HF_HOME (but the token files themselves), the W&B
offline files, the commands' stdout/stderr and every process's argv while they run (sampled from
/proc through psutil) must be free of them. The stored token files are 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest
from support.hf_test_server import HfTestServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HF_CANARY = "hf_CanaryEnvTokenZq81xXw0a1b2c3d4e5f6"
STORED_CANARY = "hf_CanaryStoredTokenPp27yYv9z8y7x6w5"
WANDB_CANARY = "c4nary0f1e2d3c4b5a69788796a5b4c3d2e1f0ab"
CANARIES = (HF_CANARY, STORED_CANARY, WANDB_CANARY)
TOKEN_FILES = ("token", "stored_tokens")


class ArgvSampler(threading.Thread):
    """Reads every process's argv every 50 ms and keeps any that holds a canary."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.hits: list[list[str]] = []
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            for proc in psutil.process_iter(["cmdline"]):
                argv = proc.info.get("cmdline") or []
                if any(c in a for a in argv for c in CANARIES):
                    self.hits.append(argv)
            self.samples += 1


def _scan(folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.name not in TOKEN_FILES:
            data = path.read_bytes()
            found += [f"{path}: {c[:12]}..." for c in CANARIES if c.encode() in data]
    return found


def test_no_canary_anywhere(isolated_home: Path, tmp_path: Path) -> None:
    server = HfTestServer()
    server.add_user(HF_CANARY, "envuser")
    server.add_user(STORED_CANARY, "storeduser")
    with server:
        base = {**os.environ, "HF_ENDPOINT": server.url, "HF_HUB_DISABLE_TELEMETRY": "1"}
        cmd = [sys.executable, "-m", "cosmos_tui"]
        login = subprocess.run(
            [*cmd, "hf", "login", "--stdin"],
            input=STORED_CANARY,
            capture_output=True,
            text=True,
            env=base,
            timeout=60,
        )
        assert login.returncode == 0, login.stderr
        hf_home = Path(os.environ["HF_HOME"])
        token_files = [hf_home / n for n in TOKEN_FILES if (hf_home / n).exists()]
        assert token_files and STORED_CANARY in (hf_home / "token").read_text()
        for path in token_files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        env = {**base, "HF_TOKEN": HF_CANARY, "WANDB_API_KEY": WANDB_CANARY}
        sampler = ArgvSampler()
        sampler.start()
        try:
            demo = subprocess.run(
                [*cmd, "demo", "--headless", "--json"], capture_output=True, text=True, env=env, timeout=240
            )
            data = tmp_path / "waymo"
            synth = subprocess.run(
                [
                    *cmd,
                    "data",
                    "synth",
                    str(data),
                    "--layout",
                    "predict1-waymo",
                    "--clips",
                    "2",
                    "--frames",
                    "12",
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            sets = [
                f"data.root={data}",
                "wandb.mode=offline",
                "trainer.max_iter=2",
                "checkpoint.save_iter=2",
                "launch.nproc_per_node=1",
                "dataloader_train.num_workers=0",
                "job.name=secrets",
            ]
            run = subprocess.run(
                [*cmd, "run", "builtin-demo", *(a for s in sets for a in ("--set", s))],
                capture_output=True,
                text=True,
                env=env,
                timeout=240,
            )
        finally:
            sampler.done.set()
            sampler.join()
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert synth.returncode == 0, synth.stderr[-2000:]
    assert run.returncode == 0, run.stderr[-2000:]
    assert sampler.samples > 20 and not sampler.hits, sampler.hits[:3]
    for proc in (login, demo, synth, run):
        text = proc.stdout + proc.stderr
        assert not [c for c in CANARIES if c in text]
    wandb_files = list(isolated_home.rglob("offline-run-*"))
    assert wandb_files, "the launch ran with W&B offline, so its offline files must be there to scan"
    leaks = _scan(isolated_home) + _scan(tmp_path)
    assert not leaks, leaks


RESOLVER_SETS = (
    "job.name=${oc.env:HF_TOKEN}",
    "+job.group=$\\{oc.env\\:HF_TOKEN\\}",
    "experiment.overrides+=job.name=x-${oc.env:WANDB_API_KEY}",
    "data.root=/data/${oc.env:HF_TOKEN}",
)


def test_no_canary_through_overrides_or_presets(isolated_home: Path, tmp_path: Path) -> None:
    """``${oc.env:HF_TOKEN}`` in a ``--set`` or in a shared preset's overrides never reaches the
    engine: the launch is refused in one sentence, no run record or job folder is made, and no
    canary lands in any output or file."""
    shared = tmp_path / "shared.toml"
    shared.write_text('[experiment]\noverrides = ["trainer.max_iter=1", "job.name=${oc.env:HF_TOKEN}"]\n')
    env = {**os.environ, "HF_TOKEN": HF_CANARY, "WANDB_API_KEY": WANDB_CANARY}
    cmd = [sys.executable, "-m", "cosmos_tui"]
    attempts = [[*cmd, "run", "builtin-demo", "--set", s] for s in RESOLVER_SETS]
    attempts += [
        [*cmd, "run", str(shared)],
        [*cmd, "preset", "render", str(shared), "--target", "slurm"],
        [*cmd, "preset", "show", "builtin-demo", "--set", RESOLVER_SETS[0]],
    ]
    for argv in attempts:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        text = proc.stdout + proc.stderr
        assert proc.returncode == 1, (argv, text[-2000:])
        assert "resolver" in text and "Traceback" not in text, text[-2000:]
        assert not [c for c in CANARIES if c in text], argv
    assert not list(isolated_home.rglob("run.json")), "a refused launch records no run"
    assert not (isolated_home / "output").exists() or not any((isolated_home / "output").rglob("*"))
    leaks = _scan(isolated_home) + _scan(tmp_path)
    assert not leaks, leaks
