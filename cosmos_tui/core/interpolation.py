"""Resolver calls in overrides: ``${oc.env:HF_TOKEN}`` and friends are refused.

Every engine composes its config with OmegaConf, which resolves ``${name:args}`` when the config
is read: ``${oc.env:HF_TOKEN}`` puts the token into the job folder's name, ``config.yaml``, the
console log and the W&B files; ``${oc.decode:...}`` and the other resolvers read the environment
or run code in the engine. So a preset's overrides, its dataset root and experiment name (which
become overrides) and every ``--set`` may hold plain node interpolations
(``${dataloader_train.dataset}``, which the shipped upstream presets use) but no resolver call.

Hydra unescapes ``\\{``, ``\\}`` and ``\\:`` in unquoted override values before OmegaConf sees
them, so backslashes are dropped before looking.
"""

from __future__ import annotations


def resolver_call(text: str) -> str | None:
    """The first ``${...}`` in ``text`` that calls a resolver (``${name:...}``), else ``None``.

    A node interpolation (``${a.b}``, ``${..sibling}``) names no resolver and is not reported;
    anything with a ``:`` at its own level is, however nested (``${${x}:y}``) or unclosed."""
    plain = text.replace("\\", "")
    start = plain.find("${")
    while start != -1:
        depth, at = 1, start + 2
        while at < len(plain) and depth:
            if plain.startswith("${", at):
                depth += 1
                at += 2
                continue
            char = plain[at]
            if char == "}":
                depth -= 1
            elif char == ":" and depth == 1:
                end = plain.find("}", at)
                return plain[start : end + 1 if end != -1 else len(plain)]
            at += 1
        start = plain.find("${", start + 2)
    return None


def problem_in_override(item: str) -> str | None:
    """Why ``item`` (one override or a value that becomes one) may not reach the engine, or
    ``None`` when it may."""
    call = resolver_call(item)
    if call is None:
        return None
    return (
        f"{call} is an OmegaConf resolver call, which would read the environment (secrets included) "
        "or run code while the engine composes its config and write the result into the job's "
        "folder name, config.yaml and logs; write the value itself (plain ${a.b} references to "
        "other config keys are allowed)"
    )
