"""A free TCP port for tests that must name one up front (a c10d endpoint, a Slurm daemon).

The product itself never picks a port this way: a local launch is ``torchrun --standalone``,
which binds a free port itself, so nothing can take it between choosing and binding."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
