"""Control videos for Transfer2.5: Canny edge computed here, depth / seg / vis from a command.

Facts, from cosmos-transfer2.5 (commit 2ff49d0, checked in the code, not the docs):

- ``cosmos_transfer2/_src/transfer2/datasets/augmentors/control_input.py::AddControlInputEdge``
  runs ``cv2.Canny(frame, t_lower, t_upper)`` on each RGB uint8 ``H x W x 3`` frame and expands
  the map to 3 channels. Inference (``use_random=False``) takes the thresholds of a preset
  (:data:`EDGE_THRESHOLDS`); training (``use_random=True``) draws ``t_lower = randint(20, 100)``
  and ``t_upper = t_lower + randint(50, 150)`` per sample (:data:`EDGE_TRAINING_DRAW`).
- ``.../datasets/local_datasets/singleview_dataset.py::CTRL_TYPE_INFO``: ``depth`` is read from
  ``depth/<clip>.mp4``, ``seg`` from ``seg/<clip>.mp4``; ``edge`` and ``vis`` have no folder: the
  training loader computes them on the fly from the clip. So an edge (or vis) mp4 written here
  is **not read by training**: it serves inference (``cosmos_transfer2/config.py``:
  ``EdgeConfig.control_path``, ``BlurConfig.control_path``, "pre-computed ... If None, ... generated
  on-the-fly") and previews.
- Upstream's own scripts (run from the checkout's root with its python):
  ``cosmos_transfer2/_src/transfer2/auxiliary/depth_anything/depth_pipeline.py --input_video
  --output_video --encoder vits|vitl`` and ``cosmos_transfer2/_src/transfer2/auxiliary/sam2/
  sam2_pipeline.py --input_video --output_video --output_tensor --mode prompt --prompt ...``
  (its ``--output_tensor`` defaults to ``./outputs/output_tensor.pt``, so we point it at a scratch
  folder). There is no upstream blur script: ``vis`` is blurred on the fly
  (``.../datasets/augmentors/blur.py``).

Every control is written to a temp file beside its target and renamed over it only after it was
checked (readable mp4, the clip's frame count and size), so a failed or interrupted control never
leaves a half file under the name the loader opens.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from cosmos_tui.core.containment import contained, safe_unlink
from cosmos_tui.core.datasets.probe import ProbeError, probe_video
from cosmos_tui.core.errors import UsageError, UserError

ControlKind = Literal["edge", "depth", "seg", "vis"]
COMMAND_KINDS: tuple[str, ...] = ("depth", "seg", "vis", "hdmap")
"""Controls that come from a command (a model run per clip, or for ``hdmap`` the person's own
renderer of their HD map and boxes, per camera), not from code here."""

EDGE_THRESHOLDS: dict[str, tuple[int, int]] = {
    "very_low": (20, 50),
    "low": (50, 100),
    "medium": (100, 200),
    "high": (200, 300),
    "very_high": (300, 400),
}
"""Canny ``(t_lower, t_upper)`` per inference preset (``AddControlInputEdge``, ``use_random=False``;
upstream also maps ``"none"`` to the ``very_low`` pair; ``config.py``'s ``Threshold`` offers these five)."""

EDGE_TRAINING_DRAW: tuple[tuple[int, int], tuple[int, int]] = ((20, 100), (50, 150))
"""Training draws ``t_lower`` from ``randint(*[0])`` and adds ``randint(*[1])`` for ``t_upper``
(high ends excluded): no single pair reproduces it, which is why training computes edges itself."""

CONTROL_FOLDERS: dict[str, dict[str, str]] = {
    "transfer25-singleview": {"depth": "depth", "seg": "seg", "edge": "edge", "vis": "vis"},
    "transfer25-multiview-hdmap": {"hdmap": "control_input_hdmap_bbox"},
}
"""Layout id -> control kind -> folder under the dataset root (``<folder>/<clip>.mp4``).
``depth`` and ``seg`` are ``CTRL_TYPE_INFO``'s folders, which training reads; ``edge`` and ``vis``
are ours (training computes them on the fly; inference takes them as ``control_path``). The
HDMap rig's ``control_input_hdmap_bbox/<camera folder>/<clip>.mp4`` is what its loader opens."""

TRAINING_READS: frozenset[str] = frozenset({"depth", "seg"})
"""Control kinds the Transfer2.5 single-view training loader reads from files."""

UPSTREAM_SCRIPTS: dict[str, tuple[str, ...]] = {
    "depth": (
        "cosmos_transfer2/_src/transfer2/auxiliary/depth_anything/depth_pipeline.py",
        "--input_video",
        "{input}",
        "--output_video",
        "{output}",
        "--encoder",
        "vits",
    ),
    "seg": (
        "cosmos_transfer2/_src/transfer2/auxiliary/sam2/sam2_pipeline.py",
        "--input_video",
        "{input}",
        "--output_video",
        "{output}",
        "--output_tensor",
        "{scratch}/mask.pt",
        "--mode",
        "prompt",
        "--prompt",
        "{prompt}",
    ),
}
"""The checkout's own control scripts, as argv after its python (script path relative to the checkout)."""

SEG_PROMPT = "person, car, vehicle, building, tree, road, sky"
"""The prompt upstream's single-view post-training doc passes sam2_pipeline.py
(docs/post-training_singleview.md)."""

PLACEHOLDERS = ("{input}", "{output}", "{scratch}", "{prompt}", "{view}", "{clip}", "{start}", "{frames}")
_CODE_FLAGS = frozenset({"-c", "-e", "--command", "--eval", "-Command"})
"""Flags after which shells and interpreters (sh, bash, python, perl, node, pwsh) take code."""
_TAIL = 800  # characters of a failed tool's output shown in the error


def control_message(kind: str) -> str:
    """One sentence on who reads a ``kind`` control, for the CLI to print when it writes them."""
    if kind == "hdmap":
        folder = CONTROL_FOLDERS["transfer25-multiview-hdmap"]["hdmap"]
        return f"hdmap controls are read by Transfer2.5 multiview training ({folder}/<camera>/<clip>.mp4)."
    if kind in TRAINING_READS:
        return f"{kind} controls are read by Transfer2.5 training ({kind}/<clip>.mp4)."
    return (
        f"{kind} controls are computed on the fly by Transfer2.5 training, which never reads these "
        f"files; they serve inference ({kind}.control_path) and previews."
    )


def _cv2() -> Any:
    try:
        import cv2  # deferred: OpenCV, only for edge controls
    except ImportError:
        raise UsageError(
            "Edge controls need OpenCV, which is not installed; install cosmos-tui[prepare] "
            "(pip install 'cosmos-tui[prepare]')."
        ) from None
    return cv2


def require_cv2() -> None:
    """A :class:`UsageError` saying how to install OpenCV when it is missing."""
    _cv2()


def _tmp_beside(out_mp4: Path, root: Path | None) -> Path:
    """The temp file an output is built in: beside it, hidden, ending in ``.mp4`` (tools pick the
    container from the extension), inside ``root`` when given; a leftover is removed first."""
    tmp = out_mp4.with_name(f".{out_mp4.stem}.{os.getpid()}.tmp.mp4")
    if root is not None:
        contained(out_mp4, root, what=_OWNED)
        out_mp4.parent.mkdir(parents=True, exist_ok=True)
        safe_unlink(tmp, root, what=_OWNED)
    else:
        out_mp4.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
    return tmp


_OWNED = "the output folder"


@dataclass(frozen=True)
class ControlResult:
    """One control written."""

    path: Path
    frames: int
    width: int
    height: int


def edge_video(
    src_mp4: str | Path, out_mp4: str | Path, strength: str = "medium", *, root: str | Path | None = None
) -> ControlResult:
    """Write the Canny edge control of ``src_mp4`` to ``out_mp4``: per frame ``cv2.Canny`` on the RGB
    frame with the ``strength`` preset's thresholds, the map in all 3 channels, same fps, frame
    count and size (H.264, via a temp file). With ``root``, ``out_mp4`` must lie inside it.

    The file serves inference (``edge.control_path``) and previews; Transfer2.5 training computes
    edges itself with random thresholds and never reads it (see the module docstring).
    """
    import av  # deferred: av (PyAV), only when a video is read or written
    import numpy as np  # deferred: numpy, only for frames

    if strength not in EDGE_THRESHOLDS:
        raise UsageError(f"Unknown edge strength '{strength}'; use one of: {', '.join(EDGE_THRESHOLDS)}.")
    lo, hi = EDGE_THRESHOLDS[strength]
    cv2 = _cv2()
    src, out = Path(src_mp4), Path(out_mp4)
    try:
        info = probe_video(src)
    except ProbeError as e:
        raise UserError(f"Cannot compute the edge control of {src}: {e}; check the clip.") from None
    tmp = _tmp_beside(out, Path(root) if root is not None else None)
    frames = 0
    try:
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4") as dst:
            stream = inp.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate or Fraction(24)
            enc = _edge_stream(dst, rate, info.width, info.height)
            for frame in inp.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                edges = cv2.Canny(rgb, lo, hi)
                image = np.ascontiguousarray(np.repeat(edges[:, :, None], 3, axis=2))
                dst.mux(enc.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
                frames += 1
            dst.mux(enc.encode(None))
        _check_output(tmp, frames, (info.width, info.height), what=f"edge control of {src.name}")
        os.replace(tmp, out)
    except av.error.FFmpegError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"Cannot compute the edge control of {src}: {e}; check the clip.") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ControlResult(out, frames, info.width, info.height)


def _edge_stream(container: Any, rate: Fraction, width: int, height: int) -> Any:
    # Thin 1-pixel lines: a low CRF keeps them; yuv420p halves only chroma, which an edge map has
    # none of, but needs even sizes: an odd-sized clip gets yuv444p, so the control keeps its size.
    stream = container.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "18"})
    even = width % 2 == 0 and height % 2 == 0
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p" if even else "yuv444p"
    return stream


