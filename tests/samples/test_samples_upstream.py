"""`samples` on upstream jobs: the inference command each adapter renders (golden, against the
upstream code read), the whole samples job run end to end on a fake checkout whose inference
script is the ReplayInference test double, hostile prompts, and Cosmos 3's trainer-drawn images.

Upstream code read (what the golden argv follow):
- nvidia-cosmos/cosmos-transfer2.5 @ 2ff49d0717af02057ae79bc75c00fbff9da1b4e7:
  examples/inference.py (``Args``: ``input_files`` alias ``-i``; ``tyro.conf.OmitArgPrefixes``),
  cosmos_transfer2/config.py (``CommonSetupArguments``: ``output_dir`` alias ``-o``,
  ``checkpoint_path``, ``experiment``; ``InferenceArguments``: ``name``, ``prompt``, ``seed``,
  ``video_path``, ``num_steps``, ``edge``/``depth``/``vis``/``seg``), cosmos_transfer2/inference.py
  (``output_dir / sample.name`` + ``.mp4``).
- nvidia-cosmos/cosmos-predict2.5 @ 50369b8dba911cd5c49a3ca97f247718ebf5276e:
  examples/inference.py (``params_file`` and ``SetupArguments.output_dir`` positional under
  ``PositionalRequiredArgs``), cosmos_predict2/config.py (``InferenceArguments``:
  ``inference_type``, ``samples``, ``seed``; ``extra="forbid"``), cosmos_predict2/inference.py
  (``output_dir / sample_name`` + ``.mp4``).
- nvidia-cosmos/cosmos-predict1 @ 49e02cdf2af161bed678e0029975187a5a1ecc3e:
  cosmos_predict1/diffusion/inference/video2world_view_extend_multiview.py (argparse; batch mode
  writes ``<video_save_folder>/<i>.mp4``), cosmos_predict1/utils/io.py (``read_prompts_from_file``:
  JSON lines).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from checkpoints.ckpt_writers import write_dcp_checkpoint, write_pt_set
from support.replay_engine.checkout import make_fake_checkout
from support.runs import add_ended_run
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.sampling.gallery import job_samples
from cosmos_tui.core.sampling.jobs import plan_samples, start_samples, wait_sample_job
from cosmos_tui.core.sampling.prompts import SampleRequest

runner = CliRunner()
HOSTILE = "a car's \"dash\" cam; $(touch /tmp/pwned_by_prompt) `id` \\ 'end'"

WORLDS = {
    "cosmos-transfer2.5": (
        "transfer2_singleview_posttrain_edge_example",
        "videos",
        "cosmos_transfer2_posttrain",
    ),
    "cosmos-predict2.5": (
        "predict2_video2world_training_2b_cosmos_nemo_assets",
        "videos",
        "cosmos_predict_v2p5",
    ),
    "cosmos-predict1": (
        "text2world_singletomultiview_7b_example_waymo",
        "videos/pinhole_front",
        "posttraining",
    ),
}


def _video(path: Path) -> None:
    from support.replay_engine.inference import _mp4

    _mp4(path)


def _png_pixels(path: Path):
    """A PNG's pixels, decoded by PyAV."""
    import av

    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def make_world(tmp_path: Path, kind: str) -> tuple[Path, Path, Path]:
    """A fake checkout (with its inference script), a dataset of two clips, a job with one
    checkpoint at iteration 10, and a finished run on it that names them; returns
    ``(job, checkout, data)``."""
    experiment, videos, project = WORLDS[kind]
    checkout = make_fake_checkout(tmp_path, kind, inference=True)
    data = tmp_path / "data"
    for clip in ("clip0", "clip1"):
        _video(data / videos / f"{clip}.mp4")
    job = tmp_path / "out" / project / "group" / experiment
    job.mkdir(parents=True)
    (job / "config.yaml").write_text("job: {}\n")
    if kind == "cosmos-predict1":
        (data / "t5_xxl").mkdir()
        write_pt_set(job / "checkpoints", 10)
    else:
        write_dcp_checkpoint(job / "checkpoints", 10)
    preset = {
        "engine": {"kind": kind, "repo": str(checkout), "python": sys.executable},
        "experiment": {"name": experiment},
        "data": {"root": str(data)},
    }
    add_ended_run("20260101-000000-up-0001", preset=preset, job_dir=str(job), engine_kind=kind)
    return job, checkout, data


def _plan(job: Path, requests: tuple[SampleRequest, ...], **kw: object):
    return plan_samples(str(job), requests, iteration="10", steps=7, **kw)


def _runner_argv(job: Path, plan, kind: str, checkout: Path, data: Path) -> list[str]:
    out = job.resolve() / "samples" / "iter_000000010"
    return [
        sys.executable, "-m", "cosmos_tui.core.sampling.upstream",
        "--kind", kind, "--job", str(job.resolve()),
        "--iter", "10", "--prompts", str(plan.job.folder / "prompts.json"), "--out", str(out), "--steps", "7",
        "--checkout", str(checkout.resolve()), "--python", sys.executable,
        "--experiment", WORLDS[kind][0], "--data-root", str(data.resolve()),
    ]  # fmt: skip


