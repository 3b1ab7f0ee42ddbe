"""Read a shell block copied verbatim from an upstream doc into the commands it runs.

The rule (the same for every golden file):

1. Line continuations (``\\`` + newline + indentation) join into one line, and runs of blanks
   become one space (the shell splits words the same way; one seed has ``config.py  --``).
2. ``#`` comments (whole lines and trailing ``  # ...``) are dropped; ``;`` splits statements.
3. ``NAME=value`` lines define shell variables. ``$NAME``, ``${NAME}``, ``${NAME:-default}`` and
   ``$(cat FILE)`` are expanded from those definitions and from the values the test supplies
   (``$MASTER_ADDR``, ``$CHECKPOINTS_DIR``...), exactly as the shell would; lower-case
   ``${a.b}`` OmegaConf interpolations inside single quotes are left alone.
4. ``export NAME=value`` lines are returned separately as environment variables.
5. ``NAME=value`` words in front of a command (``CUDA_HOME=$CONDA_PREFIX PYTHONPATH=$(pwd) python
   ...``) are that command's environment: returned in ``command_env``, unexpanded (they name the
   reader's shell, not the doc's values), and cut from the command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_VAR = re.compile(r"\$\(cat ([^)]+)\)|\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}|\$([A-Z_][A-Z0-9_]*)")
_ASSIGN = re.compile(r"^([A-Z_][A-Z0-9_]*)=(.*)$")
# NAME=word ... COMMAND: a word has no blank and no "(" except a whole "$(cmd)" such as $(pwd).
_PREFIX = re.compile(r"^((?:[A-Z_][A-Z0-9_]*=(?:[^\s()]|\$\([a-z]+\))*\s+)+)(\S.*)$")


@dataclass
class DocBlock:
    """The commands of one doc block, expanded."""

    commands: list[str] = field(default_factory=list)
    exports: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    command_env: dict[str, str] = field(default_factory=dict)


def _expand(text: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return Path(_expand(m.group(1), env)).read_text().strip()
        name = m.group(2) or m.group(4)
        if name in env:
            return env[name]
        if m.group(3) is not None:
            return _expand(m.group(3), env)
        raise KeyError(f"the doc uses ${name}; the golden case must supply it")

    return _VAR.sub(sub, text)


def read_doc_block(path: Path, supplied: dict[str, str] | None = None) -> DocBlock:
    """Parse ``path`` with the rule in the module docstring."""
    text = re.sub(r"\\\n[ \t]*", " ", path.read_text(encoding="utf-8"))
    block = DocBlock(variables=dict(supplied or {}))
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        for statement in (s.strip() for s in line.split("; ")):
            if not statement:
                continue
            statement = re.sub(r"[ \t]+", " ", statement)
            if statement.startswith("export "):
                name, _, value = statement.removeprefix("export ").partition("=")
                block.exports[name] = _expand(value, block.variables)
                continue
            prefix = _PREFIX.match(statement)
            if prefix:
                for word in prefix.group(1).split():
                    name, _, value = word.partition("=")
                    block.command_env[name] = value
                statement = prefix.group(2)
            m = _ASSIGN.match(statement) if not prefix else None
            if m:
                block.variables[m.group(1)] = _expand(m.group(2), block.variables)
                continue
            block.commands.append(_expand(statement, block.variables))
    return block
