"""Downsampling a long metric series to what a terminal chart can show.

Largest-Triangle-Three-Buckets (Steinarsson, 2013) keeps the visual shape of a curve, spikes
included, with a fixed number of points. Non-finite values (NaN/Inf losses) are dropped first;
the watchdog reports them separately.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def lttb(xs: Sequence[float], ys: Sequence[float], n: int) -> list[tuple[float, float]]:
    """Downsample the points ``(xs[i], ys[i])`` to at most ``n`` points (``n >= 3``), keeping the
    first and last points and the most prominent one of every bucket in between."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    pts = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    if n < 3:
        raise ValueError("lttb needs n >= 3")
    if len(pts) <= n:
        return pts
    out = [pts[0]]
    every = (len(pts) - 2) / (n - 2)
    a = 0
    for i in range(n - 2):
        lo = int(i * every) + 1
        hi = int((i + 1) * every) + 1
        nxt_lo = hi
        nxt_hi = min(int((i + 2) * every) + 1, len(pts))
        nxt = pts[nxt_lo:nxt_hi] or [pts[-1]]
        avg_x = sum(p[0] for p in nxt) / len(nxt)
        avg_y = sum(p[1] for p in nxt) / len(nxt)
        ax, ay = pts[a]
        best, best_area = lo, -1.0
        for j in range(lo, hi):
            bx, by = pts[j]
            area = abs((ax - avg_x) * (by - ay) - (ax - bx) * (avg_y - ay))
            if area > best_area:
                best, best_area = j, area
        out.append(pts[best])
        a = best
    out.append(pts[-1])
    return out


def ema(points: Sequence[tuple[float, float]], smoothing: float = 0.9) -> list[tuple[float, float]]:
    """``points`` smoothed by an exponential moving average of weight ``smoothing`` (0: none,
    towards 1: smoother), debiased so the curve starts at the data rather than at 0 (as
    TensorBoard's smoothing does); non-finite values are passed over."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError("smoothing must be in [0, 1)")
    out: list[tuple[float, float]] = []
    last, count = 0.0, 0
    for x, y in points:
        if not math.isfinite(y):
            continue
        count += 1
        last = last * smoothing + (1.0 - smoothing) * y
        out.append((x, last / (1.0 - smoothing**count)))
    return out
