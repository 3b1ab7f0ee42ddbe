"""The console log's grammar: what each line that torchrun, the upstream engines and the builtin
engine print means. Every reader of ``console.log`` takes its patterns from here.

A line is parsed into fields (:func:`parse_line`): ANSI codes stripped, torchrun rank prefixes and
the upstream loguru prefix ``[MM-DD HH:mm:ss|LEVEL|path:line:func] message`` split off. Then its
message may be a progress report (the ``IterSpeed`` lines, parsed by
:mod:`cosmos_tui.core.monitor.metrics`) or part of a failure (Python exceptions, an engine's
``error: ...`` sentence, torchrun's failure summary; read by :mod:`cosmos_tui.core.runs.outcome`).

Upstream (cosmos-transfer2.5 / predict2.5 / predict1) logs through a private loguru logger with the
format ``[{time:MM-DD HH:mm:ss}|{machine}{level}|{relative_path}:{line}:{function}] {message}``;
messages logged on other ranks carry a ``[RANK n] `` tag, and torchrun's ``--tee`` adds
``[rank3]:`` or ``[default3]:`` in front of every line of a worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cosmos_tui.core.display import printable_line

#: CSI sequences (colours, cursor moves), OSC sequences (titles, links) and two-byte escapes.
ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
ANSI_BYTES_RE = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")

#: Loguru's numeric severities, used by the level filter.
LEVELS: dict[str, int] = {
    "TRACE": 5,
    "DEBUG": 10,
    "INFO": 20,
    "SUCCESS": 25,
    "WARNING": 30,
    "ERROR": 40,
    "CRITICAL": 50,
}
_LEVEL_NAMES = "|".join(LEVELS)

#: torchrun's per-worker prefixes: ``[rank3]:`` (torch >= 2.2 with --tee/--local-ranks-filter)
#: and ``[default3]:`` (older elastic agents).
TORCHRUN_PREFIX_RE = re.compile(r"^\[(?:rank|default)(\d+)\]:\s?")
LOGURU_RE = re.compile(
    r"^\[(?P<time>\d\d-\d\d \d\d:\d\d:\d\d)\|(?:(?P<machine>[^|\]]*)\|)?"
    r"(?P<level>" + _LEVEL_NAMES + r")\|"
    r"(?P<source>[^\]\s]+:\d+:[^\]\s]+)\] ?(?P<message>.*)$",
    re.DOTALL,
)
RANK_TAG_RE = re.compile(r"^\[RANK (\d+)\] ?")
_PY_ERROR_RE = re.compile(r"^(?:Traceback \(most recent call last\)|[\w.]+(?:Error|Exception|Interrupt):)")

# -- progress: upstream's IterSpeed callback (upstream-contracts.md §3.3/§3.5), which the builtin
# engine prints too. Losses may be negative, exactly 0.0000, nan or inf.
_LOSS = r"(-?[\d.]+|-?nan|-?inf)"
_HIT = r"Iteration (\d+): Hit counter: (\d+)/(\d+) \| Loss: " + _LOSS + r" \| Time: ([\d.]+)s"
_SPEED = (
    r"(\d+) : iter_speed ([\d.]+) seconds per iteration \| Loss: "
    + _LOSS
    # Cosmos 3 (cosmos-framework callbacks/iter_speed.py) appends the window's throughput.
    + r"(?: \| ([\d,.]+) tokens per iteration \(([\d,.]+) tokens/s\))?"
)
#: The hit phase (first iterations of a process): iteration, hit k, of K, loss, wall time.
HIT_RE = re.compile("^" + _HIT + "$")
#: Every ``every_n`` iterations: iteration, average seconds per iteration, loss.
SPEED_RE = re.compile("^" + _SPEED + "$")
#: The W&B callback's report of a NaN/Inf loss (``Unstable loss nan at iteration 57``).
UNSTABLE_MARK = "Unstable loss"
# The same two lines with the common prefixes (optional torchrun tag, loguru without a machine
# field), as one bytes regex over a raw line: the fast path of bulk scans. A line it does not take
# goes through parse_line, so both paths accept the same lines.
_RAW_PREFIX = (
    r"^(?:\[(?:rank|default)\d+\]:\s?)?\[\d\d-\d\d \d\d:\d\d:\d\d\|"
    r"(?:" + _LEVEL_NAMES + r")\|[^\]\s|]+:\d+:[^\]\s]+\] "
)
RAW_HIT_RE = re.compile((_RAW_PREFIX + _HIT + r"\r?$").encode())
RAW_SPEED_RE = re.compile((_RAW_PREFIX + _SPEED + r"\r?$").encode())
#: One literal every progress and ``Unstable loss`` line holds ("Iteration N: Hit counter",
#: "seconds per iteration | Loss", "Unstable loss x at iteration N"), found with ``bytes.find``
#: before any regex runs.
PROGRESS_MARK = b"teration "
LOSS_MARK = b"| Loss: "

# -- failures: Python, the engines and torchrun's elastic agent.
#: A Python exception line (``KeyError: 'x'``), after an optional ``[rankN]:`` prefix.
ERROR_LINE_RE = re.compile(r"^(?:\[rank\d+\]:\s*)?((?:[\w.]+\.)?\w*(?:Error|Exception)\b:?.*)$")
#: The engines' one-line user errors (``error: dataset_dir is not set; pass ...``), with the rank
#: tags of the loguru format or of torchrun.
USER_ERROR_LINE_RE = re.compile(r"^(?:\[rank\d+\]:\s*|\[RANK \d+\]\s*)?error:\s*(.+)$")
#: An exception line of a process's own output (a dry run's stderr): ``SystemExit`` too, after any
#: bracketed prefix (:data:`BRACKET_PREFIX_RE`).
EXCEPTION_LINE_RE = re.compile(r"^(?:\[[^\]]*\]:?\s*)?[A-Za-z_][\w.]*(?:Error|Exception|Exit)\b.*")
BRACKET_PREFIX_RE = re.compile(r"^\[[^\]]*\]:?\s*")
#: torchrun's failure summary: the first failed rank and its exit code.
ROOT_CAUSE_RE = re.compile(r"Root Cause.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", re.S)
RANK_SIGKILL_RE = re.compile(r"exitcode\s*:\s*-9\b|Signal 9 \(SIGKILL\)")
RANK_SIGNAL_RE = re.compile(r"exitcode\s*:\s*-(\d+)\b")
#: The elastic agent's traceback when it was sent SIGTERM itself (an expected shutdown).
TRAINING_DONE_RE = re.compile(r"\bDone with training\.")
"""The trainer's last word once it reached ``max_iter`` and saved (imaginaire's and the builtin
engine's ``Trainer.train``)."""
AGENT_SIGTERMED_RE = re.compile(r"SignalException: Process \d+ got signal: 15\b")
GPU_OOM_RE = re.compile(r"CUDA out of memory|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED")
ENOSPC_RE = re.compile(r"No space left on device|Errno 28\b|ENOSPC")


