"""Shell text: the one place a command, an ``export`` or an ``#SBATCH`` line is written.

Everything cosmos-tui renders for a shell (``preset render`` for this machine and for each node,
the sbatch script, the ``shell`` line of a run record) is built here, so one set of rules holds
everywhere:

- an environment variable name is a POSIX name (``[A-Za-z_][A-Za-z0-9_]*``);
- every value is quoted for its reader: :func:`shlex.quote` for bash, :func:`sbatch_quote` for
  sbatch's own parser of ``#SBATCH`` lines (which splits on blanks, honours quotes and
  backslashes and ends the line at an unquoted ``#``);
- a value with a newline or another control character is refused with a :class:`UserError`
  naming it: a newline would start a new line of the script, and a terminal escape would
  rewrite what the person reading the command sees;
- an ``#SBATCH`` option is a well-formed option name (``--name`` or ``-X``).

:func:`check_text` and :func:`check_env_name` are the same rules for validating a preset before
anything is rendered (:mod:`cosmos_tui.core.presets` calls them).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence

from cosmos_tui.core.errors import UserError

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A POSIX environment variable name (what ``export NAME=...`` accepts)."""
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Characters no rendered value may hold: C0 (newline, CR, tab, ESC, NUL...), DEL, C1, and the
Unicode line and paragraph separators."""
SBATCH_OPTION = re.compile(r"--[A-Za-z][A-Za-z0-9-]*|-[A-Za-z]")
"""An sbatch option name: ``--long-name`` or ``-X``."""
_SBATCH_PLAIN = re.compile(r"[A-Za-z0-9_.,:+@%=/\-\[\]]+")
"""Values sbatch reads as one argument without quotes."""


def control_char(text: str) -> str | None:
    """The first newline or control character in ``text`` (as ``repr`` shows it), or ``None``."""
    match = CONTROL.search(text)
    return repr(match.group())[1:-1] if match else None


def problem_in_text(text: str) -> str | None:
    """Why ``text`` cannot be a rendered value (a sentence fragment), or ``None`` when it can."""
    bad = control_char(text)
    if bad is None:
        return None
    what = "a newline" if bad in ("\\n", "\\r") else f"the control character {bad}"
    return f"holds {what}, which no command or script can carry safely; remove it"


def check_text(value: str, what: str) -> str:
    """``value`` unchanged; :class:`UserError` naming ``what`` when it holds a control character."""
    problem = problem_in_text(value)
    if problem:
        raise UserError(f"{what} {problem} (got {value!r})")
    return value


def problem_in_env_name(name: str) -> str | None:
    """Why ``name`` cannot be an environment variable name, or ``None`` when it can."""
    if ENV_NAME.fullmatch(name):
        return None
    return (
        f"{name!r} is not an environment variable name; use letters, digits and '_', "
        "not starting with a digit"
    )


def check_env_name(name: str, what: str = "environment variable") -> str:
    """``name`` unchanged; :class:`UserError` when it is not a POSIX name."""
    problem = problem_in_env_name(name)
    if problem:
        raise UserError(f"{what}: {problem}")
    return name


def quote(value: str, what: str = "value") -> str:
    """``value`` as one bash word (refusing control characters)."""
    return shlex.quote(check_text(str(value), what))


def join(argv: Iterable[str], what: str = "command") -> str:
    """``argv`` as one bash command line, every word quoted."""
    return " ".join(quote(str(a), f"{what} argument") for a in argv)


def export(name: str, value: str) -> str:
    """``export NAME='value'``: the name checked, the value quoted."""
    check_env_name(name)
    return f"export {name}={quote(value, f'environment variable {name}')}"


def command(
    cwd: str,
    env: Mapping[str, str],
    argv: Sequence[str],
    *,
    groups: Sequence[Sequence[str]] | None = None,
) -> str:
    """``cd DIR``, one ``export`` per variable, then the command: what a person pastes into a
    shell. ``groups`` splits ``argv`` over continuation lines (each group one line)."""
    lines = [f"cd {quote(cwd, 'working folder')}"]
    lines += [export(k, v) for k, v in env.items()]
    if groups is None:
        lines.append(join(argv))
    else:
        lines.append(" \\\n    ".join(join(g) for g in groups))
    return "\n".join(lines)


def sbatch_quote(value: str, what: str = "value") -> str:
    """``value`` as one argument of an ``#SBATCH`` line, read by sbatch's own parser: plain when
    it is made of safe characters, else in double quotes with ``\\`` and ``"`` escaped."""
    check_text(str(value), what)
    if _SBATCH_PLAIN.fullmatch(value) and not value.startswith(":"):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sbatch_line(option: str, value: str | None = None, *, what: str | None = None) -> str:
    """``#SBATCH --option=value`` (``#SBATCH -X value`` for a short option), checked and quoted."""
    if not SBATCH_OPTION.fullmatch(option):
        raise UserError(
            f"{what or 'sbatch option'} {option!r} is not an sbatch option; write --name=value or -X value"
        )
    if value is None:
        return f"#SBATCH {option}"
    quoted = sbatch_quote(value, what or f"#SBATCH {option}")
    return f"#SBATCH {option}={quoted}" if option.startswith("--") else f"#SBATCH {option} {quoted}"


def parse_sbatch_extra(line: str, what: str = "launch.slurm.extra") -> tuple[str, str | None]:
    """One ``launch.slurm.extra`` item (``--mem=0``, ``--constraint="a100&ib"``, ``-q high``, with
    or without a leading ``#SBATCH``) as ``(option, value)``; :class:`UserError` when it is not one
    option with at most one value."""
    check_text(line, what)
    text = line.strip().removeprefix("#SBATCH").strip()
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise UserError(f"{what} {line!r}: {e}; write one option, e.g. --mem=0") from None
    if not words:
        raise UserError(f"{what} {line!r} is empty; write one option, e.g. --mem=0")
    option, value = words[0], None
    if option.startswith("--") and "=" in option:
        option, value = option.split("=", 1)
        rest = words[1:]
    elif len(option) > 2 and option[0] == "-" and option[1] != "-":
        option, value, rest = option[:2], option[2:], words[1:]
    else:
        rest = words[1:]
        if rest:
            value, rest = rest[0], rest[1:]
    if rest:
        raise UserError(f"{what} {line!r} holds more than one option; put each option in its own item")
    if not SBATCH_OPTION.fullmatch(option):
        raise UserError(
            f"{what} {line!r}: {option!r} is not an sbatch option; write --name=value or -X value"
        )
    return option, value
