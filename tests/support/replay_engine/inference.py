"""ReplayInference: a test double of the upstream inference scripts (named as one; it draws
nothing). It parses the command line the way each script does (flags and positionals as read in
the upstream code: see each function), validates the input file's keys as the upstream pydantic
models do (``extra="forbid"``), writes one real mp4 (PyAV) per sample where the script would, and
records each call it was given in ``<output dir>/replay_inference.json``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _mp4(path: Path, frames: int = 4, width: int = 32, height: int = 32) -> None:
    """Frame ``t`` is grey ``40 * t`` (mod 200), and each 32-pixel column band of a wider frame is
    ``+10`` (mod 50) brighter than the one before (a grid's views tell apart)."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            img = np.full((height, width, 3), (40 * t) % 200, dtype=np.uint8)
            for band in range(width // 32):
                img[:, band * 32 : (band + 1) * 32] += (10 * band) % 50
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _record(out: Path, argv: list[str], inputs: list[object]) -> None:
    """Append this call to ``<out>/replay_inference.json`` (a list: one entry per call)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "replay_inference.json"
    calls = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps([*calls, {"argv": argv, "inputs": inputs}]))


def _need_file(value: str, what: str) -> None:
    if not Path(value).is_file():
        sys.exit(f"{what} {value} is not a file")


def transfer25(argv: list[str]) -> None:
    """``examples/inference.py`` of cosmos-transfer2.5 (2ff49d0): ``-i`` files, ``-o``,
    ``--checkpoint-path``, ``--experiment``; each input a JSON object of ``InferenceArguments``."""
    p = argparse.ArgumentParser()
    p.add_argument("-i", "--input-files", nargs="+", required=True)
    p.add_argument("-o", "--output-dir", required=True)
    p.add_argument("--checkpoint-path")
    p.add_argument("--experiment")
    args = p.parse_args(argv)
    allowed = {"name", "prompt", "seed", "video_path", "num_steps", "edge", "depth", "seg", "vis"}
    out, inputs = Path(args.output_dir), []
    _need_file(args.checkpoint_path, "checkpoint")
    for f in args.input_files:
        data = json.loads(Path(f).read_text())
        extra = set(data) - allowed
        if extra or "video_path" not in data:
            sys.exit(f"bad input file {f}: extra {sorted(extra)}")
        _need_file(data["video_path"], "video_path")
        inputs.append(data)
        _mp4(out / f"{data['name']}.mp4")
    _record(out, argv, inputs)


def predict25(argv: list[str]) -> None:
    """``examples/inference.py`` of cosmos-predict2.5 (50369b8): positional params file and output
    dir, ``--checkpoint-path``, ``--experiment``; the params file an ``InferenceArguments``."""
    p = argparse.ArgumentParser()
    p.add_argument("params_file")
    p.add_argument("output_dir")
    p.add_argument("--checkpoint-path")
    p.add_argument("--experiment")
    args = p.parse_args(argv)
    data = json.loads(Path(args.params_file).read_text())
    extra = set(data) - {"inference_type", "samples", "negative_prompt", "seed", "guidance", "resolution"}
    if extra or data.get("inference_type") not in ("text2world", "image2world", "video2world"):
        sys.exit(f"bad params file: extra {sorted(extra)}")
    _need_file(args.checkpoint_path, "checkpoint")
    out = Path(args.output_dir)
    for name, sample in data["samples"].items():
        if set(sample) - {"prompt", "prompt_path", "input_path"}:
            sys.exit(f"bad sample {name}")
        _need_file(sample["input_path"], "input_path")
        _mp4(out / f"{name}.mp4")
    _record(out, argv, [data])


def predict1(argv: list[str]) -> None:
    """``video2world_view_extend_multiview.py`` of cosmos-predict1 (49e02cd), batch mode: line ``i``
    of ``--batch_input_path`` lands at ``<video_save_folder>/<i>.mp4`` (the views one after another
    in time), ``<i>_grid.mp4`` (the views 2x3 in each frame, twice as high, three times as wide) and
    ``<i>.txt`` (the prompts)."""
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint_dir", default="checkpoints")
    p.add_argument(
        "--diffusion_transformer_dir",
        choices=[
            "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/t2w_model.pt",
            "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/v2w_model.pt",
        ],
    )
    p.add_argument("--num_input_frames", type=int, choices=[0, 1, 9])
    p.add_argument("--condition_location")
    p.add_argument("--batch_input_path")
    p.add_argument("--video_save_folder", default="outputs/")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--num_steps", type=int, default=35)
    args = p.parse_args(argv)
    _need_file(str(Path(args.checkpoint_dir) / args.diffusion_transformer_dir), "transformer")
    rows = [json.loads(line) for line in Path(args.batch_input_path).read_text().splitlines()]
    out = Path(args.video_save_folder)
    for i, row in enumerate(rows):
        _need_file(row["view_condition_input"], "view_condition_input")
        _mp4(out / f"{i}.mp4", frames=6 * 4)  # the six views one after another in time
        _mp4(out / f"{i}_grid.mp4", width=3 * 32, height=2 * 32)  # the views in a 2x3 grid
        (out / f"{i}.txt").write_text(row["prompt"] + "\n")
    _record(out, argv, rows)


def main(kind: str) -> None:
    {"cosmos-transfer2.5": transfer25, "cosmos-predict2.5": predict25, "cosmos-predict1": predict1}[kind](
        sys.argv[1:]
    )