def shown_line(text: str) -> str:
    """``text`` without terminal escape sequences (colours, cursor moves, titles: what a log's
    formatting adds); a carriage-return redraw keeps its last frame; any control, C1 or direction
    character left (a lone ESC, ``ESC c``, U+202E) shown as its escape
    (:func:`~cosmos_tui.core.display.printable_line`), so no log line drives the terminal."""
    if "\x1b" in text:
        text = ANSI_RE.sub("", text)
    if "\r" in text:
        frames = [f for f in text.split("\r") if f]
        text = frames[-1] if frames else ""
    return printable_line(text)


@dataclass(frozen=True, slots=True)
class LogLine:
    """A parsed console line. Fields that the line does not carry are ``None``."""

    text: str
    """The whole line with ANSI codes stripped (what the log view shows)."""
    message: str
    """The message after any torchrun prefix, loguru prefix and ``[RANK n]`` tag."""
    time: str | None = None
    """Loguru's ``MM-DD HH:mm:ss`` stamp."""
    level: str | None = None
    """Loguru level name; ``ERROR`` is inferred for Python tracebacks and exception lines."""
    source: str | None = None
    """``path:line:function`` of the logging call."""
    rank: int | None = None
    """The rank from a torchrun prefix or an upstream ``[RANK n]`` tag."""

    @property
    def severity(self) -> int:
        """The numeric level (0 when the line has none)."""
        return LEVELS.get(self.level or "", 0)


def parse_line(raw: str) -> LogLine:
    """Parse one console line (without its newline)."""
    text = shown_line(raw)
    rest = text
    rank: int | None = None
    m = TORCHRUN_PREFIX_RE.match(rest)
    if m:
        rank = int(m.group(1))
        rest = rest[m.end() :]
    time = level = source = None
    if rest.startswith("["):
        lm = LOGURU_RE.match(rest)
        if lm:
            time, level, source = lm.group("time"), lm.group("level"), lm.group("source")
            rest = lm.group("message")
    tag = RANK_TAG_RE.match(rest)
    if tag:
        rank = int(tag.group(1))
        rest = rest[tag.end() :]
    if level is None and _PY_ERROR_RE.match(rest):
        level = "ERROR"
    return LogLine(text=text, message=rest, time=time, level=level, source=source, rank=rank)


def looks_like_error(raw: str) -> bool:
    """Whether a raw console line is worth showing as an error where only progress is shown
    (a traceback's first line or an exception's message)."""
    return "Traceback" in raw or "Error:" in raw


def matches(
    line: LogLine, *, min_level: str | None = None, query: str | None = None, rank: int | None = None
) -> bool:
    """Whether ``line`` passes the UI filters: a minimum level (lines without a level pass only
    when no minimum is set), a case-insensitive substring, and a rank (untagged lines are rank 0's,
    as upstream tags only the other ranks)."""
    if min_level is not None and line.severity < LEVELS[min_level.upper()]:
        return False
    if rank is not None and (line.rank or 0) != rank:
        return False
    return not (query and query.lower() not in line.text.lower())


def compact_text(line: LogLine) -> str:
    """``line`` with a short prefix instead of torchrun's and loguru's (``[rank1]:[01-01
    12:00:07|INFO|cosmos_engine/trainer.py:212:train] `` becomes ``12:00:07 I r1 trainer:212 ``),
    so a narrow view shows the message (the loss) rather than the prefix; a line without a prefix
    is its text."""
    if line.time is None and line.rank is None:
        return line.text
    parts = []
    if line.time is not None:
        parts.append(line.time[-8:])
    if line.level is not None and line.time is not None:
        parts.append(line.level[0])
    if line.rank is not None:
        parts.append(f"r{line.rank}")
    if line.source:
        path, _, rest = line.source.partition(":")
        number = rest.split(":", 1)[0]
        module = path.rsplit("/", 1)[-1].removesuffix(".py")
        parts.append(f"{module}:{number}")
    return " ".join(parts) + " " + line.message
