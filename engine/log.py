"""Rank-0 console logging in the upstream loguru line format, built on stdlib ``logging``.

Every line reads ``[MM-DD HH:mm:ss|LEVEL|cosmos_engine/<file>.py:<line>:<func>] <message>`` so the
manager's parser reads this engine and the upstream ones alike. Rank 0 logs everything; other ranks
log warnings and errors only, prefixed ``[RANK n] `` as upstream does with ``rank0_only=False``.
"""

from __future__ import annotations

import logging
import os
import sys

_LOGGER_NAME = "cosmos_engine"


class _LoguruFormatter(logging.Formatter):
    """Formats a record as upstream's loguru sink does (no colour: stdout is a file or a pipe)."""

    def __init__(self, rank: int) -> None:
        super().__init__(datefmt="%m-%d %H:%M:%S")
        self.rank = rank

    def format(self, record: logging.LogRecord) -> str:
        when = self.formatTime(record, self.datefmt)
        where = f"cosmos_engine/{os.path.basename(record.pathname)}:{record.lineno}:{record.funcName}"
        prefix = f"[RANK {self.rank}] " if self.rank != 0 else ""
        return f"[{when}|{record.levelname}|{where}] {prefix}{record.getMessage()}"


def setup(rank: int | None = None) -> logging.Logger:
    """Configure the engine logger for this process (idempotent) and return it."""
    if rank is None:
        rank = int(os.environ.get("RANK", "0"))
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        pass
    logger = logging.getLogger(_LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_LoguruFormatter(rank))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    logger.propagate = False
    return logger


def get() -> logging.Logger:
    """The engine logger (call :func:`setup` once per process first)."""
    return logging.getLogger(_LOGGER_NAME)