def required_placeholders(kind: str) -> tuple[str, ...]:
    """What a ``kind`` command must name: the clip and the mp4 to write (an HDMap renderer draws
    from your map, not the video: ``{output}`` only)."""
    return ("{output}",) if kind == "hdmap" else ("{input}", "{output}")


def parse_template(
    command_template: str | Sequence[str], required: tuple[str, ...] = ("{input}", "{output}")
) -> list[str]:
    """The argv template of a control command: a string is split as a shell would (``shlex``,
    nothing expanded, never run through a shell); it must name ``{input}`` and ``{output}``, and
    not inside the code of ``sh -c`` / ``python -c`` (a file name there would be run as code)."""
    if isinstance(command_template, str):
        try:
            argv = shlex.split(command_template)
        except ValueError as e:
            raise UsageError(f"Cannot read the control command {command_template!r}: {e}.") from None
    else:
        argv = [str(a) for a in command_template]
    if not argv or not argv[0]:
        raise UsageError(
            "The control command is empty; give one such as 'mytool --in {input} --out {output}'."
        )
    joined = "\0".join(argv)
    missing = [p for p in required if p not in joined]
    if missing:
        raise UsageError(
            f"The control command {shlex.join(argv)!r} lacks {' and '.join(missing)}; "
            "it is run once per clip with {input} the clip and {output} the mp4 to write."
        )
    if any("\0" in a or "\n" in a for a in argv):
        raise UsageError("The control command holds a NUL or newline; write it on one line.")
    for prev, arg in pairwise(argv):
        if prev in _CODE_FLAGS and any(p in arg for p in PLACEHOLDERS):
            raise UsageError(
                f"The control command pastes a file name into the code after '{prev}', where a "
                "name holding quotes or '$(...)' would run as code; pass the names as arguments "
                """instead, e.g. sh -c 'mytool "$1" "$2"' _ {input} {output}."""
            )
    return argv


