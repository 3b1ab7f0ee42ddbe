"""One console line, understood: ANSI codes stripped, torchrun rank prefixes and the upstream
loguru prefix ``[MM-DD HH:mm:ss|LEVEL|path:line:func] message`` split into fields.

Upstream (cosmos-transfer2.5 / predict2.5 / predict1) logs through a private loguru logger with the
format ``[{time:MM-DD HH:mm:ss}|{machine}{level}|{relative_path}:{line}:{function}] {message}``;
messages logged on other ranks carry a ``[RANK n] `` tag, and torchrun's ``--tee`` adds
``[rank3]:`` or ``[default3]:`` in front of every line of a worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: CSI sequences (colours, cursor moves), OSC sequences (titles, links) and two-byte escapes.
ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
ANSI_BYTES_RE = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")

#: torchrun's per-worker prefixes: ``[rank3]:`` (torch >= 2.2 with --tee/--local-ranks-filter)
#: and ``[default3]:`` (older elastic agents).
TORCHRUN_PREFIX_RE = re.compile(r"^\[(?:rank|default)(\d+)\]:\s?")
LOGURU_RE = re.compile(
    r"^\[(?P<time>\d\d-\d\d \d\d:\d\d:\d\d)\|(?:(?P<machine>[^|\]]*)\|)?"
    r"(?P<level>TRACE|DEBUG|INFO|SUCCESS|WARNING|ERROR|CRITICAL)\|"
    r"(?P<source>[^\]\s]+:\d+:[^\]\s]+)\] ?(?P<message>.*)$",
    re.DOTALL,
)
RANK_TAG_RE = re.compile(r"^\[RANK (\d+)\] ?")
_PY_ERROR_RE = re.compile(r"^(?:Traceback \(most recent call last\)|[\w.]+(?:Error|Exception|Interrupt):)")

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


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences; a carriage-return redraw keeps its last frame."""
    if "\x1b" in text:
        text = ANSI_RE.sub("", text)
    if "\r" in text:
        frames = [f for f in text.split("\r") if f]
        text = frames[-1] if frames else ""
    return text


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
    text = strip_ansi(raw)
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
