"""ReplayFramework: a test double of NVIDIA/cosmos-framework's entry points (at 5eee9ed), for CPU.

It stands where ``cosmos_framework/scripts/{train,convert_model_to_dcp,export_model,
convert_model_to_diffusers}.py`` would be in a checkout and behaves as upstream does at its edges
(read from the upstream code, not its docs):

- ``train``: ``--sft-toml TOML [--dryrun] [-- key=value ...]`` (argparse, the TOML is required);
  the job folder is ``$IMAGINAIRE_OUTPUT_ROOT/<[job].project>/<group>/<name>`` (overrides
  ``job.*`` win); ``--dryrun`` writes ``<job>/config.yaml`` and prints its path. Training needs
  ``DATASET_PATH`` (a folder, as the experiment SKU reads it) and, on a fresh start,
  ``[checkpoint].load_path`` (``${oc.env:BASE_CHECKPOINT_PATH}``) to hold the converter's DCP
  ``model/.metadata``; an existing ``checkpoints/latest_checkpoint.txt`` is resumed instead.
  Rank 0 prints the loguru lines of ``callbacks/iter_speed.py``: the hit phase, then every
  ``trainer.logging_iter`` the speed line with the Cosmos 3 suffix
  ``| N tokens per iteration (M tokens/s)``; writes
  ``EveryNDrawSample/{reg,ema}_ReplicateID0000_Sample_Iter%09d_resize.jpg`` and ``.gif``; saves
  DCP ``iter_%09d/{model,optim,scheduler,trainer}`` then ``latest_checkpoint.txt``.
- ``TerminationSignalCheckpoint``: SIGTERM is only logged (upstream's handler); at each step end
  the sentinel ``$SLURM_LOG_DIR/SIGUSR1_RECEIVED`` is polled: with at least
  ``save_iter * 1/3`` iterations since the last save it saves, touches
  ``$SLURM_LOG_DIR/SIGUSR1_CHECKPOINT_SUCCEEDED`` and exits 0; below that it exits 0 unsaved.
  (Upstream polls on every rank; the double takes rank 0's answer for all, so it never hangs in
  a collective the others skipped.)
- ``convert_model_to_dcp``: ``-o OUT --checkpoint-path NAME`` writes ``OUT/model`` (DCP) then
  ``OUT/model/config.json`` (``save_pretrained``, the last write), prints
  ``Saved checkpoint to OUT``.
- ``export_model``: ``--checkpoint-path P --config-file F -o OUT [--verify]`` loads ``P/model``
  when it exists, writes ``config.json``, ``model.safetensors``, ``export_manifest.json`` and
  ``checkpoint.json`` last; ``--verify`` without CUDA logs upstream's warning and skips.
- ``convert_model_to_diffusers``: ``--checkpoint-path HF_DIR -o OUT`` needs an export
  (``config.json``), writes ``transformer/``, ``model_index.json`` and copies ``checkpoint.json``.

Knobs (the real scripts have none of these): overrides ``replay.sleep``, ``replay.hit_thres``,
``replay.tokens`` (tokens per iteration), ``replay.sample_every``, ``replay.kill_at`` (rank 0
SIGKILLs itself there); environment ``REPLAY_STEP_SLEEP`` (seconds the converter and exporter
sleep before writing) and ``REPLAY_VERIFY_FAIL=1`` (``--verify`` fails as upstream's does).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
import tomllib
from pathlib import Path

REGISTERED = ("Cosmos3-Nano", "Cosmos3-Super", "Cosmos3-Edge", "Cosmos3-Nano-Policy-DROID")


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def log(level: str, source: str, message: str) -> None:
    """A loguru line of cosmos_framework's format."""
    emit(f"[{time.strftime('%m-%d %H:%M:%S')}|{level}|cosmos_framework/{source}] {message}")


def _env_path(value: str) -> str:
    """``${oc.env:NAME}`` resolved as OmegaConf does (a missing variable is an error)."""
    if value.startswith("${oc.env:") and value.endswith("}"):
        name = value[len("${oc.env:") : -1].split(",")[0]
        if name not in os.environ:
            raise KeyError(f"Environment variable '{name}' not found")
        return os.environ[name]
    return value


