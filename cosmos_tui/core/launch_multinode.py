"""One preset on many machines: each node's share of a multi-node torchrun job.

The same preset runs on every node; only the node's rank differs. With c10d rendezvous (the
default here) every node runs the same command, ``--rdzv_backend c10d --rdzv_endpoint HOST:PORT
--rdzv_id ID``, and the rendezvous hands out node ranks; with a static rendezvous each node gets
``--node_rank K --master_addr HOST --master_port PORT``. :func:`node_commands` renders both, and
:func:`for_node` turns ``run --nnodes N --node-rank K --rdzv-endpoint HOST:PORT`` into the preset
for one node, with a rendezvous id every node derives alike, so each node's run record knows the
job it belongs to.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

from cosmos_tui.core import launch as launch_mod
from cosmos_tui.core import shell
from cosmos_tui.core.engines.base import LaunchSpec, NodeRole, get_adapter
from cosmos_tui.core.errors import UsageError
from cosmos_tui.core.presets import Preset

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9-]{1,63})*$")
_SLUG = re.compile(r"[^a-z0-9]+")


def parse_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as ``(host, port)``; UsageError naming the problem."""
    head, sep, port_text = text.rpartition(":")
    host = head[1:-1] if head.startswith("[") and head.endswith("]") else head
    if not sep or not host or not port_text.isdigit():
        raise UsageError(f"rendezvous endpoint {text!r} is not HOST:PORT (for example node001:29500)")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise UsageError(f"rendezvous endpoint {text!r}: port {port} is outside 1-65535")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host):
            raise UsageError(
                f"rendezvous endpoint {text!r}: {host!r} is not a host name or an address"
            ) from None
    return host, port


def job_key(preset: Preset) -> str:
    """A rendezvous id every node computes alike from the same preset (node rank and any
    rendezvous id aside):
    ``<experiment>-<8 hex of the preset>``. It ties each node's run record to one job."""
    data = preset.model_copy(deep=True)
    data.launch.node_rank, data.launch.rdzv_id = None, None
    digest = hashlib.sha1(repr(sorted(_flatten(data.to_dict()))).encode()).hexdigest()[:8]
    slug = _SLUG.sub("-", preset.experiment.name.lower()).strip("-")[:32] or "job"
    return f"{slug}-{digest}"


def _flatten(data: object, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [kv for k, v in data.items() for kv in _flatten(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), repr(data))]


def for_node(
    preset: Preset,
    *,
    nnodes: int | None = None,
    node_rank: int | None = None,
    rdzv_endpoint: str | None = None,
    rdzv_id: str | None = None,
) -> Preset:
    """A copy of ``preset`` with the command-line multi-node options applied (each only when
    given), checked, and with a shared rendezvous id filled in for multi-node jobs."""
    copy = preset.model_copy(deep=True)
    launch = copy.launch
    if nnodes is not None:
        if nnodes < 1:
            raise UsageError(f"--nnodes {nnodes}: a job has at least 1 node")
        launch.nnodes = nnodes
    if node_rank is not None:
        launch.node_rank = node_rank
    if rdzv_endpoint is not None:
        launch.rdzv_endpoint = rdzv_endpoint
    if rdzv_id is not None:
        launch.rdzv_id = rdzv_id
    if launch.nnodes == 1:
        if node_rank not in (None, 0) or rdzv_endpoint is not None:
            raise UsageError("--node-rank and --rdzv-endpoint need a multi-node job; add --nnodes N (N > 1)")
        return copy
    if launch.node_rank is not None and launch.node_rank >= launch.nnodes:
        raise UsageError(
            f"node rank {launch.node_rank} is not below --nnodes {launch.nnodes}; "
            f"ranks run 0..{launch.nnodes - 1}"
        )
    if launch.rdzv_endpoint:
        parse_endpoint(launch.rdzv_endpoint)
    elif launch.target != "slurm":
        raise UsageError(
            "a multi-node run needs the rendezvous endpoint of its first node: --rdzv-endpoint HOST:PORT"
        )
    if launch.master_port is not None and launch.rdzv_endpoint:
        launch.master_port = None  # c10d takes its port from the endpoint
    if not launch.rdzv_id:
        launch.rdzv_id = job_key(copy)
    return copy


@dataclass(frozen=True)
class NodeCommand:
    """What one node runs."""

    node_rank: int
    """The node's rank (with c10d the rendezvous may order nodes differently; it is a label)."""
    spec: LaunchSpec
    """The torchrun command, folder and environment for that node."""
    run_command: str
    """The equivalent ``cosmos-tui run`` line for that node."""


def warnings(preset: Preset) -> list[str]:
    """What the engine warns about for this world size (Transfer2.5's context parallelism, which
    it sets from WORLD_SIZE = nnodes x nproc_per_node at import)."""
    return get_adapter(preset.engine.kind).warnings(preset)


def node_commands(
    preset: Preset,
    *,
    static: bool = False,
    preset_ref: str = "PRESET",
    environ: dict[str, str] | None = None,
) -> list[NodeCommand]:
    """The command for each node of a multi-node job of ``preset`` (``launch.nnodes`` nodes,
    rendezvous at ``launch.rdzv_endpoint``). ``static`` renders ``--node_rank``/``--master_addr``
    instead of c10d. ``preset_ref`` names the preset in the ``cosmos-tui run`` lines."""

    if preset.launch.nnodes < 2:
        raise UsageError("a multi-node render needs --nnodes N with N > 1 (or launch.nnodes in the preset)")
    if not preset.launch.rdzv_endpoint:
        raise UsageError(
            "a multi-node render needs the first node's address: --rdzv-endpoint HOST:PORT "
            "(or launch.rdzv_endpoint in the preset)"
        )
    preset = for_node(preset)
    host, port = parse_endpoint(preset.launch.rdzv_endpoint or "")
    commands = []
    for rank in range(preset.launch.nnodes):
        node = preset.model_copy(deep=True)
        node.launch.node_rank = rank
        if static:
            node.launch.rdzv_endpoint = None
            node.launch.master_port = port
            spec = launch_mod.render(node, environ, NodeRole(rank))
            argv = list(spec.argv)
            at = argv.index(f"--node_rank={rank}") + 1
            argv.insert(at, f"--master_addr={host}")
            spec = LaunchSpec(tuple(argv), spec.cwd, spec.env, spec.python, spec.job_dir)
        else:
            spec = launch_mod.render(node, environ, NodeRole(rank))
        run = [
            "cosmos-tui",
            "run",
            preset_ref,
            "--nnodes",
            str(preset.launch.nnodes),
            "--node-rank",
            str(rank),
            "--rdzv-endpoint",
            f"{host}:{port}",
            "--rdzv-id",
            preset.launch.rdzv_id or "",
        ]
        commands.append(NodeCommand(rank, spec, shell.join(run, "cosmos-tui run")))
    return commands