def test_transfer25_renders_examples_inference_with_one_input_file_per_sample(tmp_path: Path) -> None:
    kind = "cosmos-transfer2.5"
    job, checkout, data = make_world(tmp_path, kind)
    requests = (SampleRequest("a road", 0, "clip1"), SampleRequest("rain", 3, None))
    plan = _plan(job, requests)
    assert list(plan.job.commands[0]) == _runner_argv(job, plan, kind, checkout, data)
    out = job.resolve() / "samples" / "iter_000000010"
    step = job.resolve() / "checkpoints" / "iter_000000010"
    shown = plan.job.shown[0].splitlines()
    # convert_distcp_to_pt.py ITER/model ITER, then examples/inference.py (2ff49d0)
    assert shown[1] == f"{sys.executable} scripts/convert_distcp_to_pt.py {step}/model {step}"
    assert shown[-1] == (
        f"{sys.executable} examples/inference.py -i {out}/inputs/000_seed0.json {out}/inputs/001_seed3.json "
        f"-o {out} --checkpoint-path {step}/model_ema_bf16.pt --experiment {WORLDS[kind][0]}"
    )


def test_predict25_renders_one_call_per_seed_with_positional_params_and_output(tmp_path: Path) -> None:
    kind = "cosmos-predict2.5"
    job, _checkout, _data = make_world(tmp_path, kind)
    requests = (SampleRequest("a", 0, None), SampleRequest("b", 1, None), SampleRequest("c", 0, "clip1"))
    plan = _plan(job, requests)
    out = job.resolve() / "samples" / "iter_000000010"
    weights = job.resolve() / "checkpoints" / "iter_000000010" / "model_ema_bf16.pt"
    calls = [line for line in plan.job.shown[0].splitlines() if "examples/inference.py" in line]
    tail = f"{out} --checkpoint-path {weights} --experiment {WORLDS[kind][0]}"
    assert calls == [
        f"{sys.executable} examples/inference.py {out}/inputs/seed0.json {tail}",
        f"{sys.executable} examples/inference.py {out}/inputs/seed1.json {tail}",
    ]


def test_predict1_places_the_ema_file_and_renders_batch_mode_per_seed(tmp_path: Path) -> None:
    kind = "cosmos-predict1"
    job, _checkout, _data = make_world(tmp_path, kind)
    plan = _plan(job, (SampleRequest("front", 5, None),))
    out = job.resolve() / "samples" / "iter_000000010"
    lines = plan.job.shown[0].splitlines()
    assert any(line.startswith("cp ") and "iter_000000010_ema_model.pt" in line for line in lines)
    assert lines[-1] == (
        f"{sys.executable} cosmos_predict1/diffusion/inference/video2world_view_extend_multiview.py "
        "--checkpoint_dir checkpoints/Cosmos-Predict1-7B-SingleToMultiView_post-trained "
        "--diffusion_transformer_dir Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/t2w_model.pt "
        f"--num_input_frames 1 --condition_location first_cam --batch_input_path {out}/inputs/seed5.jsonl "
        f"--video_save_folder {out}/seed5 --seed 5 --num_steps 7"
    )


@pytest.mark.parametrize("kind", sorted(WORLDS))
def test_a_samples_job_runs_the_inference_script_end_to_end(tmp_path: Path, kind: str) -> None:
    job, _checkout, _data = make_world(tmp_path, kind)
    requests = (SampleRequest(HOSTILE, 0, "clip1"), SampleRequest("line one", 1, None))
    done = wait_sample_job(start_samples(_plan(job, requests)).id, timeout=120)
    log = done.log_path.read_text()
    assert done.status == "finished", log
    out = job / "samples" / "iter_000000010"
    index = json.loads((out / "index.json").read_text())
    assert [s["seed"] for s in index["samples"]] == [0, 1]
    for sample in index["samples"]:
        assert (out / sample["video"]).stat().st_size > 0
    assert index["engine"] == kind and index["checkpoint"]["iteration"] == 10
    assert index["steps"] == 7 and index["started_at"] > 0
    # every mp4 got a contact sheet; Predict1's shows its 2x3 view grid (three 32-px views wide)
    tile_w, tile_h = (96, 64) if kind == "cosmos-predict1" else (32, 32)
    for n, sample in enumerate(index["samples"]):
        assert sample["contact_sheet"] == f"{n:03d}_seed{sample['seed']}.png"
        sheet = _png_pixels(out / sample["contact_sheet"])
        assert sheet.shape == (tile_h, 4 * tile_w + 3 * 2, 3)  # the 4 frames in one row, 2-px gaps
        firsts = [int(sheet[2, k * (tile_w + 2) + 2, 0]) for k in range(4)]
        assert all(abs(a - b) <= 12 for a, b in zip(firsts, [0, 40, 80, 120], strict=True)), firsts
    # and the Samples screen's reader (the one index reader) sees them like builtin samples
    (found,) = job_samples(job).sets
    assert [(s.prompt, s.seed) for s in found.samples] == [(HOSTILE, 0), ("line one", 1)]
    assert all(s.png is not None and s.mp4 is not None and s.mp4.is_file() for s in found.samples)
    if kind == "cosmos-predict1":
        assert found.samples[0].mp4 == out / "seed0" / "0_grid.mp4"
        assert index["samples"][0]["script_video"] == "seed0/0.mp4"
    assert not Path("/tmp/pwned_by_prompt").exists()
    recorded = [call for p in out.rglob("replay_inference.json") for call in json.loads(p.read_text())]
    inputs = [row for r in recorded for row in r["inputs"]]
    texts = json.dumps(inputs)
    assert json.dumps(HOSTILE)[1:-1] in texts  # the prompt reached the script intact, as a JSON string
    assert all(HOSTILE not in r["argv"] for r in recorded)  # and never as a command-line word
    assert "$ " in log  # the exact commands are in the samples job's log


