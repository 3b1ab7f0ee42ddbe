"""Compose a job config from ``experiment=NAME key=value ...`` with Hydra's override grammar.

The base config and the experiments live in a Hydra ``ConfigStore`` (experiments in group
``experiment``, package ``_global_``, as upstream). Hydra applies the overrides (``key=value``,
``+key=value``, ``++key=value``, ``~key``, ``experiment=NAME``) in struct mode; the result is then
merged into the typed dataclasses of :mod:`cosmos_engine.config`, which rejects unknown keys and
bad types. Every failure becomes one :class:`~cosmos_engine.errors.ConfigError` sentence that names
the key and its close matches.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from cosmos_engine.config import Config
from cosmos_engine.errors import ConfigError
from cosmos_engine.experiments import EXPERIMENTS
from cosmos_engine.memory_budget import parse_budget
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

SEPARATOR_MESSAGE = 'Hydra config overrides must be separated with a "--" token.'
_CHOICES = {
    "job.wandb_mode": ("online", "offline", "disabled"),
    "dataloader_train.dataset.kind": ("waymo", "singleview", "multiview_hdmap"),
    "dataloader_train.dataset.control_type": ("", "edge", "vis", "depth", "seg", "hdmap"),
    "model.task": ("text2world", "video2world", "control"),
    "scheduler.kind": ("cosine", "linear", "constant"),
    "trainer.recompute": ("", "gelu", "elementwise", "attention"),
}


def _flat_keys(node: Any, prefix: str = "") -> list[str]:
    keys: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            full = f"{prefix}{key}"
            keys.append(full)
            keys.extend(_flat_keys(value, f"{full}."))
    return keys


def known_keys() -> list[str]:
    """Every dotted key of the base config (for hints)."""
    base = OmegaConf.to_container(OmegaConf.structured(Config))
    return [*_flat_keys(base), "experiment"]


def _hint(key: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(candidates), n=3, cutoff=0.85)
    if not close:
        leaf = key.rsplit(".", 1)[-1]
        close = [c for c in candidates if c.rsplit(".", 1)[-1] == leaf][:3]
    return f"; did you mean {', '.join(close)}?" if close else ""


def split_overrides(argv: Sequence[str]) -> list[str]:
    """The overrides after the required ``--`` (upstream refuses a command line without it)."""
    args = list(argv)
    if not args:
        return []
    if args[0] != "--":
        raise ConfigError(f"{SEPARATOR_MESSAGE} Got: {' '.join(args)}")
    return args[1:]


_REGISTERED = False


def _register() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    _REGISTERED = True
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    base = OmegaConf.to_container(OmegaConf.structured(Config))
    assert isinstance(base, dict)
    base["defaults"] = ["_self_", {"experiment": None}]
    store.store(name="cosmos_engine_config", node=base)
    for name, node in EXPERIMENTS.items():
        store.store(group="experiment", package="_global_", name=name, node=node)


def _unparsable(overrides: list[str]) -> str:
    """The first override Hydra's grammar refuses on its own (its error does not always name it)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides([override])
        except OverrideParseException:
            return override
    return " ".join(overrides)


def _hydra_compose(overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )

    _register()
    try:
        with initialize(version_base=None, config_path=None):
            return compose(config_name="cosmos_engine_config", overrides=overrides)
    except OverrideParseException as exc:
        bad = re.search(r"Error parsing override '(.*)'", str(exc))
        what = bad.group(1) if bad else _unparsable(overrides)
        raise ConfigError(
            f"cannot parse override '{what}'; write key=value, +key=value, ~key or experiment=NAME."
        ) from None
    except MissingConfigException as exc:
        wanted = re.search(r"Could not find '(?:experiment/)?([^']*)'", str(exc))
        name = wanted.group(1) if wanted else "?"
        raise ConfigError(
            f"unknown experiment '{name}'{_hint(name, sorted(EXPERIMENTS))} "
            "(list them with `python -m cosmos_engine.info --list`)."
        ) from None
    except ConfigCompositionException as exc:
        text = str(exc)
        unknown = re.search(r"Could not override '([^']*)'", text)
        if unknown:
            key = unknown.group(1)
            raise ConfigError(f"unknown config key '{key}'{_hint(key, known_keys())}") from None
        cause = exc.__cause__
        detail = str(cause).splitlines()[0] if cause else text.splitlines()[0]
        key_match = re.search(r"full_key: (\S+)", str(cause)) if cause else None
        where = f" at '{key_match.group(1)}'" if key_match else ""
        raise ConfigError(f"{text.splitlines()[0]}{where}: {detail}") from None


