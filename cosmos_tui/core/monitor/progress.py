"""Training progress from a stream of :class:`IterSample`: current iteration and loss, recent step
time, throughput, ETA from ``trainer.max_iter``, and downsampled series for charts: the loss, and
each rate the reports carry (learning rate, grad norm, throughput, memory: the builtin engine's
``metrics.jsonl``, read by :func:`~cosmos_tui.core.monitor.metrics.parse_jsonl_record`)."""

from __future__ import annotations

import bisect
import math
import statistics
import time
from array import array
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from cosmos_tui.core.monitor.metrics import NO_RATES, RATE_FIELDS, IterSample, Phase, Rates
from cosmos_tui.core.monitor.series import lttb


@dataclass(frozen=True)
class ProgressSnapshot:
    """Where training stands, as of the last poll. Unknown values are ``None``."""

    iteration: int | None = None
    """Last reported iteration."""
    loss: float | None = None
    """Last reported loss (may be NaN/inf; see ``nonfinite``)."""
    phase: Phase | None = None
    """Which kind of line reported it."""
    max_iter: int | None = None
    """``trainer.max_iter`` when known."""
    sec_per_iter: float | None = None
    """Median seconds per iteration over the recent reports."""
    iter_per_s: float | None = None
    """``1 / sec_per_iter``."""
    eta_s: float | None = None
    """Seconds left to ``max_iter`` at the recent speed."""
    fraction: float | None = None
    """``iteration / max_iter``, 0..1."""
    expected_report_interval_s: float | None = None
    """How long, at the recent pace, one waits between two progress reports (the watchdog's unit)."""
    rates: Rates = NO_RATES
    """The latest value of each rate the reports carried."""
    nonfinite: int = 0
    """How many reports had a NaN or infinite loss."""
    last_nonfinite_iteration: int | None = None
    """The iteration of the latest NaN/Inf loss."""
    reports: int = 0
    """How many reports the series holds."""
    device: str | None = None
    """The device the latest report names (builtin engine), for comparing with a reference."""
    world_size: int | None = None
    """The ranks the latest report names (builtin engine)."""
    loss_series: tuple[tuple[float, float], ...] = field(default=())
    """``(iteration, loss)`` downsampled for a chart (finite losses only)."""
    tokens_series: tuple[tuple[float, float], ...] = field(default=())
    """``(iteration, tokens/s)`` downsampled for a chart: the reports that carry a throughput
    (Cosmos 3's suffixed ``iter_speed`` lines, the builtin engine's metrics); empty otherwise."""
    rate_series: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    """``(iteration, value)`` downsampled for a chart, for each :class:`Rates` field (its name, as
    ``metrics.jsonl`` spells it) that some report carried; the others are absent."""


