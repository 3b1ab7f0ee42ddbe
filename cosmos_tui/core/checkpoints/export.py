"""Export a training checkpoint to consolidated files for inference, as upstream names them.

Upstream's ``scripts/convert_distcp_to_pt.py`` (cosmos-transfer2.5 2ff49d0) turns ``iter_N/model``
(DCP) into ``model.pt`` (``dcp_to_torch_save``: every key, regular and EMA, tensors in their stored
dtype and non-tensor entries such as ``_extra_state`` as they were saved), ``model_ema_fp32.pt``
(every ``net_ema.*`` entry, tensors and non-tensors, renamed ``net_ema.`` -> ``net.``, each tensor
in its **stored** dtype: despite the name nothing is cast) and ``model_ema_bf16.pt`` (the same with
float32 tensors cast to bfloat16, other dtypes and non-tensors kept). The ``.pt`` files here, meant
for upstream's inference, hold exactly that. Non-tensor entries are read with
``torch.load(weights_only=True)`` plus ``io.BytesIO`` (what TransformerEngine's ``_extra_state``
is); one that would need arbitrary unpickling is left out and listed in ``skipped``, where
upstream (``weights_only=False``) would run it. ``.safetensors`` output is cosmos-tui's own: it
cannot hold non-tensors, and there ``model_ema_fp32`` is cast to float32 as its name says. This
does it in one pass over the shards and one process, without a process group:

- every tensor is read once, each chunk's bytes straight into its place in a reused buffer
  (:mod:`cosmos_tui.core.checkpoints.dcp_raw` finds them inside DCP's per-chunk ``torch.save``
  archive; anything it cannot prove falls back to ``torch.load`` of the chunk), and written
  straight into each output file that needs it (cast into a reused buffer when asked) by the
  streaming writers of :mod:`cosmos_tui.core.checkpoints.stream_write`, which start the disk
  writeback as the files grow;
- a reader thread assembles the next tensors while the current one is cast and written, so reads
  and writes overlap;
- **peak memory** is about ``PREFETCH + 3`` times the largest single tensor (pooled buffers for
  the tensors read ahead, the one being filled and the one being written, plus one cast buffer per
  target dtype), independent of the checkpoint size; upstream
  (``dcp_to_torch_save`` then ``torch.load``) holds the
  whole state dict, plus the bf16 copy;
- outputs are written as ``.<name>.partial`` and renamed into place after ``fsync``, so a crash
  never leaves a half file under the final name, and existing files are replaced only with
  ``overwrite=True``.

Predict1 ``.pt`` sets: ``model.pt`` comes from ``_reg_model.pt`` and the EMA files from
``_ema_model.pt`` (keys as saved), read with ``torch.load(weights_only=True, mmap=True)``.
"""

from __future__ import annotations

import functools
import io
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cosmos_tui.core.checkpoints import dcp_raw
from cosmos_tui.core.checkpoints.dcp_meta import MetadataError, TensorEntry, read_dcp_metadata
from cosmos_tui.core.checkpoints.scan import CheckpointInfo, pt_member
from cosmos_tui.core.checkpoints.stream_write import PtStreamWriter, SafetensorsStreamWriter
from cosmos_tui.core.checkpoints.verify import verify_checkpoint
from cosmos_tui.core.containment import contained, safe_unlink
from cosmos_tui.core.errors import UserError

Dtype = Literal["bf16", "fp32"]
Format = Literal["pt", "safetensors"]
_FLOATS = ("float32", "float64", "float16", "bfloat16")
_KEPT = (int, float, str, bool, bytes, io.BytesIO)
"""Non-tensor values an export carries over (anything holding a tensor would need its bytes)."""


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    iteration: int
    files: tuple[Path, ...]
    """Output files, in the order written."""
    bytes_read: int
    bytes_written: int
    seconds: float
    skipped: tuple[str, ...]
    """Non-tensor entries left out (not loadable safely, or not representable in the format)."""


@dataclass
class _Output:
    name: str
    keys: dict[str, str]  # source key -> output key
    cast: dict[str, str]  # source dtype -> output dtype
    writer: Any = None