def _validate(cfg: Config) -> None:
    for dotted, allowed in _CHOICES.items():
        obj: Any = cfg
        for part in dotted.split("."):
            obj = getattr(obj, part)
        if obj not in allowed:
            raise ConfigError(f"{dotted}={obj!r} is not allowed; use one of {', '.join(map(repr, allowed))}.")
    for dotted in ("job.project", "job.group", "job.name"):
        value = getattr(cfg.job, dotted.split(".")[1])
        if (
            not value
            or value in (".", "..")
            or any(c in value for c in "/\\")
            or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value)
        ):
            raise ConfigError(
                f"{dotted} must be a non-empty name without '/', '\\' or control characters; got {value!r}."
            )
    positive = {
        "trainer.max_iter": cfg.trainer.max_iter,
        "trainer.logging_iter": cfg.trainer.logging_iter,
        "trainer.grad_accum_iter": cfg.trainer.grad_accum_iter,
        "checkpoint.save_iter": cfg.checkpoint.save_iter,
        "dataloader_train.batch_size": cfg.dataloader_train.batch_size,
        "dataloader_train.dataset.num_frames": cfg.dataloader_train.dataset.num_frames,
        "model.hidden": cfg.model.hidden,
        "model.depth": cfg.model.depth,
        "model.heads": cfg.model.heads,
        "model.ema.every_n": cfg.model.ema.every_n,
        "parallel.context_parallel_size": cfg.parallel.context_parallel_size,
        "trainer.activation_checkpointing_every": cfg.trainer.activation_checkpointing_every,
    }
    if cfg.trainer.memory_budget:
        parse_budget(cfg.trainer.memory_budget)
    if cfg.trainer.sample_every < 0:
        raise ConfigError(
            f"trainer.sample_every must be 0 (never) or positive; got {cfg.trainer.sample_every}."
        )
    if not 1 <= cfg.trainer.sample_steps <= 1000:
        raise ConfigError(f"trainer.sample_steps must be between 1 and 1000; got {cfg.trainer.sample_steps}.")
    for dotted, value in positive.items():
        if value < 1:
            raise ConfigError(f"{dotted} must be at least 1; got {value}.")
    for dotted, value in {
        "trainer.val_every": cfg.trainer.val_every,
        "dataloader_train.dataset.val_clips": cfg.dataloader_train.dataset.val_clips,
    }.items():
        if value < 0:
            raise ConfigError(f"{dotted} must be 0 (off) or more; got {value}.")
    if cfg.trainer.val_every and (cfg.dataloader_train.dataset.val_clips < 1 or cfg.trainer.val_samples < 1):
        raise ConfigError(
            f"trainer.val_every={cfg.trainer.val_every} needs a held-out split: set "
            "dataloader_train.dataset.val_clips=N (clips taken out of training) and "
            "trainer.val_samples >= 1, "
            "or trainer.val_every=0."
        )
    if cfg.model.hidden % cfg.model.heads:
        raise ConfigError(
            f"model.hidden={cfg.model.hidden} must be a multiple of model.heads={cfg.model.heads}."
        )
    ds = cfg.dataloader_train.dataset
    pt, ph, pw = cfg.model.patch_size
    if len(ds.video_size) != 2:
        raise ConfigError(
            f"dataloader_train.dataset.video_size must be [height, width]; got {ds.video_size}."
        )
    if ds.num_frames % pt or ds.video_size[0] % ph or ds.video_size[1] % pw:
        raise ConfigError(
            f"dataloader_train.dataset.num_frames={ds.num_frames} and video_size={list(ds.video_size)} "
            f"must be multiples of model.patch_size={list(cfg.model.patch_size)}."
        )
    cp = cfg.parallel.context_parallel_size
    if cfg.model.heads % cp:
        raise ConfigError(
            f"parallel.context_parallel_size={cp} must divide model.heads={cfg.model.heads} "
            "(each rank attends with a share of the heads); choose a divisor of it."
        )
    if ds.sample_n_views > len(ds.view_keys) or ds.sample_n_views == 0:
        raise ConfigError(
            f"dataloader_train.dataset.sample_n_views={ds.sample_n_views} must be -1 or between 1 and "
            f"the {len(ds.view_keys)} views in dataloader_train.dataset.view_keys."
        )
    if cfg.model.task == "control" and not ds.control_type:
        raise ConfigError(
            "model.task=control needs dataloader_train.dataset.control_type (edge, vis, depth, seg, hdmap)."
        )
    if cfg.model.task == "video2world" and n_views(cfg) < 2:
        raise ConfigError(
            "model.task=video2world conditions on the first view, so it needs sample_n_views >= 2."
        )
    tokens = tokens_per_sample(cfg)
    if tokens % cp:
        raise ConfigError(
            f"parallel.context_parallel_size={cp} must divide the {tokens} tokens per sample "
            "(views x frames x height x width in patches); change the size or the clip shape."
        )