def compose(toml_path: str, opts: list[str]) -> dict[str, object]:
    """The TOML's values at their Hydra paths, then the overrides (last one wins)."""
    with open(toml_path, "rb") as f:
        doc = tomllib.load(f)
    job, trainer, ckpt = doc.get("job", {}), doc.get("trainer", {}), doc.get("checkpoint", {})
    par = doc.get("model", {}).get("parallelism", {})
    cfg: dict[str, object] = {
        "job.project": job.get("project", "cosmos3"),
        "job.group": job.get("group", "sft"),
        "job.name": job.get("name", job.get("experiment", "run")),
        "job.experiment": job.get("experiment", ""),
        "trainer.max_iter": trainer.get("max_iter", 10),
        "trainer.logging_iter": trainer.get("logging_iter", 1),
        "checkpoint.save_iter": ckpt.get("save_iter", 5),
        "checkpoint.load_path": ckpt.get("load_path", ""),
        "replay.sleep": 0.02,
        "replay.hit_thres": 3,
        "replay.tokens": 45056,
        "replay.sample_every": 4,
        "replay.kill_at": 0,
    }
    for key in (
        "data_parallel_shard_degree",
        "data_parallel_replicate_degree",
        "context_parallel_shard_degree",
        "cfg_parallel_shard_degree",
    ):
        cfg[f"model.config.parallelism.{key}"] = par.get(
            key, -1 if key == "data_parallel_shard_degree" else 1
        )
    for item in opts[1:] if opts[:1] == ["--"] else opts:
        key, sep, value = item.lstrip("+").partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        cfg[key] = value
    return cfg


class Job:
    def __init__(self, cfg: dict[str, object], rank: int, world: int) -> None:
        self.cfg, self.rank, self.world = cfg, rank, world
        root = os.environ.get("IMAGINAIRE_OUTPUT_ROOT") or "/tmp/imaginaire4-output"
        self.dir = Path(root) / str(cfg["job.project"]) / str(cfg["job.group"]) / str(cfg["job.name"])
        self.ckpt = self.dir / "checkpoints"

    def number(self, key: str) -> float:
        return float(self.cfg[key])  # type: ignore[arg-type]

    def write_config(self) -> Path:
        import yaml

        nested: dict = {}
        for key, value in self.cfg.items():
            node = nested
            *parents, leaf = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "config.yaml"
        path.write_text(yaml.safe_dump(nested))
        return path

    def save(self, iteration: int) -> None:
        import torch
        import torch.distributed.checkpoint as dcp

        name = f"iter_{iteration:09d}"
        g = torch.Generator().manual_seed(iteration)
        w = torch.randn(8, 4, generator=g)
        parts = {
            "model": {"net.w": w, "net_ema.w": w * 0.5},
            "optim": {"state.net.w.exp_avg": torch.zeros(8, 4)},
            "scheduler": {"last_epoch": iteration},
            "trainer": {"iteration": iteration},
        }
        for part, state in parts.items():
            dcp.save(state, checkpoint_id=str(self.ckpt / name / part))
        if self.world > 1:
            torch.distributed.barrier()
        if self.rank == 0:
            log("INFO", "checkpoint/dcp.py:612:save", f"Saved checkpoint to {self.ckpt / name}")
            tmp = self.ckpt / ".latest_checkpoint.txt.tmp"
            tmp.write_text(name + "\n")
            tmp.replace(self.ckpt / "latest_checkpoint.txt")

    def start_iteration(self) -> int:
        pointer = self.ckpt / "latest_checkpoint.txt"
        if pointer.is_file():
            text = pointer.read_text().strip()
            log("INFO", "utils/checkpointer.py:176:load", f"Resuming from {self.ckpt / text}")
            return int(text.removeprefix("iter_"))
        base = Path(_env_path(str(self.cfg["checkpoint.load_path"])))
        if not (base / "model" / ".metadata").is_file():
            raise FileNotFoundError(f"No DCP checkpoint at {base}/model (run convert_model_to_dcp first)")
        log("INFO", "utils/checkpointer.py:190:load", f"Loading base checkpoint {base}")
        return 0

    def sample(self, iteration: int) -> None:
        folder = self.dir / "EveryNDrawSample"
        folder.mkdir(parents=True, exist_ok=True)
        for tag in ("reg", "ema"):
            base = f"{tag}_ReplicateID0000_Sample_Iter{iteration:09d}"
            (folder / f"{base}_resize.jpg").write_bytes(b"\xff\xd8\xff\xe0replay\xff\xd9")
            (folder / f"{base}.gif").write_bytes(b"GIF89a;")


class _Sentinel:
    """TerminationSignalCheckpoint's files (no directory: the protocol is off, as upstream)."""

    def __init__(self) -> None:
        folder = os.environ.get("SLURM_LOG_DIR", "")
        self.received = os.path.join(folder, "SIGUSR1_RECEIVED") if folder else ""
        self.succeeded = os.path.join(folder, "SIGUSR1_CHECKPOINT_SUCCEEDED") if folder else ""

    def seen(self, rank: int, world: int) -> bool:
        import torch

        flag = 1 if rank == 0 and self.received and os.path.exists(self.received) else 0
        if world == 1:
            return bool(flag)
        t = torch.tensor([flag])
        torch.distributed.all_reduce(t)
        return bool(t.item())