def plan_outputs(
    keys: list[str], *, ema: bool, dtype: Dtype | None, full: bool, fmt: Format = "pt"
) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """Which files to write, each with its ``source key -> output key`` map and dtype casts.

    ``ema=True``: ``model_ema_fp32`` and ``model_ema_bf16`` (only the one ``dtype`` names, if
    given), plus ``model`` with every key when ``full``. ``ema=False``: ``model`` only, floats cast
    to ``dtype`` if given. Raises :class:`UserError` when EMA output is asked for and there is none.

    ``model_ema_fp32.pt`` keeps each tensor's stored dtype, as upstream's converter writes it
    (upstream's inference loads that file); in ``.safetensors`` (ours) it is cast to float32.
    """
    ext = ".pt" if fmt == "pt" else ".safetensors"
    out: list[tuple[str, dict[str, str], dict[str, str]]] = []
    to32 = {d: "float32" for d in _FLOATS}
    if ema:
        ema_keys = {k: k.replace("net_ema.", "net.") for k in keys if k.startswith("net_ema.")}
        if not ema_keys:
            raise UserError(
                "This checkpoint has no EMA weights (no net_ema.* keys); export with --no-ema to get the "
                "regular weights in model.pt."
            )
        if full:
            out.append((f"model{ext}", {k: k for k in keys}, {}))
        if dtype in (None, "fp32"):
            out.append((f"model_ema_fp32{ext}", ema_keys, {} if fmt == "pt" else to32))
        if dtype in (None, "bf16"):
            out.append((f"model_ema_bf16{ext}", ema_keys, {"float32": "bfloat16"}))
    else:
        cast = {} if dtype is None else ({"float32": "bfloat16"} if dtype == "bf16" else to32)
        out.append((f"model{ext}", {k: k for k in keys}, cast))
    return out


def _extras_for(name: str, extras: dict[str, Any]) -> dict[str, Any]:
    """The non-tensor entries of output ``name``: every one in ``model``, the ``net_ema.*`` ones
    renamed ``net.*`` in the EMA files (as :func:`plan_outputs` maps the tensors)."""
    if not name.startswith("model_ema"):
        return dict(extras)
    return {k.replace("net_ema.", "net."): v for k, v in extras.items() if k.startswith("net_ema.")}


def _pt_outputs(keys: list[str], *, ema: bool, dtype: Dtype | None, full: bool, fmt: Format):
    """Predict1 sets: ``model`` from the regular weights, the EMA files from ``_ema_model.pt``, with
    the keys as saved (upstream uses ``_ema_model.pt`` as the inference ``model.pt`` directly)."""
    reg = {k: k.removeprefix("reg:") for k in keys if k.startswith("reg:")}
    ema_keys = {k: k.removeprefix("ema:") for k in keys if k.startswith("ema:")}
    out = []
    for name, _mapping, cast in plan_outputs(["net_ema.x"], ema=ema, dtype=dtype, full=full, fmt=fmt):
        if name == "model_ema_fp32.pt":  # no upstream file of that name for Predict1: as named
            cast = {d: "float32" for d in _FLOATS}
        out.append((name, ema_keys if name.startswith("model_ema") else reg, cast))
    return out


def _dcp_source(info: CheckpointInfo):
    part = info.path / "model"
    try:
        meta = read_dcp_metadata(part)
    except MetadataError as e:
        raise UserError(f"Cannot read {part}/.metadata ({e}); run `cosmos-tui ckpt verify` on it.") from None
    # Read in storage order so each shard file is read front to back.
    entries = sorted(
        meta.tensors.values(), key=lambda t: (t.chunks[0].file, t.chunks[0].offset) if t.chunks else ("", 0)
    )
    # Buffers in use at once: the tensors queued ahead, one being filled, one being written.
    pool = dcp_raw.BufferPool()
    reader = dcp_raw.RawTensorReader(part, pool)

    def tensors() -> Iterator[tuple[str, Any, Callable[[], None] | None]]:
        for entry in entries:
            tensor, buf = reader.read(entry)
            yield entry.fqn, tensor, functools.partial(pool.release, buf)

    def blobs() -> tuple[dict[str, Any], list[str]]:
        kept, skipped = {}, []
        for fqn, blob in meta.blobs.items():
            try:
                value = reader.fallback.read_blob(blob)
            except Exception:
                skipped.append(fqn)
                continue
            if isinstance(value, _KEPT) or value is None:
                kept[fqn] = value
            else:
                skipped.append(fqn)
        return kept, skipped

    shapes = {t.fqn: (t.dtype, t.size) for t in entries}
    return shapes, tensors, blobs, reader


