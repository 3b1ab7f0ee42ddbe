"""Pinned checkpoints: the ones prune must keep whatever the policy says.

Pins live in one small JSON file next to the checkpoints, ``<checkpoints>/.cosmos-tui-pins.json``
(``{"pinned": [500, 1000]}``), so they work the same for DCP step folders and Predict1 ``.pt`` sets,
travel with the run, and never touch the checkpoint files themselves. The file is replaced
atomically (temp file + rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.fserrors import describe_os_error
from cosmos_tui.core.safeio import CONFIG_CAP, describe_decode_error, read_text_capped

PINS_FILE = ".cosmos-tui-pins.json"


def pins_path(checkpoints_dir: Path) -> Path:
    """Where the pin file of ``checkpoints_dir`` lives."""
    return Path(checkpoints_dir) / PINS_FILE


def read_pins(checkpoints_dir: Path) -> frozenset[int]:
    """Iterations pinned in ``checkpoints_dir`` (empty when there is no pin file).

    A pin file that cannot be parsed raises :class:`UserError`: pins protect data, so they are
    never silently ignored.
    """
    path = pins_path(checkpoints_dir)
    try:
        text = read_text_capped(path, CONFIG_CAP, what="pin file")
    except FileNotFoundError:
        return frozenset()
    except OSError as e:
        raise UserError(describe_os_error(e, doing="read the pin file")) from None
    except UnicodeDecodeError as e:
        raise UserError(describe_decode_error(e, path, what="pin file") + " (or delete it)") from None
    try:
        data = json.loads(text)
        return frozenset(int(i) for i in data.get("pinned", []))
    except (ValueError, TypeError, AttributeError):
        raise UserError(
            f"The pin file {path} is not valid JSON of the form {{'pinned': [500]}}; fix or delete it."
        ) from None


def _write_pins(checkpoints_dir: Path, pins: frozenset[int]) -> None:
    path = pins_path(checkpoints_dir)
    fd, tmp = tempfile.mkstemp(prefix=".pins-", dir=str(checkpoints_dir))
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"pinned": sorted(pins)}, f)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_pinned(checkpoints_dir: Path, iteration: int, pinned: bool) -> frozenset[int]:
    """Pin or unpin ``iteration`` in ``checkpoints_dir``; returns the pins afterwards."""
    pins = set(read_pins(checkpoints_dir))
    if pinned:
        pins.add(int(iteration))
    else:
        pins.discard(int(iteration))
    result = frozenset(pins)
    _write_pins(checkpoints_dir, result)
    return result
