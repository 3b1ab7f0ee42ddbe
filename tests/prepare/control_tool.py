"""A stand-in control model run as a real subprocess: ``control_tool.py MODE INPUT OUTPUT``.

Modes: ``copy`` (re-encode every frame), ``short`` (drop the last frame), ``small`` (half size),
``nothing`` (write no file), ``fail`` (exit 3 with a message), ``garbage`` (write non-video bytes),
``sleep`` (hang), ``link`` (a symlink to the clip instead of a file),
``argv`` (write the argv it got, one per line, to OUTPUT + ".argv", then copy).
"""

import os
import sys
import time

import av


def copy(src: str, dst: str, drop: int = 0, half: bool = False) -> None:
    with av.open(src) as inp, av.open(dst, "w", format="mp4") as out:
        s = inp.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(s)]
        if drop:
            frames = frames[:-drop]
        h, w = frames[0].shape[:2]
        if half:
            frames = [f[::2, ::2].copy() for f in frames]
            h, w = h // 2, w // 2
        o = out.add_stream("libx264", rate=s.average_rate)
        o.width, o.height, o.pix_fmt = w, h, "yuv420p"
        for f in frames:
            out.mux(o.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(o.encode(None))


def main() -> int:
    mode, src, dst = sys.argv[1:4]
    if mode == "fail":
        print("model exploded: CUDA out of memory", file=sys.stderr)
        return 3
    if mode == "nothing":
        return 0
    if mode == "link":
        os.symlink(src, dst)
        return 0
    if mode == "garbage":
        with open(dst, "wb") as f:
            f.write(b"not a video at all" * 10)
        return 0
    if mode == "sleep":
        with open(dst, "wb") as f:
            f.write(b"partial")
        time.sleep(60)
        return 0
    if mode == "argv":
        with open(dst + ".argv", "w") as f:
            f.write("\n".join(sys.argv[1:]))
    copy(src, dst, drop=1 if mode == "short" else 0, half=mode == "small")
    return 0


if __name__ == "__main__":
    sys.exit(main())
