"""Reading dataset files: mp4 frames through PyAV, embeddings through a numpy-only unpickler.

The T5 embedding files of the upstream Waymo layout are pickles. Plain ``pickle.load`` would run
any code a file names, so :func:`load_embedding_pickle` uses an unpickler that only rebuilds
numpy arrays and the builtin containers.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "float32"),
    ("numpy", "float16"),
    ("numpy.dtypes", "Float32DType"),
    ("numpy.dtypes", "Float16DType"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "dict"),
    ("_codecs", "encode"),
}


class _NumpyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are allowed)")


def load_embedding_pickle(path: Path) -> Any:
    """Unpickle a file that may hold only numpy arrays, lists, tuples and dicts."""
    data = path.read_bytes()
    try:
        return _NumpyUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError:
        raise
    except MemoryError:  # a damaged length field declares more than the file holds
        raise pickle.UnpicklingError(f"{path} is damaged: it declares an object larger than memory") from None
    except Exception as exc:  # damaged opcodes raise nearly anything (EOFError, OverflowError, ...)
        raise pickle.UnpicklingError(f"{path} is damaged: {type(exc).__name__}: {exc}") from None


def as_embedding(obj: Any, path: Path) -> np.ndarray:
    """The ``(L, D)`` float32 array in an upstream embedding pickle (a bare array or ``[array]``)."""
    if isinstance(obj, list | tuple) and obj:
        obj = obj[0]
    arr = np.asarray(obj, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"{path} holds an array of shape {arr.shape}, expected (L, D)")
    return arr


def probe_frames(path: Path) -> int:
    """Number of decodable frames in a video (decodes when the container has no count)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.frames:
            return int(stream.frames)
        return sum(1 for _ in container.decode(stream))


def read_frames(path: Path, start: int, count: int, size: tuple[int, int]) -> np.ndarray:
    """Frames ``start .. start+count-1`` resized to ``size`` (h, w), as uint8 ``[T, H, W, 3]``.

    For a window past the first frames it seeks to the keyframe before ``start`` and counts frames by
    their timestamps; if the timestamps cannot place the frames it decodes from the beginning.
    """
    import av

    height, width = size
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = _decode_window(container, stream, start, count, width, height) if start > 0 else None
        if frames is None:
            if start > 0:
                container.seek(0, stream=stream)
            frames = []
            for index, frame in enumerate(container.decode(stream)):
                if index >= start + count:
                    break
                if index >= start:
                    frames.append(frame.to_ndarray(format="rgb24", width=width, height=height))
    if len(frames) < count:
        raise ValueError(f"{path} has only {start + len(frames)} frames, at least {start + count} are needed")
    return np.stack(frames)


def _decode_window(container: Any, stream: Any, start: int, count: int, width: int, height: int) -> Any:
    """Seek-based decode of a window; None when frame indices cannot be derived from timestamps."""
    rate, base = stream.average_rate, stream.time_base
    if not rate or not base:
        return None
    origin = stream.start_time or 0
    target = origin + int(start / rate / base)
    container.seek(target, stream=stream, backward=True, any_frame=False)
    frames: list[np.ndarray] = []
    for frame in container.decode(stream):
        if frame.pts is None:
            return None
        index = round(float((frame.pts - origin) * base * rate))
        if not frames and index > start:
            return None  # the seek overshot: no keyframe at or before the window start
        if index < start:
            continue
        if index != start + len(frames):
            return None  # a gap or a duplicate: timestamps are not one per frame
        frames.append(frame.to_ndarray(format="rgb24", width=width, height=height))
        if len(frames) == count:
            break
    return frames


def replace_atomically(path: Path, write: Any) -> None:
    """Run ``write(tmp_path)`` on a fresh temp file beside ``path``, then rename it over ``path``
    (a planted link at the temp name is removed as an entry, never written through)."""
    import os

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_mp4(path: Path, frames: np.ndarray, fps: int = 10) -> None:
    """Encode ``(T, H, W, 3)`` uint8 RGB frames (even H and W) as an H.264 yuv420p mp4 at ``path``."""
    import av

    _, h, w, _ = frames.shape

    def write(tmp: Path) -> None:
        with av.open(str(tmp), "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "18"})
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.codec_context.thread_count = 1
            for image in frames:
                container.mux(
                    stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24"))
                )
            container.mux(stream.encode(None))

    replace_atomically(path, write)


def write_png(path: Path, image: np.ndarray) -> None:
    """Write one ``(H, W, 3)`` uint8 RGB image as a PNG at ``path`` (PyAV's png encoder)."""
    import av

    h, w, _ = image.shape
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = w, h, "rgb24"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    data = b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])
    replace_atomically(path, lambda tmp: tmp.write_bytes(data))
