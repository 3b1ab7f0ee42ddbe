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
import gc
import signal
import sys
from pathlib import Path
from typing import Any

from cosmos_engine import log as engine_log
from cosmos_engine.compose import compose_config, split_overrides, to_yaml
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
    from cosmos_engine.parallel import context_parallel, init_distributed

    ds_cfg = cfg.dataloader_train.dataset
    dataset = ClipDataset(ds_cfg, seed=cfg.trainer.seed, text_dim=cfg.model.text_dim, verbose=rank == 0)
    val_dataset = None
    if cfg.trainer.val_every:
        val_dataset = ClipDataset(
            ds_cfg, seed=cfg.trainer.seed, text_dim=cfg.model.text_dim, verbose=rank == 0, split="val"
        )

    d = init_distributed()
    try:
        d = context_parallel(d, cfg.parallel.context_parallel_size)
        return _run(cfg, rank, d, dataset, val_dataset)
    finally:
        # The sharded model's reference cycles still hold the process group; freed at interpreter
        # exit instead, gloo's worker threads can abort the process ("terminate called without an
        # active exception") after training succeeded, and the other nodes then wait at torchrun's
        # exit barrier. Collect them while the interpreter is whole, then destroy the group.
        gc.collect()
        if dist.is_initialized():
            dist.destroy_process_group()


def _run(cfg: Config, rank: int, d: Any, dataset: Any, val_dataset: Any = None) -> int:
    """The training loop proper, inside the process group."""
    import torch.distributed as dist
    from cosmos_engine.trainer import Trainer

    log = engine_log.get()
    signals = _Signals()
    job_dir = cfg.job.path_local
    if rank == 0:
        _write_config(cfg, job_dir)
        log.info(f"Job directory: {job_dir}")
        mode = "fsdp2" if d.world_size > 1 else "none (one rank, nothing to shard)"
        if d.cp_size > 1:
            mode = f"fsdp2 + context parallel (dp {d.dp_size} x cp {d.cp_size})"
        log.info(f"Distributed parallelism mode: {mode} ({d.world_size} ranks, {d.device.type})")
    trainer = Trainer(cfg, d, rank, dataset, val_dataset)
    if rank == 0:
        if cfg.trainer.memory_budget:  # the policy it chose, as the run trains it
            _write_config(cfg, job_dir)
        log.info("Starting training...")
    iteration = trainer.start
    try:
        for iteration in range(trainer.start + 1, cfg.trainer.max_iter + 1):
            if trainer.iteration(iteration, signals):
                if rank == 0:
                    log.info(f"Stopping at iteration {iteration} on a signal; checkpoint saved")
                break
        if trainer.saved_at != iteration and cfg.checkpoint.save_at_end:
            trainer.save(iteration)
        trainer.finish_saves()
    finally:
        trainer.close()
    if rank == 0:
        log.info("Done with training.")
    dist.barrier()
    return 0


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
