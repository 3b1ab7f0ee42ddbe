"""``$COSMOS_TUI_HOME/config.toml``'s ``[notify]`` section: defaults, validation, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.notify import DEFAULT_EVENTS
from cosmos_tui.core.notify_config import config_path, load_notify_config


def _write(text: str) -> Path:
    path = config_path()
    path.write_text(text)
    return path


def test_no_file_means_the_defaults() -> None:
    config = load_notify_config()
    assert config.bell is False and config.command is None and config.events == DEFAULT_EVENTS


def test_a_full_section() -> None:
    _write(
        '[notify]\nbell = true\ncommand = ["curl", "-d", "@-", "https://hooks.example/x"]\n'
        'events = ["crashed", "stalled"]\ntimeout_s = 3\n'
    )
    config = load_notify_config()
    assert config.bell and config.command == ("curl", "-d", "@-", "https://hooks.example/x")
    assert config.events == {"crashed", "stalled"} and config.timeout_s == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[notify]\ncommand = "curl -d @- https://x"\n', "notify.command must be a list of arguments"),
        ("[notify]\ncommand = []\n", "notify.command must name a program"),
        ('[notify]\ncommand = ["curl", ""]\n', "non-empty strings"),
        ("[notify]\nbel = true\n", "unknown key notify.bel; allowed: bell, command, events, timeout_s"),
        ("[notfy]\nbell = true\n", "unknown key notfy; allowed: [notify], [cost]"),
        ('[notify]\nevents = ["done"]\n', "notify.events"),
        ('[notify]\nbell = "loud"\n', "notify.bell"),
        ("[notify\n", "is not valid TOML"),
    ],
)
def test_mistakes_are_named(text: str, expected: str) -> None:
    path = _write(text)
    with pytest.raises(UserError) as info:
        load_notify_config()
    assert expected in str(info.value) and str(path) in str(info.value)
