"""T5 text embeddings for Predict1 (``predict1-waymo``): per-clip and per-view prefix pickles.

What the loader reads (cosmos-predict1 ``cosmos_predict1/diffusion/training/datasets/
dataset_multiview.py::Dataset``): ``t5_xxl/<view>/<clip>.pkl`` as ``pickle.load(f)[0]`` (only
``pinhole_front`` unless ``load_mv_emb``) and ``cache/prefix_<view>.pkl`` as it is, one per view;
each goes through ``torch.from_numpy``, is zero-padded with ``torch.zeros(512 - L, 1024)`` or cut
to 512 rows, and with ``load_mv_emb`` the prefix and the caption are concatenated along axis 0.

What we write matches the script that writes what that loader reads, cosmos-av-sample-toolkits
``create_t5_embed.py`` (nv-tlabs, commit 198c395): ``T5TokenizerFast`` / ``T5EncoderModel`` from
``google-t5/t5-11b``, ``truncation=True, max_length=512`` with the attention mask, the encoder's
``last_hidden_state`` cut to the real tokens (``attention_mask.sum()``, the ``</s>`` included),
``float32``; a clip file holds ``[array (L, d_model)]``, a prefix file the bare array; the prefix
texts are :data:`PREFIX_PROMPTS`. (Its sibling ``create_t5_embed_mv.py`` pickles a ``(1, L, 1024)``
array, which the loader's ``torch.cat`` rejects; we do not copy that.) Predict1's own inference
encoder, cosmos-predict1 ``cosmos_predict1/auxiliary/t5_text_encoder.py::CosmosT5TextEncoder``,
encodes the same way (float32 weights, attention mask, zeros past the real length).

That script pads every prompt to 512 tokens; we pad a batch to its longest prompt. T5's
attention is masked and its position bias relative, so the real tokens' outputs are the same
(a test checks it against padding to ``max_len``), at a fraction of the cost: on a T5-small-shaped
random encoder, 32 captions of 40-160 tokens in batches of 16 on 2 CPU threads took 1.6 s padded to
the batch and 6.8 s padded to 512, with identical real-token outputs (measured 2026-12-04).

Weights are never downloaded here (``local_files_only=True``): ``cosmos-tui hf download`` fetches
``google-t5/t5-11b`` (catalog repo ``t5-11b``) into ``<checkpoint dir>/google-t5/t5-11b``, or the
Hugging Face cache without ``--checkpoint-dir``; :func:`locate_t5` finds it or says how to get it.
Files are written atomically inside the dataset folder, and a re-run skips every file that exists
and passes the validator's own check (read with the restricted unpickler), so it resumes.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosmos_tui.core.containment import write_contained
from cosmos_tui.core.datasets.embeddings import check_embedding
from cosmos_tui.core.datasets.layouts import P1_VIEWS, EmbeddingSpec
from cosmos_tui.core.errors import UsageError, UserError

T5_REPO_ID = "google-t5/t5-11b"
"""The encoder upstream's scripts load (catalog ``[repos.t5-11b]``; its ``local_dir`` is the same)."""
T5_MODEL_HINT = "cosmos-tui hf download predict1-7b-s2mv-text2world --inference --checkpoint-dir DIR"
"""The command that fetches it (T5 is an inference repo of the Predict1 models in the catalog)."""

PREFIX_PROMPTS: dict[str, str] = {
    "pinhole_front": "The video is captured from a camera mounted on a car. The camera is facing forward.",
    "pinhole_front_left": "The video is captured from a camera mounted on a car. "
    "The camera is facing forward and slightly to the left.",
    "pinhole_front_right": "The video is captured from a camera mounted on a car. "
    "The camera is facing forward and slightly to the right.",
    "pinhole_side_left": "The video is captured from a camera mounted on a car. "
    "The camera is facing to the left.",
    "pinhole_side_right": "The video is captured from a camera mounted on a car. "
    "The camera is facing to the right.",
}
"""Per-view prefix texts (cosmos-av-sample-toolkits create_t5_embed.py ``PREFIX_PROMPTS``)."""

_OWNED = "the dataset folder"
_WEIGHTS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_TOKENIZER = ("tokenizer.json", "spiece.model")


