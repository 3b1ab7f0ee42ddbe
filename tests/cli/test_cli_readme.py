"""README.md's examples work as written: every TOML block that is a preset loads through the preset
loader and its overrides parse in Hydra's grammar (what the engines read); the config block loads;
and "The flow" runs in order, command by command, in a temporary home."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.notify_config import load_user_config
from cosmos_tui.core.presets import SECTIONS, load_preset

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def _is_preset(text: str) -> bool:
    return any(re.search(rf"^\[{section}(\.|\])", text, flags=re.M) for section in SECTIONS)


def test_readme_has_a_preset_block() -> None:
    assert any(_is_preset(b) for b in _blocks("toml"))


PRESET_BLOCKS = [b for b in _blocks("toml") if _is_preset(b)]


@pytest.mark.parametrize(
    "block", PRESET_BLOCKS, ids=[f"preset-block-{i}" for i, _ in enumerate(PRESET_BLOCKS)]
)
def test_every_preset_block_loads_and_its_overrides_parse_in_hydra(block: str, tmp_path: Path) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = tmp_path / "readme.toml"
    path.write_text(block)
    preset = load_preset(path)
    parser = OverridesParser.create()
    for item in preset.experiment.overrides:
        parser.parse_overrides([item])  # a shell's quotes kept inside the TOML string fail here


def test_a_shell_quoted_override_is_what_the_check_catches(tmp_path: Path) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    with pytest.raises(OverrideParseException):
        OverridesParser.create().parse_overrides(
            ["'dataloader_train.sampler.dataset=${dataloader_train.dataset}'"]
        )


def test_the_config_block_loads(tmp_path: Path) -> None:
    [block] = [b for b in _blocks("toml") if b.startswith("[notify]")]
    path = tmp_path / "config.toml"
    path.write_text(block)
    config = load_user_config(path)
    assert config.notify.command[0] == "curl"


def _flow() -> list[list[str]]:
    text = README.read_text()
    section = text[text.index("## The flow") :]
    block = re.search(r"^```\n(.*?)^```", section, flags=re.S | re.M)
    assert block is not None
    commands: list[list[str]] = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        while "&&" in words:
            at = words.index("&&")
            commands.append(words[:at])
            words = words[at + 1 :]
        if words:
            commands.append(words)
    return commands


NEEDS_THE_HUB = ("hf login", "hf access", "hf download")
NEEDS_A_TRAINED_RUN = ("ckpt convert", "ckpt export")


def test_the_flow_runs_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    # the user's checkout of the upstream repo (its package folder is what marks it as one)
    (home / "cosmos-transfer2.5" / "cosmos_transfer2").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ran = []
    for words in _flow():
        command = " ".join(words)
        argv = [re.sub(r"(^|=)~/", rf"\g<1>{home}/", a) for a in words]
        assert argv[0] == "cosmos-tui", command
        args = argv[1:]
        if not args or " ".join(args[:2]) in (*NEEDS_THE_HUB, *NEEDS_A_TRAINED_RUN):
            continue  # the TUI; the network; a checkpoint of a real upstream run
        if args[0] == "run":
            args = [*args, "--dry-run", "--json"]
        result = runner.invoke(app, args)
        ran.append(args[:2])
        if args[0] == "run":
            import json

            failed = {c["name"] for c in json.loads(result.stdout)["checks"] if c["level"] == "fail"}
            assert failed <= {"gpus"}, (command, result.output)  # this machine has no 8 GPUs
            continue
        assert result.exit_code == 0, (command, result.output)
    assert ["preset", "render"] in ran and ["data", "validate"] in ran and ["run", "my-run.toml"] in ran
