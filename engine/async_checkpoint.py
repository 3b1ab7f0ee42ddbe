"""Asynchronous DCP saves: copy the training state to host memory, write it in a background thread.

The step that saves only queues device-to-host copies (on a side CUDA stream, into pinned host
buffers reused from save to save; :meth:`AsyncCheckpointer.prepare` allocates them in a
background thread early in the run, and copies the state into them once there, so that even the
first save neither waits ~30 s for pinning nor pays the first use of the buffers); the next
forward and backward run beside them, and the optimizer step waits for the copies on the GPU
(``before_update``), never on the host.
A background thread then writes the four parts with ``torch.distributed.checkpoint`` over its own
gloo process group (DCP's planning collectives must not interleave with the training loop's), and
rank 0 renames the ``.partial`` folder and moves the pointer only after every rank wrote every part:
DCP's coordinator writes a part's ``.metadata`` only once all ranks' shards of it are written.
On CPU the copy is synchronous; everything else is the same code path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from cosmos_engine import checkpoint as ckpt
from cosmos_engine.parallel import local_shard


def _stage(src: Any, host: Any, non_blocking: bool) -> Any:
    """Copy every tensor of ``src`` into the same place of ``host``; returns ``src``'s structure
    with the host tensors in it (non-tensor values, such as the learning rate, are taken fresh)."""
    if isinstance(src, dict):
        return {k: _stage(v, host[k], non_blocking) for k, v in src.items()}
    if isinstance(src, list | tuple):
        return type(src)(_stage(v, h, non_blocking) for v, h in zip(src, host, strict=True))
    if isinstance(src, torch.Tensor):
        local = local_shard(src)
        target = local_shard(host)
        if target.data_ptr() == local.data_ptr():  # a scalar the helper left in place
            return src
        target.copy_(local, non_blocking=non_blocking)
        return host
    return src


def _pinned(obj: Any) -> Any:
    """``obj`` with every plain CPU tensor in pinned memory (the helper leaves scalars pageable,
    and a non-blocking copy into pageable memory would block the host)."""
    if isinstance(obj, dict):
        return {k: _pinned(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_pinned(v) for v in obj)
    if isinstance(obj, torch.Tensor) and not hasattr(obj, "to_local") and obj.device.type == "cpu":
        return obj if obj.is_pinned() else obj.pin_memory()
    return obj


def _same_shape(src: Any, host: Any) -> bool:
    if isinstance(src, dict):
        return (
            isinstance(host, dict)
            and src.keys() == host.keys()
            and all(_same_shape(v, host[k]) for k, v in src.items())
        )
    if isinstance(src, list | tuple):
        return (
            isinstance(host, list | tuple)
            and len(src) == len(host)
            and all(_same_shape(a, b) for a, b in zip(src, host, strict=True))
        )
    if isinstance(src, torch.Tensor):
        return isinstance(host, torch.Tensor) and host.shape == src.shape and host.dtype == src.dtype
    return True


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    """Every (local) tensor in a nested state dict."""
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _tensors(value)
    elif isinstance(obj, torch.Tensor):
        yield local_shard(obj)


class AsyncCheckpointer:
    """One save in flight at a time; ``save`` returns after queueing the copies (a collective)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.group = dist.new_group(backend="gloo")  # every rank creates it, in the same order
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        self.host: dict[str, Any] | None = None
        self.copied: torch.cuda.Event | None = None
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.last_write_s: float | None = None
        """Seconds the last background write took (copy wait + DCP writes + finalize)."""
        self.preparing: threading.Thread | None = None
        """The background allocation of the pinned buffers, while it runs."""

    def prepare(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Allocate the pinned host buffers for the training state in a background thread.

        Call it once the optimizer has its state (after the first step). Reads shapes only; a save
        that comes first waits for it, and one whose state changed shape allocates afresh.
        """
        if self.stream is None or self.host is not None or self.preparing is not None:
            return
        from torch.distributed._state_dict_utils import _create_cpu_state_dict

        states = ckpt.training_state(model, optimizer, {}, 0)
        shapes = {"model": states["model"], "optim": states["optim"]}

        def allocate() -> None:
            try:
                host = _pinned(_create_cpu_state_dict(shapes, pin_memory=True))
            except Exception:  # e.g. too little memory to pin: the first save allocates as before
                self.host = None
                return
            # One throwaway copy into the fresh buffers, here in the background, so that the first
            # save's copies find them already used by the copy engine (as every later save does);
            # the values are overwritten by the save
            with torch.cuda.stream(self.stream):
                _stage(shapes, host, non_blocking=True)
            self.stream.synchronize()
            self.host = host

        self.preparing = threading.Thread(target=allocate, name="dcp-pin", daemon=True)
        self.preparing.start()

    def _prepared(self) -> None:
        if self.preparing is not None:
            self.preparing.join()
            self.preparing = None

    def save(
        self,
        ckpt_dir: Path,
        iteration: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler_state: dict[str, Any],
        rank: int,
        on_done: Callable[[int], None] | None = None,
    ) -> bool:
        """Start saving ``iteration``; False when it already exists. ``on_done`` runs on rank 0 after."""
        from torch.distributed._state_dict_utils import _create_cpu_state_dict

        self.wait()
        self._prepared()
        staging = ckpt.prepare(ckpt_dir, iteration, rank)
        if staging is None:
            return False
        states = ckpt.training_state(model, optimizer, scheduler_state, iteration)
        big = {"model": states["model"], "optim": states["optim"]}
        cuda = self.stream is not None
        if self.host is None or not _same_shape(big, self.host):
            self.host = _create_cpu_state_dict(big, pin_memory=cuda)
            if cuda:
                self.host = _pinned(self.host)
        event = None
        if self.stream is not None:
            self.stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(self.stream):
                staged = _stage(big, self.host, non_blocking=True)
            for tensor in _tensors(big):
                if tensor.device.type == "cuda":
                    tensor.record_stream(self.stream)  # sources stay allocated until copied
            event = self.stream.record_event()
            self.copied = event
        else:
            staged = _stage(big, self.host, non_blocking=False)
        parts = {**staged, "scheduler": states["scheduler"], "trainer": states["trainer"]}
        self.thread = threading.Thread(
            target=self._write,
            args=(ckpt_dir, staging, iteration, parts, event, rank, on_done),
            name=f"dcp-save-{iteration}",
            daemon=True,
        )
        self.thread.start()
        return True

    def before_update(self) -> None:
        """Make the GPU wait (not the host) for the host copies before parameters change."""
        if self.copied is not None:
            torch.cuda.current_stream(self.device).wait_event(self.copied)
            self.copied = None

    def wait(self) -> None:
        """Block until the save in flight (if any) is written; re-raise its error."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    @property
    def busy(self) -> bool:
        """A save is still being written."""
        return self.thread is not None and self.thread.is_alive()

    def close(self) -> None:
        """Finish the save in flight and release the process group."""
        self.wait()
        self._prepared()
        dist.destroy_process_group(self.group)

    def _write(
        self,
        ckpt_dir: Path,
        staging: Path,
        iteration: int,
        parts: dict[str, Any],
        event: torch.cuda.Event | None,
        rank: int,
        on_done: Callable[[int], None] | None,
    ) -> None:
        import time

        t0 = time.perf_counter()
        try:
            if event is not None:
                event.synchronize()
            for part in ckpt.PARTS:
                ckpt.dcp.save(parts[part], checkpoint_id=str(staging / part), process_group=self.group)
                if part == "model":
                    ckpt.fault(iteration, rank)
            if rank == 0:
                ckpt.finalize(ckpt_dir, iteration)
                if on_done is not None:
                    on_done(iteration)
        except BaseException as exc:  # surfaced on the training thread by wait()
            self.error = exc
        self.last_write_s = time.perf_counter() - t0
