"""The training state and one optimizer step, shared by ``cosmos_engine.train`` and the benchmarks.

:class:`Trainer` builds the network (same init on every rank), resumes or loads initial weights,
shards with FSDP2 when there is more than one rank (one rank trains the plain module with bf16
autocast), makes the optimizer and the data loader, and runs steps. A step reads the host only at
logging iterations: losses and the gradient norm stay on the device otherwise, so the host queues
the next step while the GPU works. Gradient clipping is folded into the fused optimizer's kernel
on GPU. EMA (:mod:`cosmos_engine.ema`) is a lerp of the local shards, optionally every N steps: on a
GPU with Triton it is folded into the optimizer's own pass (:mod:`cosmos_engine.fused_update`);
otherwise a foreach lerp on a side CUDA stream that overlaps the next forward, or streamed from
pinned host memory. Saves are synchronous, or asynchronous (``checkpoint.async_save``,
:mod:`cosmos_engine.async_checkpoint`).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from cosmos_engine import checkpoint as ckpt
from cosmos_engine import log as engine_log
from cosmos_engine.compose import n_views, tokens_per_sample
from cosmos_engine.config import Config


def build(cfg: Config, d: Any, rank: int, ckpt_dir: Path) -> tuple[Any, Any, Any, int]:
    """Network (same init on every rank), initial or resumed weights, FSDP2 over 2+ ranks, optimizer.

    Returns ``(net, model, optimizer, start_iteration)``. Resume from the job's own latest complete
    checkpoint restores everything; otherwise ``checkpoint.load_path`` gives the initial weights:
    a consolidated ``.pt`` is loaded before sharding, a DCP folder after.
    """
    from cosmos_engine.ema import offload_to_host
    from cosmos_engine.model import VideoDiT, count_params
    from cosmos_engine.parallel import DiffusionModel, shard

    log = engine_log.get()
    torch.manual_seed(cfg.trainer.seed)
    with torch.device(d.device):  # on GPU, initialise there (a 2B model is slow to build on CPU)
        net = VideoDiT(cfg.model)
        net.init_weights()
    net_ema = copy.deepcopy(net) if cfg.model.ema.enabled else None
    if d.cp_size > 1:  # after the copy: a process group does not deep-copy
        for one in (net, net_ema):
            if one is not None:
                one.set_context_parallel(d.cp_group)
    model = DiffusionModel(net, net_ema)
    found = [ckpt.latest_iteration(ckpt_dir) if rank == 0 else None]
    dist.broadcast_object_list(found, src=0)  # every rank resumes from what rank 0 found
    latest = found[0]
    load_path = Path(cfg.checkpoint.load_path).expanduser() if cfg.checkpoint.load_path else None
    if latest is None and load_path is not None and load_path.suffix == ".pt":
        ckpt.load_consolidated(load_path, model, cfg.model.ema.enabled)
        if rank == 0:
            log.info(f"Loaded consolidated checkpoint {load_path}")
    if cfg.trainer.memory_budget:
        _choose_memory_policy(cfg, net, d, rank)
    net.set_recompute(ac_every(cfg), cfg.trainer.recompute)
    if cfg.trainer.compile:
        for block in net.blocks:
            block.compile()
    ema_on_host = net_ema is not None and cfg.model.ema.offload and d.device.type == "cuda"
    if d.world_size > 1:  # one rank has nothing to shard: FSDP2's copies would cost ~5% of a step
        model = shard(model, d.device, cfg.trainer.bf16, cfg.trainer.fsdp_reshard_after_forward, ema_on_host)
    elif ema_on_host:
        offload_to_host(model.net_ema)
    if rank == 0:
        log.info(f"Model parameters: {count_params(net):,} (net), experiment {cfg.experiment or '-'}")
    fused = d.device.type == "cuda"  # one fused kernel for all parameters on GPU; foreach on CPU
    opt = torch.optim.AdamW(
        net.parameters(),
        lr=cfg.optimizer.lr,
        betas=tuple(cfg.optimizer.betas),
        eps=cfg.optimizer.eps,
        weight_decay=cfg.optimizer.weight_decay,
        fused=fused,
        foreach=not fused,
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


def _choose_memory_policy(cfg: Config, net: Any, d: Any, rank: int) -> None:
    """``trainer.memory_budget``: rank 0's choice (measured on its GPU) for every rank, logged."""
    from cosmos_engine import memory_budget
    from cosmos_engine.model import count_params

    log = engine_log.get()
    picked: list[Any] = [None]
    if rank == 0:
        choice = memory_budget.choose_for(cfg, net.blocks[0], count_params(net), d.device, d.world_size)
        picked = [None if choice is None else (choice.policy, choice.fits, choice.reason)]
        if choice is None:
            log.info(
                f"Memory policy: trainer.memory_budget={cfg.trainer.memory_budget} has no device memory to "
                f"budget on {d.device.type}; keeping the configured one"
            )
        else:
            say = log.info if choice.fits else log.warning
            budget = cfg.trainer.memory_budget
            say(f"Memory policy (trainer.memory_budget={budget}): {choice.policy.label}: {choice.reason}")
    dist.broadcast_object_list(picked, src=0)
    if picked[0] is not None:
        memory_budget.apply(cfg, picked[0][0])


