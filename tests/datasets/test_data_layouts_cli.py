"""`data layouts` shows each loader's caption rule and the layout's notes, in text and --json."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.datasets.layouts import LAYOUTS

runner = CliRunner()


def _blocks(text: str) -> dict[str, list[str]]:
    """Layout id -> its indented lines."""
    blocks: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line and not line.startswith(" "):
            current = blocks.setdefault(line.split()[0], [])
        else:
            current.append(line.strip())
    return blocks


def test_text_shows_every_note_and_each_caption_rule() -> None:
    res = runner.invoke(app, ["data", "layouts"])
    assert res.exit_code == 0, res.output
    blocks = _blocks(res.stdout)
    assert set(blocks) == set(LAYOUTS)
    for lay in LAYOUTS.values():
        lines = blocks[lay.id]
        for note in lay.notes:
            assert f"note: {note}" in lines, (lay.id, note)
        rules = [line for line in lines if line.startswith("caption rule")]
        assert len(rules) == (1 if lay.captions else 0), lay.id
        if lay.captions:
            assert rules[0].startswith(f"caption rule ({lay.captions.rule}): ")
    (t25,) = [line for line in blocks["transfer25-singleview"] if line.startswith("caption rule")]
    assert "captions/ whenever it exists" in t25 and "trains on the caption 'a video'" in t25
    (p25,) = [line for line in blocks["predict25-video2world"] if line.startswith("caption rule")]
    assert "any *.json in captions/ switches every clip" in p25 and "an empty caption" in p25
    assert "predict2_lora_training_2b_cosmos_nemo_assets_json reads json captions, prompt 'long'" in p25


def test_json_carries_the_rule_text_and_the_notes() -> None:
    res = runner.invoke(app, ["data", "layouts", "--json"])
    assert res.exit_code == 0, res.output
    rows = {row["id"]: row for row in json.loads(res.stdout)}
    text = _blocks(runner.invoke(app, ["data", "layouts"]).stdout)
    for lay in LAYOUTS.values():
        row = rows[lay.id]
        assert row["notes"] == list(lay.notes)
        if lay.captions:
            assert row["captions"]["rule"] == lay.captions.rule
            shown = next(line for line in text[lay.id] if line.startswith("caption rule"))
            assert shown.endswith(row["captions"]["rule_text"])
        else:
            assert row["captions"] is None
