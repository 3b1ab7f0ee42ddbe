"""`ckpt convert` of a Predict1 job prints the inference command upstream's argparse accepts
(``video2world_view_extend_multiview.py`` at cosmos-predict1 2b446eb only takes
``Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/{t2w,v2w}_model.pt`` for
``--diffusion_transformer_dir``), not the doc's rejected ``..._post-trained`` folder, with the note
saying where it departs from the doc. Checked against the golden of what the code accepts."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from ckpt_writers import write_pt_set
from typer.testing import CliRunner
from upstream.golden_doc import read_doc_block

from cosmos_tui.cli.app import app
from cosmos_tui.core.engines.predict1 import P1_DOC_NOTE, POSTTRAINED_DIR

CODE_GOLDEN = Path(__file__).parents[1] / "upstream" / "golden" / "p1_s2mv_inference_code.sh"
PROMPTS = {
    "PROMPT": "<prompt>",
    "PROMPT_LEFT": "<prompt left>",
    "PROMPT_RIGHT": "<prompt right>",
    "PROMPT_BACK": "<prompt back>",
    "PROMPT_BACK_LEFT": "<prompt back left>",
    "PROMPT_BACK_RIGHT": "<prompt back right>",
}


@pytest.fixture
def p1_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CONDA_PREFIX", raising=False)  # the checkout's interpreter: plain python
    repo = tmp_path / "cosmos predict1"
    (repo / "cosmos_predict1").mkdir(parents=True)
    return repo


def _convert(ckpt_dir: Path, repo: Path, *extra: str):
    return CliRunner().invoke(app, ["ckpt", "convert", str(ckpt_dir), "--repo", str(repo), *extra])


def test_convert_prints_the_command_the_script_accepts(ckpt_dir: Path, p1_checkout: Path) -> None:
    write_pt_set(ckpt_dir, 30)
    res = _convert(ckpt_dir, p1_checkout)
    assert res.exit_code == 0, res.output
    lines = res.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Run inference"))
    cd, export, command = lines[start + 1 : start + 4]
    assert cd == f"cd {shlex.quote(str(p1_checkout))}"
    assert export == f"export PYTHONPATH={shlex.quote(str(p1_checkout))}"  # the doc's PYTHONPATH=$(pwd)
    (code,) = read_doc_block(CODE_GOLDEN, PROMPTS).commands
    assert shlex.split(command) == shlex.split(code)
    assert f"Note: {P1_DOC_NOTE}" in res.stderr
    # The doc's rejected argument appears only inside the note that names it.
    assert f"--diffusion_transformer_dir {POSTTRAINED_DIR}" not in res.stderr.replace(P1_DOC_NOTE, "")


def test_json_carries_the_command_and_the_note(ckpt_dir: Path, p1_checkout: Path) -> None:
    write_pt_set(ckpt_dir, 30)
    res = _convert(ckpt_dir, p1_checkout, "--dry-run", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    argv = shlex.split(data["inference"].splitlines()[-1])
    transformer = argv[argv.index("--diffusion_transformer_dir") + 1]
    assert transformer == "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/t2w_model.pt"
    assert argv[argv.index("--checkpoint_dir") + 1] == f"checkpoints/{POSTTRAINED_DIR}"
    assert data["inference_note"] == P1_DOC_NOTE
    assert not (p1_checkout / "checkpoints" / POSTTRAINED_DIR).exists()  # a dry run writes nothing


def test_a_video2world_job_gets_the_v2w_weights(tmp_path: Path, p1_checkout: Path) -> None:
    ckpt_dir = (
        tmp_path / "diffusion_video2world" / "video2world_singletomultiview_7b_example_waymo" / "checkpoints"
    )
    write_pt_set(ckpt_dir, 30)
    res = _convert(ckpt_dir, p1_checkout, "--dry-run", "--json")
    assert res.exit_code == 0, res.output
    command = json.loads(res.stdout)["inference"]
    assert "Single2MultiView/v2w_model.pt" in command
    assert "diffusion-single2multiview-video2world-posttrained" in command


def test_a_checkout_path_with_a_newline_is_refused_before_anything_is_placed(
    ckpt_dir: Path, tmp_path: Path
) -> None:
    write_pt_set(ckpt_dir, 30)
    repo = tmp_path / "p1\ncheckout"
    repo.mkdir()
    res = _convert(ckpt_dir, repo)
    assert res.exit_code == 1, res.output
    assert res.stderr.startswith("error: ") and "Traceback" not in res.output
    assert "newline" in res.stderr
    assert not (repo / "checkpoints").exists()


@pytest.mark.parametrize("what", ["missing", "file"])
def test_a_repo_that_is_not_a_folder_is_refused(ckpt_dir: Path, tmp_path: Path, what: str) -> None:
    write_pt_set(ckpt_dir, 30)
    repo = tmp_path / "not a checkout"
    if what == "file":
        repo.write_text("")
    for extra in ((), ("--dry-run",)):
        res = _convert(ckpt_dir, repo, *extra)
        assert res.exit_code == 1, res.output
        assert res.stderr.startswith(f"error: --repo {repo} ") and "Traceback" not in res.output
    assert not (tmp_path / "not a checkout" / "checkpoints").exists()