def ac_every(cfg: Config) -> int:
    """The network's activation checkpointing: one block in every N, or 0 for none."""
    return cfg.trainer.activation_checkpointing_every if cfg.trainer.activation_checkpointing else 0


def clip_in_optimizer(
    opt: torch.optim.Optimizer, params: list[torch.Tensor], max_norm: float
) -> torch.Tensor:
    """The global gradient norm, with the clipping left to the optimizer when it can do it.

    ``clip_grad_norm_`` reads every gradient for the norm, then reads and writes them all again to
    scale them. A fused optimizer (``_step_supports_amp_scaling``, as ``GradScaler`` uses) divides
    the gradients by ``opt.grad_scale`` inside its own kernel, so the clip costs the norm alone.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not getattr(opt, "_step_supports_amp_scaling", False) or not grads:
        return torch.nn.utils.clip_grad_norm_(params, max_norm if max_norm > 0 else float("inf"))
    norm = torch.nn.utils.get_total_norm(grads, foreach=True)
    if max_norm > 0:
        local = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
        opt.grad_scale = torch.clamp((local.float() + 1e-6) / max_norm, min=1.0).reshape(1)
    return norm


class Trainer:
    """Everything one rank needs to train: model, optimizer, loader, tracker, checkpointer."""

    def __init__(self, cfg: Config, d: Any, rank: int, dataset: Any, val_dataset: Any = None) -> None:
        """``val_dataset``: the held-out clips, scored every ``trainer.val_every`` iterations."""
        from cosmos_engine.model import flops_per_sample
        from cosmos_engine.sampler import build_loader
        from cosmos_engine.schedule import lr_lambda
        from cosmos_engine.tracking import IterSpeed, Tracker, peak_flops

        if d.cp_size != cfg.parallel.context_parallel_size:  # a caller that made no mesh (benchmarks)
            from cosmos_engine.parallel import context_parallel

            d = context_parallel(d, cfg.parallel.context_parallel_size)
        self.cfg, self.d, self.rank = cfg, d, rank
        self.log = engine_log.get()
        self.job_dir = cfg.job.path_local
        self.ckpt_dir = self.job_dir / "checkpoints"
        if d.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True  # fp32 matmuls outside autocast
            torch.backends.cudnn.allow_tf32 = True
        self.net, self.model, self.opt, self.start = build(cfg, d, rank, self.ckpt_dir)
        self.lr_at = lr_lambda(cfg.scheduler, cfg.trainer.max_iter)
        self.accum, self.bsz = cfg.trainer.grad_accum_iter, cfg.dataloader_train.batch_size
        self.loader = build_loader(
            dataset,
            batch_size=self.bsz,
            num_workers=cfg.dataloader_train.num_workers,
            pin_memory=cfg.dataloader_train.pin_memory and d.device.type == "cuda",
            rank=d.dp_rank,  # the ranks of a context-parallel group read the same samples
            world_size=d.dp_size,
            seed=cfg.trainer.seed,
            start_sample=self.start * self.accum * self.bsz,
        )
        self.batches = iter(self.loader)
        ds = cfg.dataloader_train.dataset
        views = n_views(cfg)
        self.tokens_per_sample = tokens_per_sample(cfg)
        self.flops_per_sample = flops_per_sample(
            cfg.model, views, ds.num_frames, list(ds.video_size), ds.max_text_len
        )
        self.peak = peak_flops(d.device)
        self.device_name = torch.cuda.get_device_name(d.device) if d.device.type == "cuda" else "cpu"
        """The device as ``metrics.jsonl`` names it (a reference s/iter holds for one kind only)."""
        self.validator = None
        if cfg.trainer.val_every and val_dataset is not None:
            from cosmos_engine.validation import Validator

            self.validator = Validator(
                val_dataset,
                samples=cfg.trainer.val_samples,
                seed=cfg.trainer.seed,
                rank=d.dp_rank,
                world_size=d.dp_size,
            )
        streamed_alone = cfg.model.ema.offload and d.device.type == "cuda" and d.world_size == 1
        self.val_weights = "ema" if cfg.model.ema.enabled and not streamed_alone else "reg"
        """Which weights the held-out loss scores (:mod:`cosmos_engine.validation`)."""
        speed_cfg = cfg.trainer.callbacks.get("iter_speed") or {}
        self.iter_speed = IterSpeed(int(speed_cfg.get("every_n", 10)), int(speed_cfg.get("hit_thres", 5)))
        self.tracker = None
        if rank == 0:
            self.job_dir.mkdir(parents=True, exist_ok=True)
            self.tracker = Tracker(self.job_dir, cfg.job.wandb_mode, cfg.job, dataclasses.asdict(cfg))
        self.autocast = torch.autocast(
            "cuda", dtype=torch.bfloat16, enabled=d.device.type == "cuda" and cfg.trainer.bf16
        )
        self.ema = None
        """EMA updates, beside the next forward (:meth:`join_ema` before anything reads them)."""
        if cfg.model.ema.enabled:
            from cosmos_engine.ema import EMA

            self.ema = EMA(self.model, d.device)
            if rank == 0 and self.ema.streamed:
                gb = self.ema.host_bytes * d.world_size / 1e9
                self.log.info(
                    f"EMA weights in pinned host memory ({gb:.2f} GB), streamed through the GPU in "
                    f"{len(self.ema.buckets)} buckets per update"
                )
        self.fused = None
        """AdamW and the on-device EMA update in one kernel pass (GPU, Triton)."""
        from cosmos_engine import fused_update

        if cfg.trainer.fused_update and fused_update.available(d.device) and fused_update.supports(self.opt):
            self.fused = fused_update.FusedAdamWEMA(
                self.opt, self.ema.pairs if self.ema is not None and not self.ema.streamed else None
            )
        self.ema_in_optimizer = self.fused is not None and bool(self.fused.ema_of)
        """Whether the fused step updates the EMA (else :attr:`ema` does, after the step)."""
        self.async_saver = None
        if cfg.checkpoint.async_save:
            from cosmos_engine.async_checkpoint import AsyncCheckpointer

            self.async_saver = AsyncCheckpointer(d.device)
        self.window_losses: list[torch.Tensor] = []
        self.window_start = time.time()
        self.window_iters = 0
        self.last_lr = cfg.optimizer.lr
        self.saved_at = self.start
        """The last iteration saved (or resumed from)."""

    def step(self, iteration: int) -> None:
        """One optimizer step (with its micro-batches), EMA, progress line and metrics."""
        from cosmos_engine.flow import flow_loss

        cfg, d = self.cfg, self.d
        self.model.train()
        step_loss = torch.zeros((), device=d.device)
        for micro in range(self.accum):
            batch = {k: v.to(d.device, non_blocking=True) for k, v in next(self.batches).items()}
            gen = torch.Generator(device=d.device).manual_seed(
                ((cfg.trainer.seed * 1_000_003 + iteration) * 1009 + micro) * 8191 + d.dp_rank
            )
            if d.world_size > 1:
                self.net.set_requires_gradient_sync(micro == self.accum - 1)
            with self.autocast:
                loss = flow_loss(self.net, batch, gen, cfg.model.task) / self.accum
            loss.backward()
            step_loss += loss.detach().float()
        grad_norm = clip_in_optimizer(self.opt, list(self.net.parameters()), cfg.trainer.grad_clip_norm)
        lr = cfg.optimizer.lr * self.lr_at(iteration - 1)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.last_lr = lr
        if self.async_saver is not None:
            self.async_saver.before_update()
        self.join_ema()  # the optimizer writes the weights the last EMA update reads
        ema = cfg.model.ema
        ema_now = self.ema is not None and iteration % ema.every_n == 0
        beta = ema.beta**ema.every_n
        if self.fused is not None:
            self.fused.step(self.opt.grad_scale, 1.0 - beta if ema_now and self.ema_in_optimizer else None)
        else:
            self.opt.step()
        self.opt.grad_scale = None
        self.opt.zero_grad(set_to_none=True)
        if ema_now and not self.ema_in_optimizer:
            self.ema.update(beta)
        self.window_losses.append(step_loss)
        self.window_iters += 1
        if self.rank == 0:
            self.iter_speed.on_step_end(iteration, step_loss)  # reads the loss only when it prints
        if iteration % cfg.trainer.logging_iter == 0 or self.val_due(iteration):
            self._log_metrics(iteration, grad_norm)

    def val_due(self, iteration: int) -> bool:
        """Whether the held-out loss is computed (and a metrics line written) at ``iteration``."""
        return self.validator is not None and iteration % self.cfg.trainer.val_every == 0

    def validate(self) -> float:
        """The held-out loss of the current weights (a collective), EMA ones when kept."""
        assert self.validator is not None
        self.join_ema()  # the last EMA update is queued before the forward reads its weights
        net = self.model.net_ema if self.val_weights == "ema" else self.net
        return self.validator.loss(net, self.d.device, self.cfg.model.task, self.autocast)

    def join_ema(self, host: bool = False) -> None:
        """Order the work queued next after the EMA update; ``host``: before the host reads it."""
        if self.ema is not None:
            self.ema.join(host)

    def iteration(self, iteration: int, signals: Any) -> bool:
        """One step, then the step boundary: agree on stop/save requests, save when due.

        ``signals`` has ``stop`` and ``save`` flags (set by signal handlers); returns True to stop.
        """
        cfg, rank = self.cfg, self.rank
        self.step(iteration)
        if self.async_saver is not None and iteration == self.start + 1:  # the optimizer has its state now
            self.async_saver.prepare(self.model, self.opt)
        save_now = rank == 0 and (self.job_dir / "SAVE_NOW").exists()
        flags = torch.tensor([int(signals.stop), int(signals.save or save_now)])
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        stop, requested = bool(flags[0]), bool(flags[1])
        at_end = iteration == cfg.trainer.max_iter and cfg.checkpoint.save_at_end
        if iteration % cfg.checkpoint.save_iter == 0 or at_end or stop or requested:
            self.save(iteration)
            self.saved_at = iteration
            signals.save = False
            if rank == 0:
                (self.job_dir / "SAVE_NOW").unlink(missing_ok=True)
        return stop

    def _log_metrics(self, iteration: int, grad_norm: torch.Tensor) -> None:
        from cosmos_engine.tracking import peak_memory_gb

        d = self.d
        mean_dev = torch.stack(self.window_losses).mean()
        mean = torch.tensor([float(mean_dev)], dtype=torch.float64)  # the host sync of a logging step
        dist.all_reduce(mean)
        norm = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
        elapsed = time.time() - self.window_start
        sec = elapsed / self.window_iters
        samples = self.bsz * self.accum * d.dp_size / sec
        mfu = self.flops_per_sample * samples / (self.peak * d.world_size) if self.peak else None
        val: dict[str, Any] = {}
        if self.val_due(iteration):  # timed apart from the steps: s/iter stays the training pace
            began = time.time()
            val["val_loss"] = self.validate()
            val_s = time.time() - began
            val.update(val_weights=self.val_weights, val_samples=self.validator.size, val_s=val_s)
            if self.rank == 0:
                self.iter_speed.pause(val_s)
                self.log.info(
                    f"Held-out val_loss={val['val_loss']:.6f} at iteration {iteration} "
                    f"({self.val_weights} weights, {self.validator.size} samples, {val_s:.2f}s)"
                )
        if self.tracker is not None:
            self.tracker.log(
                {
                    "iteration": iteration,
                    "loss": float(mean.item() / d.world_size),
                    "lr": self.last_lr,
                    "grad_norm": norm,
                    "sec_per_iter": sec,
                    "samples_per_s": samples,
                    "tokens_per_s": samples * self.tokens_per_sample,
                    "mfu": mfu,
                    "peak_mem_gb": peak_memory_gb(d.device),
                    "sample_counter": iteration * self.bsz * self.accum * d.dp_size,
                    "device": self.device_name,
                    "world_size": d.world_size,
                    "context_parallel_size": d.cp_size,
                    **val,
                    "time": time.time(),
                }
            )
        self.window_losses, self.window_iters, self.window_start = [], 0, time.time()

    def save(self, iteration: int) -> None:
        """Save ``iteration`` (a collective): queued in the background when ``checkpoint.async_save``."""
        cfg = self.cfg
        self.join_ema(host=True)  # an offloaded EMA is read from host memory below
        if self.async_saver is not None and not cfg.checkpoint.export_pt:  # export needs the sync path
            self.async_saver.save(
                self.ckpt_dir,
                iteration,
                self.model,
                self.opt,
                {"last_epoch": iteration},
                self.rank,
                on_done=self._saved,
            )
            return
        if ckpt.save(self.ckpt_dir, iteration, self.model, self.opt, {"last_epoch": iteration}, self.rank):
            if cfg.checkpoint.export_pt:
                ckpt.export_pt(self.job_dir / "export", iteration, self.model, self.rank)
            if self.rank == 0:
                self._saved(iteration)

    def _saved(self, iteration: int) -> None:
        self.log.info(f"Saved checkpoint {self.ckpt_dir / ckpt.step_name(iteration)}")
        pruned = ckpt.prune(self.ckpt_dir, self.cfg.checkpoint.keep_last_n)
        if pruned:
            self.log.info(f"Pruned checkpoints {', '.join(ckpt.step_name(i) for i in pruned)}")
        every = self.cfg.trainer.sample_every
        if every and iteration % every == 0:  # its own process: training goes on
            from cosmos_engine.generate import sample_in_background

            proc = sample_in_background(self.job_dir, iteration, self.cfg.trainer.sample_steps)
            ckpt.write_lease(self.ckpt_dir, proc.pid, [iteration])  # no keep_last_n prune under it

    def finish_saves(self) -> None:
        """Wait until a background save (if any) is written."""
        if self.async_saver is not None:
            self.async_saver.wait()

    def close(self) -> None:
        """Finish saves, close the tracker."""
        self.join_ema(host=True)
        if self.async_saver is not None:
            self.async_saver.close()
            self.async_saver = None
        if self.tracker is not None:
            self.tracker.close()
            self.tracker = None