class ProgressTracker:
    """Accumulates samples. Not thread-safe: one poller owns it.

    A report whose iteration is not above the last one means the run resumed from a checkpoint:
    the series drops the iterations being redone.
    """

    def __init__(
        self,
        *,
        max_iter: int | None = None,
        window: int = 20,
        series_points: int = 240,
        series_refresh_s: float = 1.0,
    ) -> None:
        self.max_iter = max_iter
        self._iters = array("q")
        self._losses = array("d")
        self._step_times: deque[float] = deque(maxlen=window)
        self._iter_gaps: deque[int] = deque(maxlen=window)
        self._wall_gaps: deque[float] = deque(maxlen=window)
        self._series_points = series_points
        self._series_cache: tuple[int, tuple[tuple[float, float], ...]] = (-1, ())
        self._series_at = float("-inf")
        self._tok_iters = array("q")
        self._tokens = array("d")
        self._tok_cache: tuple[int, tuple[tuple[float, float], ...]] = (-1, ())
        self._rates_seen: dict[str, tuple[array, array]] = {}
        """Each rate reported so far (other than tokens/s, kept above): its iterations and values."""
        self._rate_cache: dict[str, tuple[int, float, tuple[tuple[float, float], ...]]] = {}
        self.series_refresh_s = series_refresh_s
        """Redo the chart series at most this often (seconds)."""
        self._last: IterSample | None = None
        self._rates = NO_RATES
        self._nonfinite = 0
        self._last_nonfinite: int | None = None
        self.last_progress_at: float | None = None
        """Monotonic time of the poll that last saw the iteration go up."""

    def add(self, samples: Iterable[IterSample], now: float) -> int:
        """Take the samples seen in one poll at monotonic time ``now``; returns how many advanced
        the iteration."""
        advanced = 0
        for s in samples:
            last = self._last
            if last is not None and s.iteration <= last.iteration:
                cut = bisect.bisect_left(self._iters, s.iteration)
                del self._iters[cut:]
                del self._losses[cut:]
                cut = bisect.bisect_left(self._tok_iters, s.iteration)
                del self._tok_iters[cut:]
                del self._tokens[cut:]
                for xs, ys in self._rates_seen.values():
                    cut = bisect.bisect_left(xs, s.iteration)
                    del xs[cut:]
                    del ys[cut:]
            elif last is not None:
                self._iter_gaps.append(s.iteration - last.iteration)
            self._iters.append(s.iteration)
            self._losses.append(s.loss)
            if s.rates.tokens_per_s is not None and math.isfinite(s.rates.tokens_per_s):
                self._tok_iters.append(s.iteration)
                self._tokens.append(s.rates.tokens_per_s)
            if s.rates is not NO_RATES:
                self._add_rates(s.iteration, s.rates)
            if s.sec_per_iter is not None and s.sec_per_iter > 0:
                self._step_times.append(s.sec_per_iter)
            if not math.isfinite(s.loss):
                self._nonfinite += 1
                self._last_nonfinite = s.iteration
            self._rates = self._rates.updated(s.rates)
            if last is None or s.iteration > last.iteration:
                advanced += 1
            self._last = s
        if advanced:
            if self.last_progress_at is not None:
                self._wall_gaps.append(now - self.last_progress_at)
            self.last_progress_at = now
        return advanced

    def _series(self) -> tuple[tuple[float, float], ...]:
        # Downsampling is O(n): redo it when the series changed, at most every refresh_s seconds.
        n = len(self._iters)
        now = time.monotonic()
        if self._series_cache[0] != n and (now - self._series_at >= self.series_refresh_s or n < 3):
            self._series_cache = (n, tuple(lttb(self._iters, self._losses, self._series_points)))
            self._series_at = now
        return self._series_cache[1]

    def _token_series(self) -> tuple[tuple[float, float], ...]:
        n = len(self._tok_iters)
        if self._tok_cache[0] != n:
            self._tok_cache = (n, tuple(lttb(self._tok_iters, self._tokens, self._series_points)))
        return self._tok_cache[1]

    def _add_rates(self, iteration: int, rates: Rates) -> None:
        for name in RATE_FIELDS:
            value = getattr(rates, name)
            if name == "tokens_per_s" or value is None or not math.isfinite(value):
                continue
            xs, ys = self._rates_seen.setdefault(name, (array("q"), array("d")))
            xs.append(iteration)
            ys.append(value)

    def _rate_series(self) -> dict[str, tuple[tuple[float, float], ...]]:
        # As the loss series: redone when it changed, at most every series_refresh_s seconds.
        now = time.monotonic()
        out: dict[str, tuple[tuple[float, float], ...]] = {}
        for name, (xs, ys) in self._rates_seen.items():
            n, at, pts = self._rate_cache.get(name, (-1, float("-inf"), ()))
            if n != len(xs) and (now - at >= self.series_refresh_s or len(xs) < 3):
                pts = tuple(lttb(xs, ys, self._series_points))
                self._rate_cache[name] = (len(xs), now, pts)
            if pts:
                out[name] = pts
        tokens = self._token_series()
        if tokens:
            out["tokens_per_s"] = tokens
        return out

    def expected_report_interval(self) -> float | None:
        """Seconds between two progress reports at the recent pace: the larger of the wall-clock
        median between polls that saw progress and ``median step time x median iteration gap``."""
        candidates: list[float] = []
        if len(self._wall_gaps) >= 2:
            candidates.append(statistics.median(self._wall_gaps))
        if self._step_times:
            gap = statistics.median(self._iter_gaps) if self._iter_gaps else 1
            candidates.append(statistics.median(self._step_times) * gap)
        return max(candidates) if candidates else None

    def snapshot(self) -> ProgressSnapshot:
        """An immutable view of the current state."""
        last = self._last
        if last is None:
            return ProgressSnapshot(max_iter=self.max_iter)
        spi = statistics.median(self._step_times) if self._step_times else None
        eta = None
        fraction = None
        if self.max_iter:
            fraction = min(1.0, max(0.0, last.iteration / self.max_iter))
            if spi is not None:
                eta = max(0, self.max_iter - last.iteration) * spi
        return ProgressSnapshot(
            iteration=last.iteration,
            loss=last.loss,
            phase=last.phase,
            max_iter=self.max_iter,
            sec_per_iter=spi,
            iter_per_s=(1.0 / spi) if spi else None,
            eta_s=eta,
            fraction=fraction,
            expected_report_interval_s=self.expected_report_interval(),
            nonfinite=self._nonfinite,
            last_nonfinite_iteration=self._last_nonfinite,
            reports=len(self._iters),
            device=last.device,
            world_size=last.world_size,
            loss_series=self._series(),
            tokens_series=self._token_series(),
            rate_series=self._rate_series(),
            rates=self._rates,
        )
