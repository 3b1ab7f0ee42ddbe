"""A real single-host Slurm cluster for the tests: munged, slurmctld and slurmd from Debian's
``slurm-wlm``/``munge`` packages, configured in a temporary folder and started as background
processes (``-D``: in the foreground of their own process, so the test owns and ends them).

:func:`start_cluster` returns a :class:`LocalSlurmCluster` or raises :class:`SlurmUnavailable`
with one sentence saying why (binaries missing, not root, a daemon that would not start), which
the fixture turns into a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.ports import free_port

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "scontrol")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


class SlurmUnavailable(RuntimeError):
    """Slurm cannot run here; the message says why."""


def _which(name: str) -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(SBIN)
    return shutil.which(name, path=path)


def _node_line() -> tuple[str, int, int]:
    """This machine's short host name, CPUs and a modest RealMemory (MB) for slurm.conf."""
    host = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    mem_mb = 1024
    try:
        with open("/proc/meminfo") as f:
            total_kb = int(f.readline().split()[1])
        mem_mb = max(256, min(4096, total_kb // 1024 // 2))
    except (OSError, ValueError, IndexError):
        pass
    return host, cpus, mem_mb


@dataclass
class LocalSlurmCluster:
    """A running one-node cluster; ``env`` holds ``SLURM_CONF`` for the client commands."""

    root: Path
    conf: Path
    node: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """Variables a client (sbatch, squeue, cosmos-tui) needs to reach this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def run(self, *argv: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command against this cluster."""
        exe = _which(argv[0]) or argv[0]
        return subprocess.run(
            [exe, *argv[1:]],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def log_tail(self, n: int = 20) -> str:
        """The last lines of each daemon's log, for failure messages."""
        parts = []
        for name in ("munged", "slurmctld", "slurmd"):
            path = self.root / f"{name}.log"
            try:
                lines = path.read_text(errors="replace").splitlines()[-n:]
            except OSError:
                continue
            parts.append(f"--- {name}.log\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self) -> None:
        """End the daemons this cluster started (SIGTERM, then SIGKILL), newest first."""
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _spawn(cluster: LocalSlurmCluster, name: str, argv: list[str]) -> None:
    log = open(cluster.root / f"{name}.out", "wb")  # noqa: SIM115
    cluster.procs[name] = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **cluster.env},
        start_new_session=True,
    )
    log.close()


def _wait(cluster: LocalSlurmCluster, what: str, ready, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in cluster.procs.items():
            if proc.poll() is not None:
                raise SlurmUnavailable(
                    f"{name} exited with {proc.returncode} while waiting for {what}:\n{cluster.log_tail()}"
                )
        if ready():
            return
        time.sleep(0.2)
    raise SlurmUnavailable(f"timed out waiting for {what}:\n{cluster.log_tail()}")


def start_cluster(root: Path, timeout: float = 30.0) -> LocalSlurmCluster:
    """Configure and start munged, slurmctld and slurmd under ``root``; wait for an idle node."""
    missing = [d for d in DAEMONS if _which(d) is None]
    if missing:
        raise SlurmUnavailable(
            f"Slurm is not installed here (missing {', '.join(missing)}); "
            "install it with `apt-get install -y slurm-wlm munge`"
        )
    if os.geteuid() != 0:
        raise SlurmUnavailable(
            "starting slurmd needs root (it runs jobs as their users); run the tests as root"
        )
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    for sub in ("state", "spool", "munge"):
        (root / sub).mkdir(exist_ok=True)
        os.chmod(root / sub, 0o700)
    key = root / "munge" / "munge.key"
    sock = root / "munge" / "munge.socket"
    made = subprocess.run(
        [_which("mungekey"), "--create", f"--keyfile={key}", "--force"], capture_output=True
    )
    if made.returncode != 0:
        raise SlurmUnavailable(f"mungekey failed: {made.stderr.decode(errors='replace').strip()}")
    os.chmod(key, 0o600)
    host, cpus, mem_mb = _node_line()
    ctld_port, slurmd_port = free_port(), free_port()
    conf = root / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=cosmostest",
                f"SlurmctldHost={host}(127.0.0.1)",
                f"SlurmctldPort={ctld_port}",
                f"SlurmdPort={slurmd_port}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={sock}",
                f"StateSaveLocation={root / 'state'}",
                f"SlurmdSpoolDir={root / 'spool'}",
                f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                f"SlurmdPidFile={root / 'slurmd.pid'}",
                f"SlurmctldLogFile={root / 'slurmctld.log'}",
                f"SlurmdLogFile={root / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "SchedulerType=sched/builtin",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/filetxt",
                f"JobCompLoc={root / 'jobcomp.txt'}",
                "MpiDefault=none",
                "ReturnToService=2",
                "MinJobAge=600",
                "KillWait=30",
                "SlurmctldTimeout=30",
                "SlurmdTimeout=30",
                "InactiveLimit=0",
                "SlurmctldDebug=info",
                "SlurmdDebug=info",
                f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN",
                f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES",
                "",
            ]
        )
    )
    cluster = LocalSlurmCluster(root=root, conf=conf, node=host)
    try:
        _spawn(
            cluster,
            "munged",
            [
                _which("munged"),
                "--foreground",
                "--force",
                f"--socket={sock}",
                f"--key-file={key}",
                f"--pid-file={root / 'munge' / 'munged.pid'}",
                f"--log-file={root / 'munged.log'}",
                f"--seed-file={root / 'munge' / 'munged.seed'}",
            ],
        )
        _wait(cluster, "munged's socket", sock.exists, timeout)
        _spawn(cluster, "slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(conf)])
        _wait(cluster, "slurmctld", lambda: cluster.run("scontrol", "ping").returncode == 0, timeout)
        _spawn(cluster, "slurmd", [_which("slurmd"), "-D", "-N", host, "-f", str(conf)])

        def idle() -> bool:
            state = cluster.run("sinfo", "-h", "-n", host, "-o", "%T").stdout.strip()
            return state.startswith("idle")

        _wait(cluster, "the node to be idle in sinfo", idle, timeout)
    except SlurmUnavailable:
        cluster.stop()
        raise
    except BaseException:
        cluster.stop()
        raise
    return cluster