def test_a_second_job_reuses_the_converted_weights(tmp_path: Path) -> None:
    job, _, _ = make_world(tmp_path, "cosmos-transfer2.5")
    first = wait_sample_job(start_samples(_plan(job, (SampleRequest("x", 0, None),))).id, timeout=120)
    assert first.status == "finished", first.log_path.read_text()
    again = _plan(job, (SampleRequest("x", 0, None),), overwrite=True)
    assert "convert_distcp_to_pt.py" not in again.job.shown[0]


def test_what_the_script_cannot_serve_is_one_sentence_before_anything_runs(tmp_path: Path) -> None:
    job, _, _ = make_world(tmp_path, "cosmos-transfer2.5")
    prompts = tmp_path / "p.txt"
    prompts.write_text("ok\t0\tclip0\n")
    with pytest.raises(UserError, match="needs the prompt text") as caught:
        _plan(job, (SampleRequest(None, 0, None),))
    assert caught.value.exit_code == 2 and "pass --prompts FILE" in caught.value.message
    captionless = tmp_path / "captionless.tsv"
    captionless.write_text("ok\t0\n\t1\tclip0\n")
    result = runner.invoke(app, ["samples", "new", str(job), "--prompts", str(captionless), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert f"prompts file {captionless} line 2: no prompt" in result.output.replace("\n", "")
    with pytest.raises(UserError, match="has no video"):
        _plan(job, (SampleRequest("x", 0, "nosuchclip"),))
    with pytest.raises(UserError, match="--base is not supported"):
        plan_samples(str(job), (SampleRequest("x", 0, None),), iteration="10", base=True)
    result = runner.invoke(app, ["samples", "new", str(job), "--prompts", str(prompts), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "examples/inference.py -i" in result.output


def test_a_framework_job_lists_the_images_its_trainer_drew(tmp_path: Path) -> None:
    from cosmos_tui.core.engines.registry import get_adapter

    layout = get_adapter("cosmos-framework").sample_layout
    assert layout is not None
    job = tmp_path / "job"
    (job / "checkpoints").mkdir(parents=True)
    folder = job / layout.folder
    folder.mkdir(parents=True)
    add_ended_run("20260101-000000-fw-0001", job_dir=str(job), engine_kind="cosmos-framework")
    result = runner.invoke(app, ["samples", "new", str(job)])
    assert result.exit_code == 0 and "No sample images there yet" in result.output, result.output
    image = folder / "ema_ReplicateID0000_Sample_Iter000000100.jpg"
    image.write_bytes(b"\xff\xd8\xff\xd9")
    result = runner.invoke(app, ["samples", "new", str(job), "--json"])
    listed = json.loads(result.output)
    assert result.exit_code == 0 and listed["iterations"] == [{"iteration": 100, "images": [str(image)]}]
    assert not (job / "samples").exists()  # nothing ran


def test_predict1_does_not_replace_another_placed_checkpoint_without_yes(tmp_path: Path) -> None:
    job, checkout, _ = make_world(tmp_path, "cosmos-predict1")
    placed = checkout / "checkpoints" / "Cosmos-Predict1-7B-SingleToMultiView_post-trained" / "model.pt"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"someone else's weights")
    with pytest.raises(UserError, match="already exists; pass --yes"):
        _plan(job, (SampleRequest("x", 0, None),))
    assert _plan(job, (SampleRequest("x", 0, None),), overwrite=True).job.shown[0].count("cp ") == 1
    assert placed.read_bytes() == b"someone else's weights"  # planning touches nothing