def tokens_per_sample(cfg: Config) -> int:
    """Tokens of one sample: views x frames x height x width, in patches."""
    ds = cfg.dataloader_train.dataset
    pt, ph, pw = cfg.model.patch_size
    return n_views(cfg) * (ds.num_frames // pt) * (ds.video_size[0] // ph) * (ds.video_size[1] // pw)


def n_views(cfg: Config) -> int:
    """Views per training sample."""
    ds = cfg.dataloader_train.dataset
    return len(ds.view_keys) if ds.sample_n_views < 0 else ds.sample_n_views


def resolver_call(text: str) -> str | None:
    """The first ``${...}`` in ``text`` that calls a resolver (``${name:...}``), else ``None``.

    Node interpolations (``${a.b}``) call none. Backslashes are dropped first: Hydra unescapes
    ``\\{``, ``\\}`` and ``\\:`` in override values before OmegaConf reads them."""
    plain = text.replace("\\", "")
    start = plain.find("${")
    while start != -1:
        depth, at = 1, start + 2
        while at < len(plain) and depth:
            if plain.startswith("${", at):
                depth, at = depth + 1, at + 2
                continue
            if plain[at] == "}":
                depth -= 1
            elif plain[at] == ":" and depth == 1:
                end = plain.find("}", at)
                return plain[start : end + 1 if end != -1 else len(plain)]
            at += 1
        start = plain.find("${", start + 2)
    return None


def _strings(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [kv for k, v in node.items() for kv in _strings(v, f"{prefix}{k}.")]
    if isinstance(node, list):
        return [kv for i, v in enumerate(node) for kv in _strings(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), node)] if isinstance(node, str) else []


def _refuse_resolvers(overrides: Sequence[str], composed: DictConfig) -> None:
    """No resolver call (``${oc.env:HF_TOKEN}``, ``${oc.decode:...}``) may reach the config: the
    composed config is written to config.yaml, the job folder's name and the logs, so a resolved
    secret would land in all of them. Checked on the overrides as written and on every value of
    the composed config before anything is resolved."""
    for item in overrides:
        call = resolver_call(item)
        if call:
            raise ConfigError(
                f"override '{item}' calls the resolver {call}; resolvers (which read the environment) "
                "are not allowed in overrides, write the value itself."
            )
    for key, value in _strings(OmegaConf.to_container(composed, resolve=False)):
        call = resolver_call(value)
        if call:
            raise ConfigError(
                f"'{key}' would resolve {call}; resolvers (which read the environment) are not "
                "allowed in overrides, write the value itself."
            )


def compose_config(overrides: Sequence[str]) -> Config:
    """Compose and validate the job config from Hydra overrides (without the leading ``--``)."""
    composed = _hydra_compose(list(overrides))
    _refuse_resolvers(overrides, composed)
    container = OmegaConf.to_container(composed, resolve=True)
    assert isinstance(container, dict)
    experiment = ""
    for item in overrides:
        if item.lstrip("+").startswith("experiment="):
            experiment = item.split("=", 1)[1]
    container["experiment"] = experiment
    schema = OmegaConf.structured(Config)
    try:
        merged = OmegaConf.merge(schema, container)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", "") or ""
        msg = str(exc).splitlines()[0]
        if "not in" in msg or "Key '" in msg:
            raise ConfigError(f"unknown config key '{key}'{_hint(key, known_keys())}") from None
        raise ConfigError(f"bad value for '{key}': {msg}") from None
    cfg = OmegaConf.to_object(merged)
    assert isinstance(cfg, Config)
    _validate(cfg)
    return cfg


def to_yaml(cfg: Config) -> str:
    """The composed config as YAML (what ``config.yaml`` holds)."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def config_from_yaml(text: str, source: str) -> Config:
    """A job's ``config.yaml`` (as :func:`to_yaml` wrote it) back as a validated :class:`Config`;
    a file that is not one is a :class:`DataError` naming ``source``."""
    import yaml
    from cosmos_engine.errors import DataError

    try:
        loaded = OmegaConf.create(yaml.safe_load(text))
        if not isinstance(loaded, DictConfig):
            raise ValueError("it is not a mapping")
        _refuse_resolvers((), loaded)
        cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), loaded))
        assert isinstance(cfg, Config)
        _validate(cfg)
    except ConfigError as exc:
        raise DataError(f"{source}: {exc}") from None
    except (OmegaConfBaseException, yaml.YAMLError, ValueError, TypeError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{source} is not a job config this engine wrote ({first_line}).") from None
    return cfg
