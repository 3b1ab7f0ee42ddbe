"""Samples from a job's weights: the rectified-flow ODE solved with Euler steps from fixed seeds.

``python -m cosmos_engine.generate --job JOB_DIR [--iter K|latest | --base | --weights FILE ...]
[--prompts FILE.json | --prompt TEXT [--clip NAME]] [--seeds 0,1] [--steps N] [--ema/--no-ema]
[--out DIR] [--overwrite] [--compare-base]``

Training (:mod:`cosmos_engine.flow`) mixes ``x_t = (1 - t) x0 + t eps`` and teaches the network the
velocity ``eps - x0``; sampling starts from seeded noise at ``t = 1`` and steps ``x <- x - dt v``
down to ``t = 0`` over ``--steps`` equal steps. A sample is conditioned the way training conditions
it, from a clip of the job's dataset (:meth:`~cosmos_engine.datasets.ClipDataset.conditioning`):
its text (or the prompt, embedded as training embeds captions), its first view given clean for
``video2world``, its control video for ``control``. The noise is drawn on the CPU from the seed, so
a seed gives the same noise on any device; GPUs run under bf16 autocast.

Weights: ``--iter`` a complete DCP checkpoint of the job (``latest``: the pointer's); ``--base``
what the job started from (``checkpoint.load_path``, else the seeded initialisation training
does); ``--weights`` a consolidated ``.pt`` or ``.safetensors`` (an export), read with
``weights_only=True``. ``--ema`` samples the EMA weights (the default when the job keeps them).

Outputs go to ``--out`` (default ``JOB/samples/iter_%09d`` or ``JOB/samples/base``), which must
lie inside the job folder: per sample ``NNN_seedS.mp4`` (views side by side) and ``NNN_seedS.png``
(a contact sheet: each frame's views side by side, frames in rows of four), and ``index.json``.
``--compare-base`` writes nothing: it samples each ``--weights`` file and the base weights with the
first prompt and seed and prints one JSON line per file saying whether the two are identical.
Exit codes: 0 ok, 1 a checkpoint, dataset or output folder is unusable, 2 a bad command line.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosmos_engine.errors import ConfigError, DataError, EngineError

MAX_SAMPLES = 1000
"""Samples one invocation draws at most."""
MAX_STEPS = 1000
SHEET_COLUMNS = 4
"""Frames per row of a contact sheet."""


@dataclass(frozen=True)
class Request:
    """One sample to draw."""

    prompt: str | None
    """The text it is conditioned on (None: the clip's own caption)."""
    seed: int
    clip: str | None
    """The dataset clip that gives the conditioning (None: the first clip)."""


@dataclass(frozen=True)
class Weights:
    """Where the sampled weights come from, as the index records it."""

    kind: str
    """``iteration``, ``base`` or ``file``."""
    iteration: int | None = None
    path: str | None = None


def parse_seeds(text: str) -> list[int]:
    """``0,1,7`` -> ``[0, 1, 7]``; a :class:`ConfigError` for anything else."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds must be comma-separated integers like 0,1; got {text!r}.") from None
    if not seeds or any(s < 0 or s >= 2**63 for s in seeds):
        raise ConfigError(f"--seeds must name at least one seed between 0 and 2**63-1; got {text!r}.")
    return seeds


def read_requests(path: Path) -> list[Request]:
    """A JSON list of ``{"prompt": str|null, "seed": int, "clip": str|null}`` (what the manager
    writes from a prompts file)."""
    from cosmos_engine.checkpoint import read_small_text

    text = read_small_text(path, 16 << 20)
    if text is None:
        raise ConfigError(f"--prompts {path} is not a readable JSON file of at most 16 MiB.")
    try:
        items = json.loads(text)
        if not isinstance(items, list) or not items or len(items) > MAX_SAMPLES:
            raise ValueError(f"a list of 1 to {MAX_SAMPLES} samples is needed")
        out = []
        for item in items:
            prompt, seed, clip = item.get("prompt"), item["seed"], item.get("clip")
            if not (prompt is None or isinstance(prompt, str)) or not (clip is None or isinstance(clip, str)):
                raise ValueError("prompt and clip must be strings or null")
            if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
                raise ValueError("seed must be an integer between 0 and 2**63-1")
            out.append(Request(prompt, seed, clip))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"--prompts {path} is not a samples list ({exc}).") from None
    return out


# -- weights ------------------------------------------------------------------------------------


def job_config(job_dir: Path) -> Any:
    """The job's composed ``config.yaml`` as a :class:`~cosmos_engine.config.Config`."""
    from cosmos_engine.checkpoint import read_small_text
    from cosmos_engine.compose import config_from_yaml

    path = job_dir / "config.yaml"
    text = read_small_text(path, 64 << 20)
    if text is None:
        raise DataError(f"{path} is missing or unreadable; sample a job folder the engine has trained in.")
    return config_from_yaml(text, str(path))


def build_model(cfg: Any, device: Any) -> Any:
    """The network and its EMA copy, initialised exactly as training initialises them."""
    import torch
    from cosmos_engine.model import VideoDiT
    from cosmos_engine.parallel import DiffusionModel

    torch.manual_seed(cfg.trainer.seed)
    with torch.device(device):
        net = VideoDiT(cfg.model)
        net.init_weights()
    return DiffusionModel(net, copy.deepcopy(net) if cfg.model.ema.enabled else None)


def load_weights(cfg: Any, job_dir: Path, source: Weights, device: Any) -> Any:
    """The model with ``source``'s weights loaded (a :class:`DataError` when they do not load)."""
    from cosmos_engine import checkpoint as ckpt

    model = build_model(cfg, device)
    ema = cfg.model.ema.enabled
    if source.kind == "iteration":
        assert source.iteration is not None
        step = job_dir / "checkpoints" / ckpt.step_name(source.iteration)
        if not ckpt.is_complete(step):
            raise DataError(f"{step} is not a complete checkpoint (every part needs its .metadata).")
        ckpt.load_parts(step, model, None, ("model",))
    elif source.kind == "file":
        assert source.path is not None
        ckpt.load_consolidated(Path(source.path), model, ema)
    elif cfg.checkpoint.load_path:  # base: what training started from
        path = Path(cfg.checkpoint.load_path).expanduser()
        if path.suffix == ".pt":
            ckpt.load_consolidated(path, model, ema)
        else:
            ckpt.load_parts(ckpt.dcp_step_dir(path), model, None, ("model",))
    return model


def network(model: Any, ema: bool) -> Any:
    """The EMA network when asked for and kept, else the trained one, in eval mode."""
    net = model.net_ema if ema and hasattr(model, "net_ema") else model.net
    return net.eval()


# -- sampling -----------------------------------------------------------------------------------


def batch_of(item: dict[str, Any], device: Any) -> dict[str, Any]:
    """A one-sample batch on ``device`` from a dataset item."""
    return {k: v[None].to(device) for k, v in item.items()}


def euler_sample(net: Any, batch: dict[str, Any], seed: int, steps: int, task: str) -> Any:
    """``[V, T, 3, H, W]`` frames in [-1, 1]: ``steps`` Euler steps of the flow from seeded noise."""
    import torch
    from cosmos_engine.flow import pixels

    x0_given = pixels(batch["video"])
    b, v = x0_given.shape[:2]
    device = x0_given.device
    noise = torch.randn(x0_given.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    x = noise.to(device)
    cond_mask = torch.zeros(b, v, device=device)
    if task == "video2world":
        cond_mask[:, 0] = 1.0
    control = batch.get("control")
    control = pixels(control) if control is not None else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    times = torch.linspace(1.0, 0.0, steps + 1)
    with torch.no_grad(), autocast:
        for i in range(steps):
            if task == "video2world":
                x = torch.cat([x0_given[:, :1], x[:, 1:]], dim=1)
            t = torch.full((b,), float(times[i]), device=device)
            vel = net(x, t, batch["text"], batch["text_mask"], batch["view_ids"], cond_mask, control)
            x = x - float(times[i] - times[i + 1]) * vel.float()
        if task == "video2world":
            x = torch.cat([x0_given[:, :1], x[:, 1:]], dim=1)
    return x[0].clamp(-1.0, 1.0).cpu()


def side_by_side(frames: Any) -> Any:
    """``[V, T, 3, H, W]`` in [-1, 1] -> ``(T, H, V*W, 3)`` uint8: each frame's views side by side."""
    from cosmos_engine.datasets import to_uint8

    video = to_uint8(frames)  # V T C H W
    v, t, c, h, w = video.shape
    return video.permute(1, 3, 0, 4, 2).reshape(t, h, v * w, c).numpy()


def contact_sheet(frames: Any, columns: int = SHEET_COLUMNS, gap: int = 2) -> Any:
    """``(T, H, W, 3)`` frames laid out ``columns`` to a row with ``gap`` pixels between, as one image."""
    import numpy as np

    t, h, w, c = frames.shape
    cols = min(columns, t)
    rows = math.ceil(t / cols)
    sheet = np.zeros((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, c), np.uint8)
    for i, frame in enumerate(frames):
        r, k = divmod(i, cols)
        sheet[r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w] = frame
    return sheet


def _even(frames: Any) -> Any:
    """Frames padded by one pixel row/column where H or W is odd (yuv420p needs even sizes)."""
    import numpy as np

    _, h, w, _ = frames.shape
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves (links and ``..`` followed) inside ``root``."""
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base + os.sep)


def prepare_out(out: Path, job_dir: Path, overwrite: bool) -> Path:
    """The output folder, made inside the job folder (never through a link leading out of it)."""
    if not inside(out, job_dir):
        raise DataError(f"--out {out} is not inside the job folder {job_dir}; samples stay in their job.")
    if (out / "index.json").exists() and not overwrite:
        raise DataError(f"{out} already holds samples; pass --overwrite to replace them.")
    out.mkdir(parents=True, exist_ok=True)
    if not inside(out, job_dir):  # a link planted while making it
        raise DataError(f"{out} leads outside the job folder {job_dir}.")
    return Path(os.path.realpath(out))


def draw(
    cfg: Any, net: Any, dataset: Any, requests: list[Request], steps: int, device: Any
) -> list[tuple[Request, Any, float]]:
    """Each request's frames ``[V, T, 3, H, W]`` and the seconds it took."""
    from cosmos_engine.compose import n_views

    out = []
    for req in requests:
        item = dataset.conditioning(req.clip, req.prompt, n_views(cfg))
        start = time.perf_counter()
        frames = euler_sample(net, batch_of(item, device), req.seed, steps, cfg.model.task)
        out.append((req, frames, time.perf_counter() - start))
    return out


def write_samples(
    out: Path, drawn: list[tuple[Request, Any, float]], meta: dict[str, Any], fps: int = 10
) -> Path:
    """The mp4s, contact sheets and ``index.json`` of ``drawn`` in ``out``; returns the index path."""
    from cosmos_engine.video import replace_atomically, write_mp4, write_png

    entries = []
    for n, (req, frames, seconds) in enumerate(drawn):
        stem = f"{n:03d}_seed{req.seed}"
        video = side_by_side(frames)
        write_mp4(out / f"{stem}.mp4", _even(video), fps)
        write_png(out / f"{stem}.png", contact_sheet(video))
        entries.append(
            {
                "prompt": req.prompt,
                "seed": req.seed,
                "clip": req.clip,
                "video": f"{stem}.mp4",
                "contact_sheet": f"{stem}.png",
                "views": int(frames.shape[0]),
                "seconds": round(seconds, 4),
            }
        )
    index = out / "index.json"
    text = json.dumps({**meta, "samples": entries}, indent=2) + "\n"
    replace_atomically(index, lambda tmp: tmp.write_text(text))
    return index


# -- from training ------------------------------------------------------------------------------

_BACKGROUND: list[Any] = []
"""Sampling processes started by :func:`sample_in_background` (reaped as they end)."""


def sample_in_background(job_dir: Path, iteration: int, steps: int) -> Any:
    """Start sampling checkpoint ``iteration`` of ``job_dir`` in a process of its own (seeds 0 and
    1, the dataset's first clip; its output in ``samples/iter_%09d.log``); returns the process."""
    import logging
    import subprocess

    _BACKGROUND[:] = [p for p in _BACKGROUND if p.poll() is None]
    folder = job_dir / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"iter_{iteration:09d}.log"
    argv = [sys.executable, "-m", "cosmos_engine.generate", "--job", str(job_dir), "--iter", str(iteration)]
    argv += ["--steps", str(steps), "--seeds", "0,1"]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    _BACKGROUND.append(proc)
    logging.getLogger("cosmos_engine").info(
        f"Sampling iteration {iteration} in the background (pid {proc.pid}); log {log_path}"
    )
    return proc


# -- entry point --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cosmos_engine.generate",
        description="Draw samples from a job's weights (see module docs).",
    )
    p.add_argument("--job", required=True, type=Path, help="the job folder (holds config.yaml)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--iter", dest="iteration", help="checkpoint iteration, or latest (default)")
    which.add_argument("--base", action="store_true", help="the weights the job started from")
    which.add_argument("--weights", action="append", type=Path, help="a consolidated .pt/.safetensors")
    p.add_argument("--prompts", type=Path, help="JSON list of {prompt, seed, clip}")
    p.add_argument("--prompt", help="one prompt (default: the clip's own caption)")
    p.add_argument("--clip", help="the dataset clip to condition on (default: the first)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds for --prompt (default 0)")
    p.add_argument("--steps", type=int, default=20, help="Euler steps (default 20)")
    p.add_argument("--ema", action=argparse.BooleanOptionalAction, default=None, help="EMA weights")
    p.add_argument("--out", type=Path, help="output folder inside the job (default JOB/samples/...)")
    p.add_argument("--overwrite", action="store_true", help="replace samples already in --out")
    p.add_argument(
        "--compare-base", action="store_true", help="compare --weights with the base; write nothing"
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    return p


def _source(args: argparse.Namespace, job_dir: Path) -> Weights:
    from cosmos_engine.checkpoint import latest_iteration

    if args.base:
        return Weights("base")
    if args.iteration in (None, "latest"):
        found = latest_iteration(job_dir / "checkpoints")
        if found is None:
            raise DataError(
                f"{job_dir} has no complete checkpoint yet; pass --base to sample its initial weights."
            )
        return Weights("iteration", found)
    if not args.iteration.isdigit():
        raise ConfigError(f"--iter must be an iteration number or latest; got {args.iteration!r}.")
    return Weights("iteration", int(args.iteration))


def _compare(cfg: Any, job_dir: Path, args: argparse.Namespace, requests: list[Request], device: Any) -> int:
    """One line per ``--weights`` file: identical to the base sample, differs, or does not load.

    A file stored in a lower precision (bf16) is compared with the base weights rounded to it, so
    rounding alone never reads as a change."""
    import torch
    from cosmos_engine import checkpoint as ckpt

    dataset = _dataset(cfg)
    steps = min(args.steps, 2)
    first = requests[:1]
    base = network(load_weights(cfg, job_dir, Weights("base"), device), False)
    code = 0
    for path in args.weights:
        try:
            if not path.is_file():
                raise DataError(f"{path} does not exist or is not a file.")
            blob = ckpt.read_weights_file(path)
            model = build_model(cfg, device)
            ckpt.load_state(blob, path, model, cfg.model.ema.enabled)
        except DataError as exc:
            print(json.dumps({"file": str(path), "loads": False, "error": str(exc)}), flush=True)
            code = 1
            continue
        reference = base
        stored = _stored_float_dtype(blob)
        if stored is not None and stored != torch.float32:
            reference = copy.deepcopy(base)
            with torch.no_grad():
                for p in reference.parameters():
                    p.copy_(p.to(stored))
        # an exported file holds one network (an EMA export: the EMA weights as net.*)
        got = draw(cfg, network(model, False), dataset, first, steps, device)
        want = draw(cfg, reference, dataset, first, steps, device)
        diff = float((got[0][1] - want[0][1]).abs().max())
        verdict = {"file": str(path), "loads": True, "identical": diff == 0.0, "max_abs_diff": diff}
        print(json.dumps(verdict), flush=True)
    return code


def _stored_float_dtype(blob: Any) -> Any:
    """The one floating dtype of a weights file's tensors (``None``: mixed or none)."""
    import torch

    if isinstance(blob, dict) and isinstance(blob.get("model"), dict):
        blob = blob["model"]
    kinds = {v.dtype for v in blob.values() if isinstance(v, torch.Tensor) and v.is_floating_point()}
    return kinds.pop() if len(kinds) == 1 else None


def _dataset(cfg: Any) -> Any:
    from cosmos_engine.datasets import ClipDataset

    ds = cfg.dataloader_train.dataset
    return ClipDataset(ds, seed=cfg.trainer.seed, text_dim=cfg.model.text_dim, verbose=False)


def run(args: argparse.Namespace) -> int:
    """Draw the samples ``args`` ask for; returns the exit code."""
    import torch

    if not 1 <= args.steps <= MAX_STEPS:
        raise ConfigError(f"--steps must be between 1 and {MAX_STEPS}; got {args.steps}.")
    job_dir = args.job.expanduser()
    if not job_dir.is_dir():
        raise DataError(f"job folder {job_dir} does not exist.")
    job_dir = Path(os.path.realpath(job_dir))
    if args.prompts is not None:
        requests = read_requests(args.prompts)
    else:
        requests = [Request(args.prompt, s, args.clip) for s in parse_seeds(args.seeds)]
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    cfg = job_config(job_dir)
    if args.compare_base:
        if not args.weights:
            raise ConfigError("--compare-base needs --weights FILE.")
        return _compare(cfg, job_dir, args, requests, device)
    if args.weights and len(args.weights) > 1:
        raise ConfigError("give one --weights file to sample (several only with --compare-base).")
    source = Weights("file", path=str(args.weights[0])) if args.weights else _source(args, job_dir)
    ema_kept = cfg.model.ema.enabled or source.kind == "file"
    ema = bool(ema_kept if args.ema is None else args.ema and ema_kept)
    if args.out is not None:
        out = args.out.expanduser()
    elif source.kind == "iteration":
        out = job_dir / "samples" / f"iter_{source.iteration:09d}"
    elif source.kind == "base":
        out = job_dir / "samples" / "base"
    else:
        raise ConfigError("--weights needs --out (a folder inside the job) or --compare-base.")
    out = prepare_out(out if out.is_absolute() else Path.cwd() / out, job_dir, args.overwrite)
    dataset = _dataset(cfg)
    started = time.time()
    net = network(load_weights(cfg, job_dir, source, device), ema)
    drawn = draw(cfg, net, dataset, requests, args.steps, device)
    for req, _, seconds in drawn:
        print(f"sample seed={req.seed} clip={req.clip or '-'}: {seconds:.3f} s", flush=True)
    meta = {
        "engine": "cosmos_engine",
        "experiment": cfg.experiment,
        "task": cfg.model.task,
        "checkpoint": {"kind": source.kind, "iteration": source.iteration, "path": source.path},
        "ema": ema,
        "steps": args.steps,
        "solver": "euler",
        "device": device.type,
        "started_at": started,
        "seconds": round(time.time() - started, 3),
    }
    index = write_samples(out, drawn, meta)
    print(f"Wrote {len(drawn)} sample(s): {index}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    import warnings

    args = _parser().parse_args(argv)
    # DCP says it loads in one process: that is what sampling does
    warnings.filterwarnings("ignore", message="torch.distributed is disabled")
    try:
        return run(args)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