def _pt_source(info: CheckpointInfo, ema: bool):
    import torch  # deferred: torch

    reg = torch.load(pt_member(info.path, "reg_model"), map_location="cpu", weights_only=True, mmap=True)
    # Keys are tagged with the file they come from; _pt_outputs maps them back to the saved names.
    merged: dict[str, Any] = {f"reg:{k}": v for k, v in reg.items() if isinstance(v, torch.Tensor)}
    ema_path = pt_member(info.path, "ema_model")
    if ema and ema_path.exists():
        ema_sd = torch.load(ema_path, map_location="cpu", weights_only=True, mmap=True)
        merged.update({f"ema:{k}": v for k, v in ema_sd.items() if isinstance(v, torch.Tensor)})

    class _Counter:
        bytes_read = 0

    counter = _Counter()
    shapes = {k: (str(v.dtype).removeprefix("torch."), tuple(v.shape)) for k, v in merged.items()}

    def tensors() -> Iterator[tuple[str, Any, Callable[[], None] | None]]:
        for k, v in merged.items():
            counter.bytes_read += v.numel() * v.element_size()
            yield k, v.contiguous(), None

    return shapes, tensors, lambda: ({}, []), counter


PREFETCH = 2
"""Tensors read ahead by the reader thread while the current one is cast and written."""


