"""The prompts file and the samples command's refusals that need no trained job."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.engines.base import SampleArgs
from cosmos_tui.core.engines.registry import ENGINE_KINDS, get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.safeio import ReadRefused
from cosmos_tui.core.sampling.prompts import SampleRequest, parse_seeds, read_prompts

runner = CliRunner()


def _prompts(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prompts.tsv"
    path.write_text(text)
    return path


def test_lines_give_prompts_seeds_and_clips(tmp_path: Path) -> None:
    path = _prompts(tmp_path, "# a comment\na red square\t7\tclip_0001\n\nstripes\n\t3\n")
    assert read_prompts(path, (0, 1)) == (
        SampleRequest("a red square", 7, "clip_0001"),
        SampleRequest("stripes", 0, None),
        SampleRequest("stripes", 1, None),
        SampleRequest(None, 3, None),
    )


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("a\tseven", "line 2: the seed 'seven' is not a whole number"),
        ("a\t1\tclip\textra", "line 2: 4 tab-separated fields"),
        ("a\t1\t../../etc", "line 2: the clip '../../etc' is not a clip name"),
        ("a\t1\tvideos/x", "line 2: the clip 'videos/x' is not a clip name"),
        ("bell\x07", "line 2: the prompt holds control characters"),
        ("a\t-1", "line 2: the seed '-1'"),
        ("x" * 2001, "line 2: the prompt has 2001 characters"),
    ],
)
def test_a_bad_line_is_one_sentence_naming_it(tmp_path: Path, line: str, said: str) -> None:
    path = _prompts(tmp_path, f"good\n{line}\n")
    with pytest.raises(UserError) as caught:
        read_prompts(path, (0,))
    assert said in caught.value.message and str(path) in caught.value.message
    assert caught.value.exit_code == 2


def test_hostile_files_are_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ReadRefused, match="character device"):
        read_prompts(Path("/dev/zero"), (0,))
    huge = tmp_path / "huge.tsv"
    with open(huge, "wb") as f:
        f.truncate(64 << 20)  # sparse: 64 MiB of nothing
    with pytest.raises(ReadRefused, match="larger than"):
        read_prompts(huge, (0,))
    many = _prompts(tmp_path, "p\n" * 1001)
    with pytest.raises(UserError, match="more than 1000 samples"):
        read_prompts(many, (0,))
    with pytest.raises(UserError, match="holds no prompt"):
        read_prompts(_prompts(tmp_path, "# nothing\n\n"), (0,))
    binary = tmp_path / "bin.tsv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UserError):
        read_prompts(binary, (0,))


def test_seeds() -> None:
    assert parse_seeds("0,1,1,5") == (0, 1, 5)
    for bad in ("", "a", "1,,2", "-3", str(2**63)):
        with pytest.raises(UserError, match="--seeds"):
            parse_seeds(bad)


def test_cli_refusals_are_one_line(tmp_path: Path) -> None:
    cases = [
        (["samples", "no-such-run"], "error: no jobs yet"),
        (["samples", str(tmp_path / "missing") + "/"], "is not a job folder"),
        (["samples", str(tmp_path)], "is not a job folder (no config.yaml"),
        (["samples", str(tmp_path), "--seeds", "x"], "--seeds must be"),
        (["samples", str(tmp_path), "--prompts", "/dev/zero"], "character device"),
        (["samples", "stop", "nope"], "no samples job 'nope'"),
    ]
    for argv, said in cases:
        result = runner.invoke(app, argv)
        assert result.exit_code in (1, 2), (argv, result.output)
        assert said in result.output and "Traceback" not in result.output, (argv, result.output)
    result = runner.invoke(app, ["samples", "list"])
    assert result.exit_code == 0 and "No samples jobs yet" in result.output


def test_a_job_without_checkpoints_asks_for_base(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("experiment: x\n")
    result = runner.invoke(app, ["samples", str(tmp_path)])
    assert result.exit_code == 1 and "no complete checkpoint yet; `--base`" in result.output
    result = runner.invoke(app, ["samples", str(tmp_path), "--iter", "soon"])
    assert result.exit_code == 2 and "--iter must be" in result.output


def test_only_the_builtin_engine_samples_yet(tmp_path: Path) -> None:
    request = SampleArgs(None, tmp_path / "p.json", tmp_path / "out", 4, None)
    argvs = {kind: get_adapter(kind).sample_argv(tmp_path, request) for kind in ENGINE_KINDS}
    assert argvs.pop("builtin")[1:4] == ["-m", "cosmos_engine.generate", "--job"]
    assert set(argvs.values()) == {None}
    assert all(get_adapter(k).compare_base_argv(tmp_path, [], tmp_path) is None for k in argvs)


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"good\n\xff\xfebad\n", "line 2: byte 0xff at column 1 is not UTF-8"),
        (b"good\r\nok\r\ncaf\xc3\n", "line 3: byte 0xc3 at column 4 is not UTF-8"),
        (b"good\na\x0cb\tx\n", "line 2: the prompt holds control characters"),  # not split at \f
        (b"good\n\n# c\nx\t1\t../up\n", "line 4: the clip '../up' is not a clip name"),
    ],
)
def test_every_bad_line_is_a_usage_error_in_core_and_cli(tmp_path: Path, raw: bytes, said: str) -> None:
    """Bad bytes and bad fields alike: exit 2, one sentence naming the file and the editor's line."""
    path = tmp_path / "p.tsv"
    path.write_bytes(raw)
    with pytest.raises(UserError) as caught:
        read_prompts(path, (0,))
    assert caught.value.exit_code == 2 and said in caught.value.message and str(path) in caught.value.message
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "config.yaml").write_text("experiment: x\n")
    result = runner.invoke(app, ["samples", str(tmp_path / "job"), "--prompts", str(path), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_bom_and_crlf_are_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "p.tsv"
    path.write_bytes(b"\xef\xbb\xbfa road\t4\r\nrain\r\n")
    assert read_prompts(path, (0,)) == (SampleRequest("a road", 4, None), SampleRequest("rain", 0, None))
    assert read_prompts(path, (0,))[1].origin == f"prompts file {path} line 2"