def locate_t5(model_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None) -> str:
    """Where the T5 encoder is: ``model_dir`` if given, else ``<checkpoint_dir>/google-t5/t5-11b``,
    else the repo id (read from the Hugging Face cache, never downloaded). A folder must hold a
    config, weights and a tokenizer, or a :class:`UserError` says how to fetch them."""
    if model_dir is None and checkpoint_dir is None:
        return T5_REPO_ID
    folder = Path(model_dir) if model_dir is not None else Path(checkpoint_dir or "") / T5_REPO_ID
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any((folder / n).is_file() for n in _WEIGHTS):
        missing.append("weights (model.safetensors or pytorch_model.bin)")
    if not any((folder / n).is_file() for n in _TOKENIZER):
        missing.append("a tokenizer (tokenizer.json or spiece.model)")
    if missing:
        raise UserError(
            f"The T5 encoder is not in {folder} (no {', '.join(missing)}); fetch it with "
            f"'{T5_MODEL_HINT}' or pass --t5-model with the folder that holds {T5_REPO_ID}."
        )
    return str(folder)


def require_transformers() -> None:
    """A :class:`UsageError` saying how to install transformers when it is missing."""
    import importlib.util  # deferred: only when embeddings are asked for

    if importlib.util.find_spec("transformers") is None:
        raise UsageError(
            "T5 embeddings need transformers, which is not installed; install cosmos-tui[prepare] "
            "(pip install 'cosmos-tui[prepare]')."
        )


class T5Encoder:
    """A T5 encoder and its tokenizer, loaded once from local files (``transformers``).

    ``device``: ``"auto"`` (CUDA when available, else CPU), or any torch device name.
    """

    def __init__(
        self, model: str | Path = T5_REPO_ID, device: str = "auto", *, dim: int | None = None
    ) -> None:
        try:
            import torch  # deferred: torch and transformers, only when embeddings are computed
            from transformers import AutoTokenizer, T5EncoderModel  # deferred: as torch
        except ImportError:
            raise UsageError(
                "T5 embeddings need transformers and torch; install cosmos-tui[prepare] "
                "(pip install 'cosmos-tui[prepare]') and torch."
            ) from None
        name = str(model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True)
            encoder = T5EncoderModel.from_pretrained(name, local_files_only=True)
        except (OSError, ValueError) as e:
            raise UserError(
                f"Cannot load the T5 encoder from {name} ({str(e).splitlines()[0][:200]}); fetch it with "
                f"'{T5_MODEL_HINT}' and pass --t5-model DIR/{T5_REPO_ID}."
            ) from None
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.dim = int(encoder.config.d_model)
        if dim is not None and self.dim != dim:
            raise UserError(
                f"The T5 encoder in {name} gives {self.dim}-wide embeddings, the loader needs {dim} "
                f"(T5-XXL, {T5_REPO_ID}); pass --t5-model with that model."
            )
        self.model = encoder.to(device).eval().requires_grad_(False)

    def encode(self, texts: Sequence[str], *, batch_size: int = 16, max_len: int = 512) -> list[Any]:
        """Per text a float32 ``(n_tokens, d_model)`` array, ``n_tokens`` the real tokens (at most
        ``max_len``, the ``</s>`` included), as upstream's ``create_t5_embed.py`` stores them."""
        import numpy as np  # deferred: numpy, only for embeddings and frames
        import torch  # deferred: torch, only when embeddings are computed

        if batch_size < 1:
            raise UsageError(f"The T5 batch size must be at least 1, not {batch_size}.")
        out: list[Any] = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            enc = self.tokenizer(
                batch, return_tensors="pt", truncation=True, padding="longest", max_length=max_len
            )
            ids = enc["input_ids"].to(self.device)
            mask = enc["attention_mask"].to(self.device)
            with torch.no_grad():
                hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
            hidden = hidden.float().cpu().numpy()
            for row, n in zip(hidden, mask.sum(dim=1).tolist(), strict=True):
                out.append(np.ascontiguousarray(row[: int(n)], dtype=np.float32))
        return out