def train(job: Job) -> None:
    import torch

    rank = job.rank
    dataset = os.environ.get("DATASET_PATH")
    if not dataset:
        raise KeyError("Environment variable 'DATASET_PATH' not found")
    if not Path(dataset).is_dir():
        raise FileNotFoundError(f"Dataset directory {dataset} does not exist!")
    sentinel = _Sentinel()
    current = {"it": 0}

    def on_sigterm(signum: int, frame: object) -> None:
        log(
            "INFO",
            "callbacks/termination_signal_checkpoint.py:189:_log_sigterm",
            f"[TerminationSignalCheckpoint] Received SIGTERM at iteration {current['it']}.",
        )

    start = job.start_iteration()
    if rank == 0:
        job.write_config()
        (job.dir / "launch_info.yaml").write_text(f"world_size: {job.world}\n")
    signal.signal(signal.SIGTERM, on_sigterm)
    if rank == 0:
        log(
            "INFO",
            "callbacks/termination_signal_checkpoint.py:186:_install_termination_signal_handlers",
            "[TerminationSignalCheckpoint] Installed SIGTERM handler.",
        )
        log("INFO", "trainer.py:240:train", "Starting training...")
    max_iter, save_iter = int(job.number("trainer.max_iter")), int(job.number("checkpoint.save_iter"))
    every_n, hit_thres = int(job.number("trainer.logging_iter")), int(job.number("replay.hit_thres"))
    sleep, tokens = job.number("replay.sleep"), job.number("replay.tokens")
    sample_every, kill_at = int(job.number("replay.sample_every")), int(job.number("replay.kill_at"))
    hit, last_hit, window_t0 = 0, time.time(), None
    last_save = start
    speed = "callbacks/iter_speed.py"
    for iteration in range(start + 1, max_iter + 1):
        current["it"] = iteration
        time.sleep(sleep)
        loss = 0.3 / math.sqrt(iteration)
        if iteration == kill_at and rank == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        if rank == 0 and hit < hit_thres:
            now = time.time()
            log(
                "INFO",
                f"{speed}:58:on_training_step_end",
                f"Iteration {iteration}: Hit counter: {hit + 1}/{hit_thres} | Loss: {loss:.4f} | "
                f"Time: {now - last_hit:.2f}s",
            )
            hit, last_hit = hit + 1, now
        elif hit >= hit_thres and iteration % every_n == 0:
            now = time.time()
            if window_t0 is not None and rank == 0:
                per_iter = max((now - window_t0) / every_n, 1e-6)
                log(
                    "INFO",
                    f"{speed}:160:every_n_impl",
                    f"{iteration} : iter_speed {per_iter:.2f} seconds per iteration | Loss: {loss:.4f} | "
                    f"{tokens:,.0f} tokens per iteration ({tokens / per_iter:,.0f} tokens/s)",
                )
            window_t0 = now
        hit = hit if rank == 0 else hit_thres
        if rank == 0 and sample_every and iteration % sample_every == 0:
            job.sample(iteration)
        if iteration % save_iter == 0 or iteration == max_iter:
            job.save(iteration)
            last_save = iteration
        elif sentinel.seen(rank, job.world):
            tsc = "callbacks/termination_signal_checkpoint.py"
            if rank == 0:
                log(
                    "INFO",
                    f"{tsc}:142:on_training_step_end",
                    "[TerminationSignalCheckpoint] Detected SIGUSR1 sentinel file. Will save checkpoint.",
                )
            if iteration - last_save < int(save_iter * (1 / 3)):
                if rank == 0:
                    log(
                        "INFO",
                        f"{tsc}:147:on_training_step_end",
                        f"[TerminationSignalCheckpoint] Only {iteration - last_save} iterations since last "
                        f"checkpoint (threshold {int(save_iter / 3)}). Skipping checkpoint save.",
                    )
                sys.exit(0)
            if rank == 0:
                log(
                    "INFO",
                    f"{tsc}:157:on_training_step_end",
                    f"[TerminationSignalCheckpoint] Saving checkpoint at iteration {iteration}.",
                )
            job.save(iteration)
            if rank == 0 and sentinel.succeeded:
                Path(sentinel.succeeded).touch()
            if rank == 0:
                log(
                    "INFO",
                    f"{tsc}:177:on_training_step_end",
                    f"[TerminationSignalCheckpoint] Checkpoint saved at iteration {iteration}.",
                )
            if job.world > 1:
                torch.distributed.barrier()
            sys.exit(0)
    if rank == 0:
        log("SUCCESS", "trainer.py:318:train", "Done with training.")


