"""Errors the engine reports as one line on stderr instead of a traceback.

A :class:`ConfigError` is a bad command line or override (exit code 2, like a usage error); a
:class:`DataError` is a dataset or checkpoint the user must fix (exit code 1).
"""

from __future__ import annotations


class EngineError(Exception):
    """A mistake the user can fix; ``exit_code`` is what the process exits with."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(EngineError):
    """The command line or an override is wrong (exit code 2)."""

    exit_code = 2


class DataError(EngineError):
    """The dataset, a checkpoint to load, or the job directory is unusable (exit code 1)."""

    exit_code = 1
