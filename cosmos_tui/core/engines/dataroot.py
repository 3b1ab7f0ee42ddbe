"""What ``data.root`` becomes for one experiment: the overrides that point its data at the folder.

An upstream experiment's config holds its dataset more than once. ``L(get_sampler)(dataset=ds)``
and ``dataloader_val=L(...)(dataset=ds)`` look like one object in the experiment file, but the
config is plain data once composed, so the sampler's dataset and the validation dataset are
separate copies: overriding ``dataloader_train.dataset.dataset_dir`` alone leaves them on the
default folder (upstream then crashes when that folder is missing, or samples the wrong data when
it exists). Each engine adapter states, per experiment, which keys name the folder and which
nodes must follow the training dataset (``'KEY=${dataloader_train.dataset}'``, a node
interpolation OmegaConf resolves when the config is read).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cosmos_tui.core.overrides import sets_node

TRAIN_DATASET = "dataloader_train.dataset"
"""The node the other dataset copies follow."""


@dataclass(frozen=True)
class DataRoot:
    """The overrides ``data.root`` stands for in one experiment."""

    paths: tuple[str, ...] = (f"{TRAIN_DATASET}.dataset_dir={{root}}",)
    """``KEY=VALUE`` templates: ``{root}`` is the folder as given (``{root}/annotation/train`` for
    one under it), the value written bare when Hydra reads it back unchanged and quoted when not;
    ``{quoted}`` is the folder as one Hydra quoted string (for a list item)."""
    follow: tuple[tuple[str, str], ...] = ()
    """``(KEY, NODE)``: ``KEY`` is set to ``${NODE}`` so it is the same dataset as ``NODE``."""

    def overrides(self, root: str, given: Sequence[str] = ()) -> list[str]:
        """The overrides for ``root``. A follow key the preset's own overrides already set (or set
        beneath) is left to them, so a documented override is not written twice; a sampler whose
        own loader's dataset the preset sets (``dataloader_val.dataset.dataset_dir=...``)
        follows that dataset instead."""
        out = []
        for template in self.paths:
            key, _, value = template.partition("=")
            if "{quoted}" in value:
                out.append(f"{key}={value.format(quoted=hydra_quoted(root))}")
            else:
                out.append(f"{key}={hydra_value(value.format(root=root))}")
        for key, node in self.follow:
            if sets_node(given, key):
                continue
            loader, sep, rest = key.partition(".sampler.")
            own = f"{loader}.dataset"
            if sep and rest == "dataset" and sets_node(given, own):
                node = own
            out.append(f"{key}=${{{node}}}")
        return out


_PLAIN_CHAR = r"[A-Za-z0-9_./:@%+\-]"
_PLAIN = re.compile(rf"{_PLAIN_CHAR}(?:[{_PLAIN_CHAR[1:-1]} ]*{_PLAIN_CHAR})?")
_LITERAL = re.compile(r"(?i)null|true|false|[+-]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?|[+-]?(?:inf|nan)")


def hydra_value(text: str) -> str:
    """``text`` as a Hydra override value that reads back as that string: bare when it is made of
    characters Hydra's grammar takes literally (letters, digits, ``_./:@%+-``, inner blanks) and
    is no number, bool or null; else :func:`hydra_quoted` (a ``,`` would make a sweep, ``[``,
    ``{``, ``=``, ``'``, ``#``, ``~`` or a non-ASCII letter a parse error)."""
    if _PLAIN.fullmatch(text) and not _LITERAL.fullmatch(text):
        return text
    return hydra_quoted(text)


def hydra_quoted(text: str) -> str:
    """``text`` as a double-quoted Hydra override string: ``"`` escaped, and each run of
    backslashes before a ``"`` or the closing quote doubled (other backslashes are literal)."""
    doubled = re.sub(r'(\\+)(?="|$)', lambda m: m.group(1) * 2, text)
    return '"' + doubled.replace('"', '\\"') + '"'


def following(*keys: str, node: str = TRAIN_DATASET) -> tuple[tuple[str, str], ...]:
    """``follow`` entries: each of ``keys`` follows ``node``."""
    return tuple((key, node) for key in keys)


SAMPLER = "dataloader_train.sampler.dataset"
VAL = "dataloader_val.dataset"
VAL_SAMPLER = "dataloader_val.sampler.dataset"

DATASET_DIR_ONLY = DataRoot()
"""An experiment no adapter knows: only the training dataset's ``dataset_dir``, as before."""
TRAIN_AND_SAMPLER = DataRoot(follow=following(SAMPLER))
"""A training dataset and its sampler's copy; validation on mock data (no folder)."""
TRAIN_SAMPLER_AND_VAL = DataRoot(follow=following(SAMPLER, VAL, VAL_SAMPLER))
"""A training dataset whose copy is also the sampler's, the validation loader's and its sampler's."""