def train_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="ReplayFramework train (test double)")
    parser.add_argument("--sft-toml", required=True)
    parser.add_argument("--dryrun", action="store_true")
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=[])
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    cfg = compose(args.sft_toml, args.opts)
    job = Job(cfg, rank, world)
    if args.dryrun:
        print(job.write_config())
        return
    import torch.distributed as dist

    if "RANK" in os.environ:
        dist.init_process_group("gloo")
    try:
        train(job)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _step_sleep() -> None:
    time.sleep(float(os.environ.get("REPLAY_STEP_SLEEP", "0")))


def convert_main(argv: list[str] | None = None) -> None:
    import torch
    import torch.distributed.checkpoint as dcp

    parser = argparse.ArgumentParser(description="ReplayFramework convert_model_to_dcp (test double)")
    parser.add_argument("-o", "--output-path", required=True)
    parser.add_argument("--checkpoint-path", required=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.checkpoint_path not in REGISTERED and not Path(args.checkpoint_path).is_dir():
        raise ValueError(f"Checkpoint directory does not exist: {Path(args.checkpoint_path).absolute()}")
    out = Path(args.output_path).absolute()
    print("Loading model...")
    _step_sleep()
    print("Saving model...")
    w = torch.ones(8, 4)
    dcp.save({"net.w": w, "net_ema.w": w}, checkpoint_id=str(out / "model"))
    (out / "model" / "config.json").write_text(json.dumps({"model_type": "cosmos3_omni"}))
    print(f"Saved checkpoint to {out}")


def export_main(argv: list[str] | None = None) -> None:
    from safetensors.torch import save_file
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    parser = argparse.ArgumentParser(description="ReplayFramework export_model (test double)")
    parser.add_argument("--checkpoint-path", required=True)
    parser.add_argument("--config-file", default="cosmos_framework/configs/base/config.py")
    parser.add_argument("-o", "--output-dir", required=True)
    parser.add_argument("--verify", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--vit", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    src = Path(args.checkpoint_path).absolute()
    if not src.is_dir():
        raise ValueError(f"Checkpoint directory does not exist: {src}")
    if (src / "model").is_dir():
        src = src / "model"
    out = Path(args.output_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    log("INFO", "scripts/export_model.py:380:export_model", "Loading config...")
    _step_sleep()
    (out / "config.json").write_text(json.dumps({"model_type": "cosmos3_omni"}))
    log("INFO", "scripts/export_model.py:459:export_model", "Saving model...")
    import torch

    dcp_to_torch_save(str(src), str(out / ".export.pt"))
    state = torch.load(out / ".export.pt", weights_only=True)
    (out / ".export.pt").unlink()
    save_file(
        {k: v.contiguous() for k, v in state.items() if isinstance(v, torch.Tensor)},
        str(out / "model.safetensors"),
    )
    (out / "export_manifest.json").write_text(json.dumps({"export_args": {"verify": args.verify}}))
    meta = {"checkpoint_path": str(src), "config_file": args.config_file, "use_ema_weights": True}
    (out / "checkpoint.json").write_text(json.dumps(meta))
    print(f"Saved model to {out}")
    if args.verify:
        if os.environ.get("REPLAY_VERIFY_FAIL") == "1":
            raise RuntimeError(
                f"--verify failed for '{out}' (the export artifacts were still written): "
                "sample 'verify_t2i' output 'vision.jpg' is missing or empty."
            )
        log(
            "WARNING",
            "scripts/export_model.py:238:_verify_exported_checkpoint",
            "Skipping --verify: no CUDA device is available on this node.",
        )


def diffusers_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="ReplayFramework convert_model_to_diffusers (test double)")
    parser.add_argument("--checkpoint-path", required=True)
    parser.add_argument("-o", "--output-path", required=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    src, out = Path(args.checkpoint_path).absolute(), Path(args.output_path).absolute()
    if not (src / "config.json").is_file():
        raise ValueError(f"{src} is not a Hugging Face export (no config.json); run export_model first")
    _step_sleep()
    (out / "transformer").mkdir(parents=True, exist_ok=True)
    (out / "transformer" / "config.json").write_text("{}")
    (out / "model_index.json").write_text(json.dumps({"_class_name": "Cosmos3Pipeline"}))
    (out / "checkpoint.json").write_bytes((src / "checkpoint.json").read_bytes())
    print(f"Saved diffusers checkpoint to {out}")
