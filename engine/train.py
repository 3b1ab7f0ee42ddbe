"""Train a video world model.

``torchrun [--standalone] --nproc_per_node=N -m cosmos_engine.train [--dryrun] -- experiment=NAME k=v ...``

The ``--`` is required, as upstream. Overrides use Hydra's grammar (``key=value``, ``+key=value``,
``~key``, ``experiment=NAME``); an unknown key or bad value exits with code 2 and one ``error:``
line naming the key and close matches. ``--dryrun`` writes the composed ``config.yaml`` to the job
directory, prints its path and exits. Without torchrun the engine runs as a single process.

The job directory is ``$IMAGINAIRE_OUTPUT_ROOT/<job.project>/<job.group>/<job.name>`` (default root
``/tmp/imaginaire4-output``) and holds ``config.yaml``, ``metrics.jsonl``, ``wandb_id.txt`` and
``checkpoints/`` (see :mod:`cosmos_engine.checkpoint`). Rerunning the same command resumes from
the latest complete checkpoint. SIGTERM/SIGINT: finish the step, save, exit 0. SIGUSR1 or a file
``<job_dir>/SAVE_NOW``: save at the next step boundary. Experiments: ``python -m cosmos_engine.info --list``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import signal
import sys
import time
from pathlib import Path
from typing import Any

from cosmos_engine import log as engine_log
from cosmos_engine.compose import compose_config, n_views, split_overrides, to_yaml
from cosmos_engine.config import Config
from cosmos_engine.errors import ConfigError, EngineError


class _Signals:
    """Flags set by SIGTERM/SIGINT (stop) and SIGUSR1 (save now); acted on at step boundaries."""

    def __init__(self) -> None:
        self.stop = False
        self.save = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGUSR1, self._save)

    def _stop(self, signum: int, frame: Any) -> None:
        self.stop = True

    def _save(self, signum: int, frame: Any) -> None:
        self.save = True


def _write_config(cfg: Config, job_dir: Path) -> Path:
    job_dir.mkdir(parents=True, exist_ok=True)
    path = job_dir / "config.yaml"
    tmp = path.with_name(".config.yaml.tmp")
    tmp.write_text(to_yaml(cfg))
    tmp.replace(path)
    return path


def train(cfg: Config, rank: int) -> int:
    """Run (or resume) the job described by ``cfg``; returns the exit code."""
    import torch.distributed as dist
    from cosmos_engine.datasets import ClipDataset
    from cosmos_engine.parallel import init_distributed

    ds_cfg = cfg.dataloader_train.dataset
    dataset = ClipDataset(ds_cfg, seed=cfg.trainer.seed, text_dim=cfg.model.text_dim, verbose=rank == 0)

    d = init_distributed()
    try:
        return _run(cfg, rank, d, dataset)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _run(cfg: Config, rank: int, d: Any, dataset: Any) -> int:
    """The training loop proper, inside the process group."""
    import torch
    import torch.distributed as dist
    from cosmos_engine import checkpoint as ckpt
    from cosmos_engine.flow import flow_loss
    from cosmos_engine.model import flops_per_sample
    from cosmos_engine.parallel import ema_update
    from cosmos_engine.sampler import build_loader
    from cosmos_engine.schedule import lr_lambda
    from cosmos_engine.tracking import IterSpeed, Tracker, peak_flops, peak_memory_gb

    log = engine_log.get()
    signals = _Signals()
    job_dir = cfg.job.path_local
    ckpt_dir = job_dir / "checkpoints"
    ds_cfg = cfg.dataloader_train.dataset
    if rank == 0:
        _write_config(cfg, job_dir)
        log.info(f"Job directory: {job_dir}")
        log.info(f"Distributed parallelism mode: fsdp2 ({d.world_size} ranks, {d.device.type})")

    net, model, opt, start = _build(cfg, d, rank, ckpt_dir)
    lr_at = lr_lambda(cfg.scheduler, cfg.trainer.max_iter)

    accum, bsz = cfg.trainer.grad_accum_iter, cfg.dataloader_train.batch_size
    loader = build_loader(
        dataset,
        batch_size=bsz,
        num_workers=cfg.dataloader_train.num_workers,
        pin_memory=cfg.dataloader_train.pin_memory and d.device.type == "cuda",
        rank=d.rank,
        world_size=d.world_size,
        seed=cfg.trainer.seed,
        start_sample=start * accum * bsz,
    )
    batches = iter(loader)
    pt, ph, pw = cfg.model.patch_size
    views = n_views(cfg)
    tokens_per_sample = (
        views * (ds_cfg.num_frames // pt) * (ds_cfg.video_size[0] // ph) * (ds_cfg.video_size[1] // pw)
    )
    flops = flops_per_sample(
        cfg.model, views, ds_cfg.num_frames, list(ds_cfg.video_size), ds_cfg.max_text_len
    )
    peak = peak_flops(d.device)
    speed_cfg = cfg.trainer.callbacks.get("iter_speed") or {}
    iter_speed = IterSpeed(int(speed_cfg.get("every_n", 10)), int(speed_cfg.get("hit_thres", 5)))
    tracker = None
    if rank == 0:
        tracker = Tracker(job_dir, cfg.job.wandb_mode, cfg.job, dataclasses.asdict(cfg))
        log.info("Starting training...")
    autocast = torch.autocast(
        "cuda", dtype=torch.bfloat16, enabled=d.device.type == "cuda" and cfg.trainer.bf16
    )
    window_losses: list[float] = []
    window_start = time.time()
    window_iters = 0
    saved_at = start
    iteration = start
    for iteration in range(start + 1, cfg.trainer.max_iter + 1):
        model.train()
        step_loss = 0.0
        for micro in range(accum):
            batch = {k: v.to(d.device, non_blocking=True) for k, v in next(batches).items()}
            gen = torch.Generator(device=d.device).manual_seed(
                ((cfg.trainer.seed * 1_000_003 + iteration) * 1009 + micro) * 8191 + d.rank
            )
            net.set_requires_gradient_sync(micro == accum - 1)
            with autocast:
                loss = flow_loss(net, batch, gen, cfg.model.task) / accum
            loss.backward()
            step_loss += float(loss.detach())
        clip = cfg.trainer.grad_clip_norm if cfg.trainer.grad_clip_norm > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        grad_norm = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
        lr = cfg.optimizer.lr * lr_at(iteration - 1)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cfg.model.ema.enabled:
            ema_update(model, cfg.model.ema.beta)
        window_losses.append(step_loss)
        window_iters += 1
        if rank == 0:
            iter_speed.on_step_end(iteration, step_loss)
        if iteration % cfg.trainer.logging_iter == 0:
            mean = torch.tensor([sum(window_losses) / len(window_losses)], dtype=torch.float64)
            dist.all_reduce(mean)
            elapsed = time.time() - window_start
            sec = elapsed / window_iters
            samples = bsz * accum * d.world_size / sec
            if tracker is not None:
                tracker.log(
                    {
                        "iteration": iteration,
                        "loss": float(mean.item() / d.world_size),
                        "lr": lr,
                        "grad_norm": grad_norm,
                        "sec_per_iter": sec,
                        "samples_per_s": samples,
                        "tokens_per_s": samples * tokens_per_sample,
                        "mfu": (flops * samples / (peak * d.world_size)) if peak else None,
                        "peak_mem_gb": peak_memory_gb(d.device),
                        "sample_counter": iteration * bsz * accum * d.world_size,
                        "time": time.time(),
                    }
                )
            window_losses, window_iters, window_start = [], 0, time.time()
        save_now = rank == 0 and (job_dir / "SAVE_NOW").exists()
        flags = torch.tensor([int(signals.stop), int(signals.save or save_now)])
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        stop, requested = bool(flags[0]), bool(flags[1])
        if (
            iteration % cfg.checkpoint.save_iter == 0
            or iteration == cfg.trainer.max_iter
            or stop
            or requested
        ):
            _save(cfg, ckpt, ckpt_dir, job_dir, iteration, model, opt, d.rank)
            saved_at = iteration
            signals.save = False
            if rank == 0:
                (job_dir / "SAVE_NOW").unlink(missing_ok=True)
        if stop:
            if rank == 0:
                log.info(f"Stopping at iteration {iteration} on a signal; checkpoint saved")
            break
    if saved_at != iteration:
        _save(cfg, ckpt, ckpt_dir, job_dir, iteration, model, opt, d.rank)
    if tracker is not None:
        tracker.close()
        log.info("Done with training.")
    dist.barrier()
    return 0


def _build(cfg: Config, d: Any, rank: int, ckpt_dir: Path) -> tuple[Any, Any, Any, int]:
    """Network (same init on every rank), initial or resumed weights, FSDP2, optimizer.

    Returns ``(net, model, optimizer, start_iteration)``. Resume from the job's own latest complete
    checkpoint restores everything; otherwise ``checkpoint.load_path`` gives the initial weights:
    a consolidated ``.pt`` is loaded before sharding, a DCP folder after.
    """
    import torch
    import torch.distributed as dist
    from cosmos_engine import checkpoint as ckpt
    from cosmos_engine.model import VideoDiT, count_params
    from cosmos_engine.parallel import DiffusionModel, shard

    log = engine_log.get()
    torch.manual_seed(cfg.trainer.seed)
    with torch.device(d.device):  # on GPU, initialise there (a 2B model is slow to build on CPU)
        net = VideoDiT(cfg.model)
        net.init_weights()
    net_ema = copy.deepcopy(net) if cfg.model.ema.enabled else None
    model = DiffusionModel(net, net_ema)
    found = [ckpt.latest_iteration(ckpt_dir) if rank == 0 else None]
    dist.broadcast_object_list(found, src=0)  # every rank resumes from what rank 0 found
    latest = found[0]
    load_path = Path(cfg.checkpoint.load_path).expanduser() if cfg.checkpoint.load_path else None
    if latest is None and load_path is not None and load_path.suffix == ".pt":
        ckpt.load_consolidated(load_path, model, cfg.model.ema.enabled)
        if rank == 0:
            log.info(f"Loaded consolidated checkpoint {load_path}")
    net.activation_checkpointing = cfg.trainer.activation_checkpointing
    if cfg.trainer.compile:
        for block in net.blocks:
            block.compile()
    model = shard(model, d.device, cfg.trainer.bf16)
    if rank == 0:
        log.info(f"Model parameters: {count_params(net):,} (net), experiment {cfg.experiment or '-'}")
    opt = torch.optim.AdamW(
        net.parameters(),
        lr=cfg.optimizer.lr,
        betas=tuple(cfg.optimizer.betas),
        eps=cfg.optimizer.eps,
        weight_decay=cfg.optimizer.weight_decay,
        foreach=True,  # one multi-tensor op per step instead of one DTensor dispatch per parameter
    )
    start = 0
    if latest is not None:
        state = ckpt.load_parts(ckpt_dir / ckpt.step_name(latest), model, opt, ckpt.PARTS)
        start = int(state["trainer"]["iteration"])
        if rank == 0:
            log.info(f"Resuming from checkpoint {ckpt_dir / ckpt.step_name(latest)} at iteration {start}")
    elif load_path is not None and load_path.suffix != ".pt":
        step_dir = ckpt.dcp_step_dir(load_path)
        parts = ckpt.PARTS if cfg.checkpoint.load_training_state else ("model",)
        state = ckpt.load_parts(step_dir, model, opt, parts)
        if "trainer" in state:
            start = int(state["trainer"]["iteration"])
        if rank == 0:
            log.info(f"Loaded {', '.join(parts)} from {step_dir}")
    return net, model, opt, start


def _save(
    cfg: Config, ckpt: Any, ckpt_dir: Path, job_dir: Path, iteration: int, model: Any, opt: Any, rank: int
) -> None:
    log = engine_log.get()
    if ckpt.save(ckpt_dir, iteration, model, opt, {"last_epoch": iteration}, rank):
        if cfg.checkpoint.export_pt:
            ckpt.export_pt(job_dir / "export", iteration, model, rank)
        if rank == 0:
            log.info(f"Saved checkpoint {ckpt_dir / ckpt.step_name(iteration)}")
            pruned = ckpt.prune(ckpt_dir, cfg.checkpoint.keep_last_n)
            if pruned:
                log.info(f"Pruned checkpoints {', '.join(ckpt.step_name(i) for i in pruned)}")


def separator_in_launcher(launcher_argv: list[str]) -> bool:
    """Whether a launcher command line has a ``--`` after the ``cosmos_engine.train`` module or script.

    True when the module is not found (another launcher shape): the user is trusted then.
    """
    for i, arg in enumerate(launcher_argv):
        if arg.endswith(("cosmos_engine.train", "cosmos_engine/train.py")):
            return "--" in launcher_argv[i + 1 :]
    return True


def _torchrun_ate_separator() -> bool:
    """True when torchrun's argparse dropped a ``--`` the user typed after ``-m cosmos_engine.train``.

    torchrun passes ``-m MOD -- a=1`` to the worker as ``a=1``; the agent's command line (this
    process's parent) still shows it.
    """
    import os

    if "TORCHELASTIC_RUN_ID" not in os.environ:
        return False
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
            parent = [a.decode(errors="replace") for a in f.read().split(b"\0")]
    except OSError:
        return True  # cannot tell (not Linux): trust the user
    return separator_in_launcher(parent)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    import os

    args_in = list(sys.argv[1:] if argv is None else argv)
    # Split at the first "--" ourselves: argparse would swallow it, and upstream requires it.
    cut = args_in.index("--") if "--" in args_in else len(args_in)
    flags, opts = args_in[:cut], args_in[cut:]
    parser = argparse.ArgumentParser(
        prog="python -m cosmos_engine.train", description="Train a video world model (see module docs)."
    )
    parser.add_argument("--dryrun", action="store_true", help="write config.yaml to the job dir and exit")
    args, extra = parser.parse_known_args(flags)
    if extra:
        opts = [*extra, *opts]
    if opts and opts[0] != "--" and _torchrun_ate_separator():
        opts = ["--", *opts]
    rank = int(os.environ.get("RANK", "0"))
    engine_log.setup(rank)
    try:
        cfg = compose_config(split_overrides(opts))
        if args.dryrun:
            if rank == 0:
                path = _write_config(cfg, cfg.job.path_local)
                print(path)
            return 0
        return train(cfg, rank)
    except EngineError as exc:
        # Every rank finds the same mistake; rank 0 says it, others only when it is theirs alone.
        prefix = "" if rank == 0 else f"[RANK {rank}] "
        if rank == 0 or not isinstance(exc, ConfigError):
            print(f"{prefix}error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