def fill_template(argv: Sequence[str], values: dict[str, str]) -> list[str]:
    """``argv`` with each placeholder replaced inside each element (a value never splits or joins
    elements, whatever it holds); unknown ``{...}`` text is left as it is."""
    pattern = re.compile("|".join(re.escape("{" + key + "}") for key in values)) if values else None
    if pattern is None:
        return list(argv)
    # one pass: a value that itself holds '{output}' (a clip so named) is never replaced again
    return [pattern.sub(lambda m: values[m.group(0)[1:-1]], arg) for arg in argv]


def upstream_command(
    kind: str, checkout: str | Path, python: str | Path, *, prompt: str = SEG_PROMPT
) -> list[str]:
    """The argv template that runs the Transfer2.5 checkout's own ``kind`` script with ``python``
    (run it with ``cwd=checkout``). ``vis`` has none upstream: a usage error says to pass a command."""
    if kind not in UPSTREAM_SCRIPTS:
        raise UsageError(
            f"The Transfer2.5 checkout has no script for {kind} controls (training blurs on the fly); "
            "pass a command with {input} and {output} instead."
        )
    script = Path(checkout) / UPSTREAM_SCRIPTS[kind][0]
    if not script.is_file():
        raise UserError(
            f"{script} is missing; point --repo at a cosmos-transfer2.5 checkout, or pass a command "
            "with {input} and {output} instead."
        )
    rest = [a.replace("{prompt}", prompt) for a in UPSTREAM_SCRIPTS[kind][1:]]
    return [str(python), str(script), *rest]


