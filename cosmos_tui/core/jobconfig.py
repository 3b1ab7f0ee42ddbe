"""A job's ``config.yaml`` (the engine's composed config): the one reader, and the settings
cosmos-tui takes from it.

Engines write ``config.yaml`` into the job folder at ``--dryrun`` and at start. Upstream's carry
``!!python/...`` tags (``yaml.safe_load`` raises on them), so the reader turns every tag into plain
data and runs nothing named in the file; reads are capped (a job folder is not trusted)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.overrides import as_int, override_value
from cosmos_tui.core.safeio import CONFIG_CAP, read_text_capped

CONFIG_YAML = "config.yaml"


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader that turns every unknown tag into plain data."""


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_PlainLoader.add_multi_constructor("!", _plain)
_PlainLoader.add_multi_constructor("tag:yaml.org,2002:python/", _plain)


def read_config_yaml(path: Path) -> object:
    """A ``config.yaml`` as plain data. Raises ``OSError``, ``UserError`` (over the size cap),
    ``UnicodeDecodeError``, ``yaml.YAMLError`` or ``RecursionError`` for a file that cannot be read."""
    text = read_text_capped(path, CONFIG_CAP, what="job config")
    return yaml.load(text, Loader=_PlainLoader)  # a SafeLoader subclass: constructs plain data only


def load_file(path: Path) -> dict[str, Any] | None:
    """The config file at ``path`` as a mapping; ``None`` when it is missing, unreadable,
    half-written, over the cap or not a mapping. Never raises."""
    try:
        data = read_config_yaml(path)
    except (OSError, UserError, UnicodeDecodeError, yaml.YAMLError, RecursionError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load(job_dir: Path) -> dict[str, Any] | None:
    """The job folder's ``config.yaml`` as a mapping (``None`` as :func:`load_file` says)."""
    return load_file(job_dir / CONFIG_YAML)


def lookup(data: object, dotted: str) -> Any:
    """The value at ``a.b.c`` in a config, ``None`` where a part is missing."""
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


@dataclass(frozen=True)
class JobSettings:
    """What cosmos-tui reads of a job's training settings (``None`` where nothing says)."""

    max_iter: int | None = None
    save_iter: int | None = None
    keep_last_n: int | None = None
    dataset_dir: str | None = None
    """``dataloader_train.dataset.dataset_dir``: where the engine reads its training data."""
    val_clips: int | None = None
    """``dataloader_train.dataset.val_clips``: clips held out of training (builtin engine)."""
    from_config: bool = False
    """Whether a readable ``config.yaml`` was there (the composed truth; then the settings need not
    be read again)."""


KEYS = {
    "max_iter": "trainer.max_iter",
    "save_iter": "checkpoint.save_iter",
    "keep_last_n": "checkpoint.keep_last_n",
    "val_clips": "dataloader_train.dataset.val_clips",
}


def settings(job_dir: Path | None, overrides: list[str] | tuple[str, ...] = ()) -> JobSettings:
    """The job's settings: the last override of each in ``overrides`` (the launch's, which the
    engine applies last), else the job's ``config.yaml`` (the engine's composed truth). The override
    comes first because the config may be an earlier run's: a resume with ``trainer.max_iter=N``
    runs to N although the config beside the checkpoints still says what the last run ran to."""
    data = load(job_dir) if job_dir is not None else None
    numbers: dict[str, int | None] = {}
    for field_name, dotted in KEYS.items():
        value = override_value(overrides, dotted)
        if as_int(value) is None:
            value = lookup(data, dotted)
        numbers[field_name] = as_int(value)
    dataset_dir = lookup(data, "dataloader_train.dataset.dataset_dir")
    return JobSettings(
        **numbers,
        dataset_dir=str(dataset_dir) if dataset_dir not in (None, "") else None,
        from_config=data is not None,
    )
