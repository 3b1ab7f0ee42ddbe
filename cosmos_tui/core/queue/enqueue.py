"""Putting a run in the queue: what ``queue add`` and ``sweep`` check before an entry is written.

The preset is loaded and the ``--set`` items applied now (so a typo is refused at once, not when
the run's turn comes), and the result is what the entry launches later, through the same
preflight as ``cosmos-tui run``. Refused: Slurm presets (Slurm queues those itself), multi-node
launches, a GPU request on a machine without GPUs or naming GPUs it lacks, a GPU set whose size is
not ``launch.nproc_per_node``, more slots than the machine has, and a preset that sets
``CUDA_VISIBLE_DEVICES`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.monitor.gpus import GpuSampler, default_sampler
from cosmos_tui.core.notify_config import load_user_config
from cosmos_tui.core.presets import (
    SECRET_NAME,
    Preset,
    apply_sets,
    load_preset,
    preset_from_dict,
    resolve_preset,
)
from cosmos_tui.core.queue import store
from cosmos_tui.core.queue.gpuset import parse_gpus
from cosmos_tui.core.queue.store import Existing, QueueEntry
from cosmos_tui.core.queue.sweep import base_job_name

SLURM_REFUSAL = (
    "Slurm runs are not queued by cosmos-tui: Slurm queues them itself. Submit it with "
    "`cosmos-tui run PRESET --target slurm` (sbatch puts it in Slurm's queue, which waits for free "
    "nodes), or queue it here with --set launch.target=local"
)


def caller_environ() -> dict[str, str]:
    """This process's environment without secret-looking names (tokens, keys, passwords): what a
    queue entry keeps so its run starts as if launched from here."""
    return {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}


def machine_gpus(sampler: GpuSampler | None = None) -> tuple[int, ...]:
    """Indices of the GPUs NVML sees here (empty without GPUs or NVML)."""
    snap = (sampler or default_sampler()).poll()
    return tuple(d.index for d in snap.devices) if snap.available else ()


def check_queueable(preset: Preset, *, gpus: str | None, slots: int, machine: tuple[int, ...]) -> None:
    """:class:`UsageError` when ``preset`` with this request cannot wait in the queue here."""
    launch = preset.launch
    if launch.target == "slurm":
        raise UsageError(SLURM_REFUSAL)
    if launch.nnodes > 1:
        raise UsageError(
            "multi-node runs are not queued: start them node by node with `cosmos-tui run --nnodes`, "
            "or through Slurm"
        )
    if "CUDA_VISIBLE_DEVICES" in preset.env.extra and (gpus or machine):
        raise UsageError(
            "the preset sets env.extra.CUDA_VISIBLE_DEVICES, but the queue chooses the GPUs; remove it "
            "and pass --gpus instead"
        )
    if gpus is not None:
        request = parse_gpus(gpus, launch.nproc_per_node)
        if not machine:
            raise UsageError(
                f"--gpus {gpus}: this machine has no GPUs NVML can see; queue by CPU slots instead "
                "(--slots N; the machine's slot count is [queue] slots in config.toml)"
            )
        missing = [d for d in request.devices or () if d not in machine]
        if missing:
            raise UsageError(
                f"--gpus {gpus}: no GPU {','.join(map(str, missing))} here (GPUs: "
                f"{','.join(map(str, machine))})"
            )
        if request.count > len(machine):
            raise UsageError(f"--gpus {gpus}: this machine has {len(machine)} GPU(s)")
        if request.count != launch.nproc_per_node:
            raise UsageError(
                f"--gpus {gpus} names {request.count} GPU(s) but launch.nproc_per_node is "
                f"{launch.nproc_per_node}; make them agree (--set launch.nproc_per_node={request.count})"
            )
    elif machine and launch.nproc_per_node > len(machine):
        raise UsageError(
            f"launch.nproc_per_node is {launch.nproc_per_node} but this machine has {len(machine)} GPU(s)"
        )
    if not machine:
        total = load_user_config().queue.slots
        if slots > total:
            raise UsageError(
                f"--slots {slots}: this machine has {total} slot(s) ([queue] slots in config.toml)"
            )


def load_for_queue(preset_ref: str, sets: Sequence[str], target: str | None = None) -> tuple[Preset, Path]:
    """The preset named or at ``preset_ref`` with ``sets`` applied (and ``target``), and its path."""
    for item in sets:
        if "=" not in item and not item.startswith("~"):
            raise UsageError(f"--set {item!r}: expected `key=value` (for example `trainer.max_iter=100`)")
    path = resolve_preset(preset_ref)
    preset = apply_sets(load_preset(path), sets) if sets else load_preset(path)
    if target is not None:
        if target not in ("local", "slurm"):
            raise UsageError(f"--target {target!r}: choose local or slurm")
        preset = preset.model_copy(deep=True)
        preset.launch.target = target  # type: ignore[assignment]
    return preset, path


def enqueue(
    preset: Preset,
    *,
    preset_ref: str,
    preset_path: Path | str | None,
    sets: Sequence[str] = (),
    gpus: str | None = None,
    slots: int = 1,
    priority: int = 0,
    existing: Existing = "ask",
    sweep: str | None = None,
    label: str | None = None,
    max_parallel: int | None = None,
    machine: tuple[int, ...] | None = None,
    force: bool = False,
) -> QueueEntry:
    """Check and write one entry (the caller starts the dispatcher)."""
    here = machine_gpus() if machine is None else machine
    check_queueable(preset, gpus=gpus, slots=slots, machine=here)
    if gpus is not None:
        gpus = parse_gpus(gpus, preset.launch.nproc_per_node).text()
    if slots < 1:
        raise UserError("--slots must be 1 or more")
    entry = QueueEntry(
        **store.base_fields(),
        preset=preset.to_dict(),
        preset_ref=preset_ref,
        preset_path=str(preset_path) if preset_path else None,
        sets=tuple(sets),
        existing=existing,
        force=force,
        environ=caller_environ(),
        priority=priority,
        gpus=gpus,
        slots=slots,
        sweep=sweep,
        label=label,
        max_parallel=max_parallel,
    )
    return store.add(entry)


def same_job_waiting(entry: QueueEntry) -> list[str]:
    """Ids of other waiting entries that would write the same job folder as ``entry`` (same
    engine, output root and job name, as far as the preset says)."""

    def key(e: QueueEntry) -> tuple[str, str | None, str] | None:
        try:
            p = preset_from_dict(e.preset, source=f"queue entry {e.id}")
        except UserError:
            return None
        return (p.engine.kind, p.env.output_root, base_job_name(p))

    mine = key(entry)
    return [
        e.id
        for e in store.list_entries()
        if e.waiting and e.id != entry.id and mine is not None and key(e) == mine
    ]