@dataclass
class EmbeddingReport:
    """What one writing pass did."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    """Files that existed and passed the check (a resumed run)."""
    redone: list[Path] = field(default_factory=list)
    """Files that existed but failed the check, so were written again (also in ``written``)."""

    def to_write(self, path: Path, done: bool | None) -> bool:
        """Whether ``path`` is still to be written, given what :func:`_done` found (``True``: it
        passed, so it is skipped; ``False``: damaged, so redone; ``None``: not there yet)."""
        if done:
            self.skipped.append(path)
            return False
        if done is False:
            self.redone.append(path)
        return True


def clip_path(out_root: Path, view: str, clip: str, spec: EmbeddingSpec = EmbeddingSpec()) -> Path:
    """``<out_root>/t5_xxl/<view>/<clip>.pkl``, the file the loader opens for ``videos/<view>/<clip>.mp4``."""
    return Path(out_root) / spec.clip_folder / view / f"{clip}{spec.ext}"


def prefix_path(out_root: Path, view: str, spec: EmbeddingSpec = EmbeddingSpec()) -> Path:
    """``<out_root>/cache/prefix_<view>.pkl``."""
    return Path(out_root) / spec.prefix_folder / f"{spec.prefix_stem.format(view=view)}{spec.ext}"


def _done(path: Path, role: str, spec: EmbeddingSpec, out_root: Path) -> bool | None:
    """True if ``path`` holds a good embedding, False if it holds a bad one, None if absent."""
    if not os.path.lexists(path):
        return None
    rel = os.path.relpath(path, out_root)
    return not check_embedding(path, rel, role, spec).findings  # type: ignore[arg-type]


def _write(path: Path, obj: Any, out_root: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_contained(path, pickle.dumps(obj, protocol=4), out_root, what=_OWNED)


def _check_views(views: Iterable[str]) -> tuple[str, ...]:
    views = tuple(views)
    for v in views:
        if not v or v in (".", "..") or "/" in v or "\\" in v or "\0" in v or "\n" in v:
            raise UsageError(f"'{v}' is not a usable view name for an embedding folder.")
    return views


def _check_clip(clip: str) -> None:
    if not clip or clip in (".", "..") or any(c in clip for c in "/\\\0\n\r"):
        raise UsageError(f"Clip name {clip!r} cannot be a file name; rename the clip.")


def write_clip_embeddings(
    out_root: str | Path,
    clips: Mapping[str, str | Mapping[str, str]],
    views: Iterable[str] = ("pinhole_front",),
    *,
    encoder: T5Encoder | None = None,
    model_dir: str | Path = T5_REPO_ID,
    device: str = "auto",
    batch_size: int = 16,
    spec: EmbeddingSpec = EmbeddingSpec(),
) -> EmbeddingReport:
    """Write ``t5_xxl/<view>/<clip>.pkl`` (``[float32 (L, d_model)]``) for every clip and view.

    ``clips`` maps a clip to its caption, or to a ``{view: caption}`` mapping for per-view
    captions. Files that exist and pass the validator's check are skipped; damaged ones are
    redone. Captions are encoded ``batch_size`` at a time and each batch is written before the
    next is encoded, so an interrupted run loses one batch at most. The encoder is loaded only
    when something is left to do.
    """
    root = Path(out_root)
    views = _check_views(views)
    report = EmbeddingReport()
    todo: list[tuple[Path, str]] = []
    for clip, caption in clips.items():
        _check_clip(clip)
        for view in views:
            text = caption if isinstance(caption, str) else caption.get(view)
            if text is None:
                raise UsageError(f"Clip '{clip}' has no caption for view '{view}'.")
            path = clip_path(root, view, clip, spec)
            if report.to_write(path, _done(path, "clip", spec, root)):
                todo.append((path, text))
    if todo:
        enc = encoder or T5Encoder(model_dir, device, dim=spec.dim)
        by_text: dict[str, list[Path]] = {}  # one caption for several views is encoded once
        for path, text in todo:
            by_text.setdefault(text, []).append(path)
        texts = list(by_text)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            arrays = enc.encode(chunk, batch_size=batch_size, max_len=spec.max_len)
            for text, array in zip(chunk, arrays, strict=True):
                for path in by_text[text]:
                    _write(path, [array], root)
                    report.written.append(path)
    return report


def write_prefix_embeddings(
    out_root: str | Path,
    views: Iterable[str] = P1_VIEWS,
    *,
    encoder: T5Encoder | None = None,
    model_dir: str | Path = T5_REPO_ID,
    device: str = "auto",
    prompts: Mapping[str, str] = PREFIX_PROMPTS,
    spec: EmbeddingSpec = EmbeddingSpec(),
) -> EmbeddingReport:
    """Write ``cache/prefix_<view>.pkl`` (a bare float32 ``(L, d_model)`` array) for every view,
    with the view's prefix text from ``prompts`` (upstream's by default). Resumes like
    :func:`write_clip_embeddings`."""
    root = Path(out_root)
    views = _check_views(views)
    unknown = [v for v in views if v not in prompts]
    if unknown:
        raise UsageError(
            f"No prefix text for view(s) {', '.join(unknown)}; upstream has prefixes for "
            f"{', '.join(prompts)}: give one per view."
        )
    report = EmbeddingReport()
    todo: list[tuple[Path, str]] = []
    for view in views:
        path = prefix_path(root, view, spec)
        if report.to_write(path, _done(path, "prefix", spec, root)):
            todo.append((path, prompts[view]))
    if todo:
        enc = encoder or T5Encoder(model_dir, device, dim=spec.dim)
        arrays = enc.encode([t for _, t in todo], max_len=spec.max_len)
        for (path, _), array in zip(todo, arrays, strict=True):
            _write(path, array, root)
            report.written.append(path)
    return report
