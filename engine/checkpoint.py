"""DCP checkpoints in the upstream layout, auto-resume, initial weights, pruning and ``.pt`` export.

``<job>/checkpoints/iter_%09d/{model,optim,scheduler,trainer}/`` (each a DCP folder with
``.metadata``) and ``latest_checkpoint.txt`` (``iter_000000500``). A save is written into
``iter_%09d.partial`` and renamed to ``iter_%09d`` only when all four parts are complete; only then
is the pointer replaced (temp file + ``os.replace``). A step folder is never written twice: a
complete one is left alone and the save skipped. Keys of the ``model`` part are ``net.*`` and
``net_ema.*`` as upstream.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import stat
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from cosmos_engine.errors import DataError
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

PARTS = ("model", "optim", "scheduler", "trainer")
POINTER = "latest_checkpoint.txt"
PINS_FILE = ".cosmos-tui-pins.json"  # written by the manager; pinned iterations are never pruned
READERS_DIR = ".cosmos-tui-readers"  # reader leases <pid>.json: a live reader's iterations are never pruned
FAULT_ENV = "COSMOS_ENGINE_FAULT"
"""Fault injection for the crash tests: ``kill_in_save:<iteration>:<rank>`` SIGKILLs that rank
after it wrote the ``model`` part of that save."""
log = logging.getLogger("cosmos_engine")


def step_name(iteration: int) -> str:
    """``iter_%09d``."""
    return f"iter_{iteration:09d}"


def is_complete(step_dir: Path) -> bool:
    """Every part of the step folder has its ``.metadata``."""
    return all((step_dir / part / ".metadata").is_file() for part in PARTS)


def complete_iterations(ckpt_dir: Path) -> list[int]:
    """Iterations with a complete step folder, ascending."""
    found = []
    if ckpt_dir.is_dir():
        for child in ckpt_dir.iterdir():
            name = child.name
            if name.startswith("iter_") and name[5:].isdigit() and child.is_dir() and is_complete(child):
                found.append(int(name[5:]))
    return sorted(found)


def read_small_text(path: Path, cap: int = 4096) -> str | None:
    """The text of the regular file ``path`` if it holds at most ``cap`` bytes of UTF-8; None when
    it is absent, not a regular file (a FIFO is opened without blocking, a device is refused), too
    large, unreadable or not text. For files a person or another tool may have put there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > cap:
            return None
        data = os.read(fd, cap + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > cap:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def latest_iteration(ckpt_dir: Path) -> int | None:
    """The checkpoint to resume from: the pointer's, or the newest complete one if the pointer is bad
    (not a small text file, or naming no complete checkpoint)."""
    pointer = ckpt_dir / POINTER
    if os.path.lexists(pointer):
        text = read_small_text(pointer)
        name = text.strip() if text is not None else ""
        if name.startswith("iter_") and name[5:].isdigit() and is_complete(ckpt_dir / name):
            return int(name[5:])
        what = (
            f"names {name!r}, which is not a complete checkpoint"
            if text is not None
            else "is not a small text file"
        )
        log.warning(f"{pointer} {what}; using the newest complete one")
    done = complete_iterations(ckpt_dir)
    return done[-1] if done else None


def remove_entry(path: Path) -> None:
    """Delete the step folder ``path`` in the checkpoints folder; a symlink (a checkpoint linked in
    from elsewhere) is removed as a link, never its target, and never followed inside the tree."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def fault(iteration: int, rank: int) -> None:
    """Fault injection (see ``FAULT_ENV``); a no-op unless the tests set it."""
    spec = os.environ.get(FAULT_ENV, "")
    if spec.startswith("kill_in_save:"):
        _, it, rk = spec.split(":")
        if int(it) == iteration and int(rk) == rank:
            os.kill(os.getpid(), signal.SIGKILL)


def prepare(ckpt_dir: Path, iteration: int, rank: int) -> Path | None:
    """Decide (rank 0) and agree (all ranks) whether ``iteration`` is saved; returns its staging folder.

    A collective. None when a complete step folder already exists (a step is never written twice);
    an incomplete one not ours is moved aside, and our own unfinished ``.partial`` is cleared.
    """
    final = ckpt_dir / step_name(iteration)
    staging = ckpt_dir / f"{step_name(iteration)}.partial"
    decision = [True]
    if rank == 0:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        if final.exists():
            if is_complete(final):
                log.warning(f"{final} already exists and is complete; not writing it again")
                decision = [False]
            else:
                aside = ckpt_dir / f"{final.name}.incomplete-{int(time.time())}"
                log.warning(f"{final} is incomplete (not written by this engine); moving it to {aside.name}")
                final.rename(aside)
        if decision[0] and staging.exists():
            remove_entry(staging)  # our own unfinished save from a crashed run
    dist.broadcast_object_list(decision, src=0)
    return staging if decision[0] else None


def finalize(ckpt_dir: Path, iteration: int) -> None:
    """Rank 0, once every rank wrote every part: rename the staging folder, then move the pointer."""
    final = ckpt_dir / step_name(iteration)
    (ckpt_dir / f"{final.name}.partial").rename(final)
    _write_atomic(ckpt_dir / POINTER, f"{final.name}\n")
    print(f"Saving last checkpoint file {final.name}", flush=True)


def training_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler_state: dict[str, Any], iteration: int
) -> dict[str, Any]:
    """The four parts' state dicts (model and optim hold the live sharded tensors)."""
    return {
        "model": get_model_state_dict(model),
        "optim": get_optimizer_state_dict(model, optimizer),
        "scheduler": scheduler_state,
        "trainer": {"iteration": iteration, "grad_scaler": {}},
    }


def save(
    ckpt_dir: Path,
    iteration: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler_state: dict[str, Any],
    rank: int,
) -> bool:
    """Save all four parts of ``iteration`` (a collective); returns False when it already exists."""
    staging = prepare(ckpt_dir, iteration, rank)
    if staging is None:
        return False
    states = training_state(model, optimizer, scheduler_state, iteration)
    for part in PARTS:
        dcp.save(states[part], checkpoint_id=str(staging / part))
        if part == "model":
            fault(iteration, rank)
    dist.barrier()
    if rank == 0:
        finalize(ckpt_dir, iteration)
    dist.barrier()
    return True


def load_parts(
    step_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    parts: tuple[str, ...],
) -> dict[str, Any]:
    """Load ``parts`` of a DCP step folder into the sharded model/optimizer; returns scheduler/trainer."""
    out: dict[str, Any] = {}
    for part in parts:
        where = str(step_dir / part)
        if part == "model":
            msd = get_model_state_dict(model)
            try:
                dcp.load(msd, checkpoint_id=where)
            except (Exception, CheckpointException) as exc:  # DCP's own is a BaseException
                raise DataError(f"cannot load model weights from {where}: {_load_failure(exc)}") from None
            set_model_state_dict(model, msd)
        elif part == "optim":
            assert optimizer is not None
            osd = get_optimizer_state_dict(model, optimizer)
            dcp.load(osd, checkpoint_id=where)
            set_optimizer_state_dict(model, optimizer, osd)
        elif part == "scheduler":
            state = {"last_epoch": 0}
            dcp.load(state, checkpoint_id=where)
            out["scheduler"] = state
        else:
            state = {"iteration": 0, "grad_scaler": {}}
            dcp.load(state, checkpoint_id=where)
            out["trainer"] = state
    return out


def _load_failure(exc: BaseException) -> str:
    """What went wrong in a DCP load: the first rank's own error, else the error's first line."""
    failures = getattr(exc, "failures", None)
    if isinstance(failures, dict) and failures:
        inner = next(iter(failures.values()))
        inner = inner[0] if isinstance(inner, tuple) else inner
        if isinstance(inner, BaseException):
            exc = inner
    if "Weights only load failed" in str(exc):  # torch's advice (weights_only=False) is not ours to give
        return "a shard is damaged or holds more than tensors (it does not load with weights_only=True)"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def dcp_step_dir(path: Path) -> Path:
    """A DCP ``load_path`` may name the step folder or its ``model`` part."""
    if (path / "model" / ".metadata").is_file():
        return path
    if (path / ".metadata").is_file() and path.name == "model":
        return path.parent
    raise DataError(
        f"checkpoint.load_path={path} is neither a .pt file nor a DCP step folder with model/.metadata."
    )


def read_weights_file(path: Path) -> Any:
    """The contents of a consolidated weights file: ``.safetensors``, else a ``.pt`` read with
    ``torch.load(weights_only=True)`` (never plain unpickling); a file that does not read is a
    :class:`DataError`."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"cannot read {path} as a weights-only checkpoint: {_first_line(exc)}") from None


def load_consolidated(path: Path, model: torch.nn.Module, ema_enabled: bool) -> None:
    """Load a consolidated ``.pt`` (``weights_only=True``) into the unsharded model, before sharding."""
    if not path.is_file():
        raise DataError(f"checkpoint.load_path={path} does not exist.")
    load_state(read_weights_file(path), path, model, ema_enabled)


def load_state(blob: Any, path: Path, model: torch.nn.Module, ema_enabled: bool) -> None:
    """Load the contents of the consolidated file ``path`` into the unsharded model (``net.*``
    keys, or a bare network state dict; the EMA copy from ``net_ema.*``, else from ``net.*``)."""
    for key in ("model", "state_dict"):
        if isinstance(blob, dict) and isinstance(blob.get(key), dict):
            blob = blob[key]
    if not isinstance(blob, dict):
        raise DataError(f"{path} does not hold a state dict.")
    if not any(k.startswith("net.") for k in blob):
        blob = {f"net.{k}": v for k, v in blob.items()}  # a bare network state dict
    if ema_enabled and not any(k.startswith("net_ema.") for k in blob):
        blob.update({"net_ema." + k[4:]: v for k, v in blob.items() if k.startswith("net.")})
    if not ema_enabled:
        blob = {k: v for k, v in blob.items() if not k.startswith("net_ema.")}
    own = model.state_dict()
    missing = sorted(set(own) - set(blob))
    unexpected = sorted(set(blob) - set(own))
    shapes = [k for k in own if k in blob and tuple(getattr(blob[k], "shape", ())) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        detail = "; ".join(
            f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
            for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes))
            if keys
        )
        raise DataError(f"{path} does not fit this experiment's model ({detail}).")
    try:
        model.load_state_dict(blob)
    except (RuntimeError, TypeError) as exc:
        raise DataError(f"{path} does not fit this experiment's model ({_first_line(exc)}).") from None


def export_pt(export_dir: Path, iteration: int, model: torch.nn.Module, rank: int) -> None:
    """Write ``iter_%09d_reg_model.pt`` (``net.*``) and ``iter_%09d_ema_model.pt``.

    The EMA file holds the ``net_ema.*`` weights renamed to ``net.*``, as upstream's converter does.
    """
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank != 0:
        return
    export_dir.mkdir(parents=True, exist_ok=True)
    reg = {k: v for k, v in full.items() if k.startswith("net.")}
    ema = {"net." + k[len("net_ema.") :]: v for k, v in full.items() if k.startswith("net_ema.")}
    for suffix, state in (("reg_model", reg), ("ema_model", ema)):
        if not state:
            continue
        target = export_dir / f"{step_name(iteration)}_{suffix}.pt"
        tmp = target.with_name(f".{target.name}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, target)


def _proc_started(pid: int) -> str | None:
    """Process ``pid``'s start time (``/proc/PID/stat`` field 22); ``None`` without ``/proc``, for
    no such process, or for a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _reader_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _proc_started(pid)
    if now is None:  # a zombie, or no /proc to tell
        return not Path("/proc/self/stat").exists()
    return started is None or now == started


def write_lease(ckpt_dir: Path, pid: int, iterations: list[int]) -> None:
    """Lease ``iterations`` to process ``pid`` (a sampler reading them): prune keeps them while
    it runs. The manager writes the same files (cosmos_tui.core.checkpoints.leases)."""
    folder = ckpt_dir / READERS_DIR
    try:
        folder.mkdir(exist_ok=True)
        tmp = folder / f".lease-{pid}.tmp"
        tmp.write_text(json.dumps({"pid": pid, "started": _proc_started(pid), "iterations": iterations}))
        os.replace(tmp, folder / f"{pid}.json")
    except OSError as e:  # only the extra safety is lost
        log.warning(f"cannot write the reader lease for pid {pid}: {e}")


def leased_iterations(ckpt_dir: Path) -> set[int]:
    """Iterations a live process holds a reader lease on (a dead one's lease file is removed)."""
    held: set[int] = set()
    folder = ckpt_dir / READERS_DIR
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
    except OSError:
        return held
    for name in names:
        path = folder / name
        try:
            text = read_small_text(path, 1 << 20)
            data = json.loads(text or "")
            pid, started = int(data["pid"]), data.get("started")
            iterations = {int(i) for i in data["iterations"]}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
        if _reader_alive(pid, started if isinstance(started, str) else None):
            held |= iterations
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return held


def prune(ckpt_dir: Path, keep_last_n: int) -> list[int]:
    """Delete complete checkpoints beyond the newest ``keep_last_n`` (never pinned, leased to a live
    reader, or the pointer's)."""
    if keep_last_n <= 0:
        return []
    done = complete_iterations(ckpt_dir)
    pinned: set[int] = set()
    pins = ckpt_dir / PINS_FILE
    if os.path.lexists(pins):
        try:
            text = read_small_text(pins, 1 << 20)
            if text is None:
                raise ValueError(f"{pins} is not a small text file")
            pinned = {int(i) for i in json.loads(text).get("pinned", [])}
        except (ValueError, TypeError, AttributeError):
            log.warning(f"cannot read {pins}; pruning nothing")
            return []
    latest = latest_iteration(ckpt_dir)
    leased = leased_iterations(ckpt_dir)
    doomed = [i for i in done[:-keep_last_n] if i not in pinned and i != latest and i not in leased]
    for iteration in doomed:
        remove_entry(ckpt_dir / step_name(iteration))
    return doomed
