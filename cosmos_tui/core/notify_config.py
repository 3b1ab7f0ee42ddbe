"""The user's settings file, ``$COSMOS_TUI_HOME/config.toml``: how cosmos-tui tells a person that
something happened to a run, what a GPU-hour costs, and how much of the machine the run
queue may use.

Format (every key optional; a missing file means the defaults)::

    [notify]
    bell = true                      # ring the terminal bell (default: false)
    # A program and its arguments, run with the event as JSON on stdin. A list, never a shell
    # string; nothing is passed through a shell. Default: no command.
    command = ["curl", "-sS", "-H", "Content-Type: application/json", "-d", "@-",
               "https://hooks.example.com/cosmos"]
    events = ["finished", "stopped", "crashed", "stalled", "low_disk"]   # the default set
    timeout_s = 10                   # how long the command may run (default: 10)

    [cost]
    gpu_hour_price = 2.5             # price of one GPU-hour: `cosmos-tui fit`, the Launch step and
    currency = "USD"                 # the dashboard show the expected and the running cost

    [queue]
    slots = 1                        # CPU machines: runs at once (each takes --slots; default 1)
    foreign_memory_fraction = 0.05   # a GPU is busy when another program holds more than this

``events`` may name ``finished``, ``stopped`` (a stop someone asked for), ``crashed``,
``stalled``, ``recovered``, ``unstable_loss``, ``low_disk`` and ``host_memory``. The JSON on
the command's stdin is
``{"kind": ..., "message": ..., "run": ..., "at": <epoch seconds>, "iteration": ...}``. Keep
secrets (webhook tokens) out of argv where you can: the command inherits the environment, so a
script can read them from there. An unknown key or a wrong type is refused with the file, the key
and what is allowed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.notify import DEFAULT_EVENTS, NotifyConfig
from cosmos_tui.core.paths import state_root
from cosmos_tui.core.safeio import CONFIG_CAP, describe_decode_error, read_text_capped

CONFIG_FILE = "config.toml"

EventName = Literal[
    "finished", "stopped", "crashed", "stalled", "recovered", "unstable_loss", "low_disk", "host_memory"
]


class NotifySection(BaseModel):
    """The ``[notify]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bell: bool = Field(False, description="Ring the terminal bell on the selected events.")
    command: tuple[str, ...] | None = Field(
        None, description="Program and arguments run with the event JSON on stdin (a list, no shell)."
    )
    events: tuple[EventName, ...] = Field(
        tuple(sorted(DEFAULT_EVENTS)), description="Event kinds to announce."
    )
    timeout_s: float = Field(10.0, gt=0, le=600, description="Seconds the command may run.")

    @field_validator("command", mode="before")
    @classmethod
    def _argv_list(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError(
                'must be a list of arguments such as ["curl", "-d", "@-", "https://..."], not a shell string'
            )
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError("must name a program (an empty list runs nothing)")
            if not all(isinstance(a, str) and a for a in value):
                raise ValueError("must be a list of non-empty strings")
        return value


class CostSection(BaseModel):
    """The ``[cost]`` table: what a GPU-hour costs (none: no cost is shown)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu_hour_price: float | None = Field(None, ge=0, description="Price of one GPU-hour.")
    currency: str = Field("USD", min_length=1, max_length=8, description="Shown after the price.")


class QueueSection(BaseModel):
    """The ``[queue]`` table: what the run queue (:mod:`cosmos_tui.core.queue`) may use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slots: int = Field(
        1, ge=1, le=1024, description="Slots of a machine without GPUs: queued runs take --slots each."
    )
    foreign_memory_fraction: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="A GPU counts as busy when processes that are not our runs hold more than this "
        "fraction of its memory (NVML).",
    )


class UserConfig(BaseModel):
    """The whole ``config.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    notify: NotifySection = Field(default_factory=NotifySection, description="Notifications.")
    cost: CostSection = Field(default_factory=CostSection, description="Price per GPU-hour.")
    queue: QueueSection = Field(default_factory=QueueSection, description="The run queue.")


def config_path() -> Path:
    """``$COSMOS_TUI_HOME/config.toml``."""

    return state_root() / CONFIG_FILE


def load_user_config(path: Path | None = None) -> UserConfig:
    """Read and validate the settings file; defaults when it does not exist."""
    path = config_path() if path is None else Path(path)
    try:
        text = read_text_capped(path, CONFIG_CAP, what="settings file")
    except FileNotFoundError:
        return UserConfig()
    except OSError as e:
        raise UserError(f"cannot read {path} ({e.strerror}); fix its permissions or remove it") from None
    except UnicodeDecodeError as e:
        raise UserError(describe_decode_error(e, path, what="settings file")) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path} is not valid TOML ({e}); fix the file") from None
    try:
        return UserConfig.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"] if not isinstance(p, int)) or "(top level)"
        if first["type"] == "extra_forbidden":
            sections = {"notify.": NotifySection, "cost.": CostSection, "queue.": QueueSection}
            section = next((s for p, s in sections.items() if key.startswith(p)), None)
            allowed = ", ".join(section.model_fields) if section else "[notify], [cost], [queue]"
            raise UserError(f"{path}: unknown key {key}; allowed: {allowed}") from None
        msg = first["msg"].removeprefix("Value error, ")
        raise UserError(f"{path}: {key} {msg}" if "must" in msg else f"{path}: {key}: {msg}") from None


def load_notify_config(path: Path | None = None) -> NotifyConfig:
    """The ``[notify]`` settings as the monitor's :class:`NotifyConfig`."""
    section = load_user_config(path).notify
    return NotifyConfig(
        bell=section.bell,
        command=section.command,
        events=frozenset(section.events),
        timeout_s=section.timeout_s,
    )


def load_gpu_hour_price(path: Path | None = None) -> tuple[float | None, str]:
    """``[cost] gpu_hour_price`` and its currency (``None`` when not set)."""
    section = load_user_config(path).cost
    return section.gpu_hour_price, section.currency