def _prefetch(items: Iterator[Any], depth: int) -> Iterator[Any]:
    """Run ``items`` in a reader thread, at most ``depth`` ahead, so reading overlaps writing."""

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as e:  # handed to the consumer
            q.put(e)

    thread = threading.Thread(target=produce, name="ckpt-export-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


class _CastBuffers:
    """One reused buffer per target dtype for cast copies (a fresh one per tensor costs a page
    fault per 4 KiB, more than the cast itself)."""

    def __init__(self) -> None:
        self._bufs: dict[str, Any] = {}

    def cast(self, tensor: Any, target: str) -> Any:
        import torch  # deferred: torch

        dtype = getattr(torch, target)
        nbytes = tensor.numel() * dtype.itemsize
        buf = self._bufs.get(target)
        if buf is None or buf.numel() < nbytes:
            buf = self._bufs[target] = torch.empty(max(nbytes, 1), dtype=torch.uint8)
        out = buf[:nbytes].view(dtype).view(tensor.shape)
        out.copy_(tensor)
        return out


def export_checkpoint(
    info: CheckpointInfo,
    out_dir: Path,
    *,
    ema: bool = True,
    dtype: Dtype | None = None,
    full: bool = True,
    fmt: Format = "pt",
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Export ``info`` into ``out_dir`` (see the module docstring for the files and their names).

    Refuses an incomplete checkpoint and existing output files (unless ``overwrite``).
    ``progress(done_bytes, total_bytes)`` is called after each tensor.
    """

    _check_exportable(info, ema)
    started = time.perf_counter()
    shapes, tensors, blobs, reader = _dcp_source(info) if info.layout == "dcp" else _pt_source(info, ema)
    if info.layout == "dcp":
        planned = plan_outputs(list(shapes), ema=ema, dtype=dtype, full=full, fmt=fmt)
    else:
        planned = _pt_outputs(list(shapes), ema=ema, dtype=dtype, full=full, fmt=fmt)
    outputs = [_Output(n, k, c) for n, k, c in planned]
    out_dir = Path(out_dir)
    _claim_outputs(out_dir, outputs, overwrite)

    extras, skipped = blobs()
    try:
        for o in outputs:
            plan = []
            for src, dst in o.keys.items():
                stored, shape = shapes[src]
                plan.append((dst, o.cast.get(stored, stored), shape))
            partial = out_dir / f".{o.name}.partial"
            if fmt == "pt":
                # Non-tensors go where their key goes: all into model.pt, net_ema.* renamed into
                # the EMA files (a module's _extra_state must load with its weights).
                keep = _extras_for(o.name, extras)
                o.writer = PtStreamWriter(partial, plan, keep)
            else:
                o.writer = SafetensorsStreamWriter(
                    partial, plan, {"format": "pt", "iteration": str(info.iteration)}
                )
        _stream(outputs, tensors(), progress)
        for o in outputs:
            o.writer.close()
            (out_dir / f".{o.name}.partial").replace(out_dir / o.name)
    except BaseException:
        for o in outputs:
            if o.writer is not None:
                o.writer.close(sync=False)
            (out_dir / f".{o.name}.partial").unlink(missing_ok=True)
        raise
    finally:
        if hasattr(reader, "close"):
            reader.close()
    written = sum(o.writer.bytes_written for o in outputs)
    if fmt == "safetensors":
        skipped = skipped + list(extras)
    return ExportResult(
        iteration=info.iteration,
        files=tuple(out_dir / o.name for o in outputs),
        bytes_read=reader.bytes_read,
        bytes_written=written,
        seconds=time.perf_counter() - started,
        skipped=tuple(skipped),
    )


def _check_exportable(info: CheckpointInfo, ema: bool) -> None:
    """Refuse a checkpoint whose save never finished, and EMA weights a ``.pt`` one lacks."""
    if not info.complete:
        raise UserError(
            f"Checkpoint iteration {info.iteration} is incomplete (its save never finished); "
            "pick a complete one from `cosmos-tui ckpt list`."
        )
    if info.layout == "pt" and ema and not info.has_ema:
        raise UserError(
            f"Checkpoint iteration {info.iteration} has no EMA weights (no _ema_model.pt); "
            "export with --no-ema to get the regular weights in model.pt."
        )


def _claim_outputs(out_dir: Path, outputs: list[_Output], overwrite: bool) -> None:
    """Make ``out_dir``, drop stale partial files, and refuse outputs that exist (unless
    ``overwrite``) or a name whose link leads out of the folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for o in outputs:  # nothing written through a link that leads out of the export folder
        contained(out_dir / o.name, out_dir, what="the export folder")
        safe_unlink(out_dir / f".{o.name}.partial", out_dir, what="the export folder")
    existing = [o.name for o in outputs if os.path.lexists(out_dir / o.name)]
    if existing and not overwrite:
        raise UserError(
            f"{out_dir / existing[0]} already exists; pass --yes to overwrite or pick another --out."
        )


def _stream(
    outputs: list[_Output], tensors: Iterator[Any], progress: Callable[[int, int], None] | None
) -> None:
    """Write every tensor into each output that takes it (cast once per target dtype), a few read
    ahead (:data:`PREFETCH`); ``progress(done_bytes, total_bytes)`` after each."""
    total = sum(o.writer.sizes[dst] for o in outputs for dst in o.writer.sizes)
    done = 0
    casts = _CastBuffers()
    for key, tensor, release in _prefetch(tensors, PREFETCH):
        cast_cache: dict[str, Any] = {}
        for o in outputs:
            dst = o.keys.get(key)
            if dst is None:
                continue
            stored = str(tensor.dtype).removeprefix("torch.")
            target = o.cast.get(stored, stored)
            if target not in cast_cache:
                cast_cache[target] = tensor if target == stored else casts.cast(tensor, target)
            o.writer.write(dst, cast_cache[target])
            done += o.writer.sizes[dst]
        del cast_cache, tensor
        if release is not None:
            release()
        if progress is not None:
            progress(done, total)


def find_checkpoint(checkpoints: list[CheckpointInfo], iteration: int | None) -> CheckpointInfo:
    """The checkpoint at ``iteration``, or the latest complete one when ``iteration`` is None."""
    if iteration is None:
        done = [c for c in checkpoints if c.complete]
        if not done:
            raise UserError("No complete checkpoint here yet; wait for the first save or check the path.")
        return done[-1]
    for c in checkpoints:
        if c.iteration == iteration:
            return c
    have = ", ".join(str(c.iteration) for c in checkpoints) or "none"
    raise UserError(f"No checkpoint at iteration {iteration} (have: {have}).")


def checkpoint_to_export(checkpoints: list[CheckpointInfo], iteration: int | None) -> CheckpointInfo:
    """The checkpoint an export reads (:func:`find_checkpoint`), once it verifies; a
    :class:`UserError` saying what is wrong with it otherwise."""

    chosen = find_checkpoint(checkpoints, iteration)
    verdict = verify_checkpoint(chosen)
    if not verdict.ok:
        raise UserError(f"Not exporting: {verdict.message}")
    return chosen


def default_output_names() -> tuple[str, ...]:
    """The files an export with the default options (EMA, every dtype, the full ``model.pt``, as
    ``.pt``) writes."""
    return tuple(name for name, _, _ in plan_outputs(["net_ema.x"], ema=True, dtype=None, full=True))


__all__ = [
    "ExportResult",
    "TensorEntry",
    "checkpoint_to_export",
    "default_output_names",
    "export_checkpoint",
    "find_checkpoint",
    "plan_outputs",
]