def command_control(
    kind: str,
    command_template: str | Sequence[str],
    clip_mp4: str | Path,
    out_mp4: str | Path,
    timeout: float | None = 3600.0,
    *,
    root: str | Path | None = None,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> ControlResult:
    """Run a ``kind`` control command on ``clip_mp4`` and keep its mp4 as ``out_mp4``.
    ``values`` fills further placeholders (``{view}``, ``{clip}``, ``{start}``, ``{frames}``).

    ``command_template`` (a string split with ``shlex``, or an argv list) names ``{input}`` (the
    clip, absolute) and ``{output}`` (an absolute temp ``.mp4`` path beside ``out_mp4``); it may
    name ``{scratch}``, a private folder removed afterwards. Placeholders are replaced inside each
    argv element and the argv runs without a shell, in its own session, stdin closed; on timeout
    its whole process group is killed. The output must be a readable mp4 with the clip's frame
    count and size; otherwise (or when the command fails) the temp file is removed and a
    :class:`UserError` says what went wrong. Only then is it renamed to ``out_mp4``.
    """
    if kind not in COMMAND_KINDS:
        raise UsageError(f"'{kind}' is not a command control; use one of: {', '.join(COMMAND_KINDS)}.")
    argv_t = parse_template(command_template, required_placeholders(kind))
    clip, out = Path(clip_mp4).absolute(), Path(out_mp4).absolute()
    try:
        info = probe_video(clip, deep=True)
    except ProbeError as e:
        raise UserError(f"Cannot make the {kind} control of {clip}: the clip is unreadable ({e}).") from None
    want = info.best_frames
    tmp = _tmp_beside(out, Path(root) if root is not None else None)
    with tempfile.TemporaryDirectory(prefix=f"cosmos-tui-{kind}-") as scratch:
        argv = fill_template(
            argv_t, {**(values or {}), "input": str(clip), "output": str(tmp), "scratch": scratch}
        )
        log = Path(scratch) / "output.log"
        try:
            code = _run(argv, log, timeout, cwd, env)
            if code is None:
                raise UserError(
                    f"The {kind} command timed out after {timeout:g} s on {clip.name} and was stopped; "
                    f"raise the timeout or check the command ({shlex.join(argv_t)})."
                )
            if code != 0:
                raise UserError(
                    f"The {kind} command exited with code {code} on {clip.name}"
                    f"{_tail(log)}; fix the command ({shlex.join(argv_t)})."
                )
            if tmp.is_symlink():
                raise UserError(
                    f"The {kind} command left a symlink at {{output}} for {clip.name}; "
                    "it must write the mp4 itself."
                )
            if not tmp.is_file():
                raise UserError(
                    f"The {kind} command wrote nothing at {{output}} for {clip.name}{_tail(log)}; "
                    "it must write the mp4 at the path it is given as {output}."
                )
            _check_output(tmp, want, (info.width, info.height), what=f"{kind} control of {clip.name}")
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return ControlResult(out, want, info.width, info.height)


def _run(
    argv: list[str], log: Path, timeout: float | None, cwd: str | Path | None, env: dict[str, str] | None
) -> int | None:
    """Run ``argv`` (no shell, own session, output to ``log``); its exit code, None on timeout."""
    with open(log, "wb") as sink:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise UserError(
                f"The control command '{argv[0]}' was not found; check its name or PATH."
            ) from None
        except PermissionError:
            raise UserError(f"The control command '{argv[0]}' cannot be run (permission denied).") from None
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return None
        except BaseException:
            _kill_group(proc)
            raise


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process group of ``proc`` (it leads its own session), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _tail(log: Path) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(max(0, os.path.getsize(log) - _TAIL))
            text = f.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f" (its output ends: {text[-_TAIL:]!r})" if text else ""


def _check_output(path: Path, frames: int, size: tuple[int, int], *, what: str) -> None:
    """A :class:`UserError` unless ``path`` is a readable video of ``frames`` frames at ``size``."""
    try:
        got = probe_video(path, deep=True)
    except ProbeError as e:
        raise UserError(f"The {what} is not a readable video ({e}); check the tool that writes it.") from None
    if got.best_frames != frames:
        raise UserError(
            f"The {what} has {got.best_frames} frames, the clip {frames}; "
            "the loader needs the same count, so the tool must keep every frame."
        )
    if (got.width, got.height) != size:
        raise UserError(
            f"The {what} is {got.width}x{got.height}, the clip {size[0]}x{size[1]}; "
            "the tool must keep the clip's size."
        )
