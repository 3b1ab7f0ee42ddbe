"""A pydantic string type limited to the keys of a table that lives elsewhere (the engine
registry, the dataset layouts), failing as a ``Literal`` of those keys does: the same
``literal_error`` and message, so the table is the one place its values are written."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError


def one_of(values: Iterable[str]) -> Any:
    """``Annotated[str, ...]`` accepting exactly ``values`` (kept in their order for messages)."""
    allowed = tuple(values)
    quoted = [f"'{v}'" for v in allowed]
    expected = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"

    def check(value: Any) -> Any:
        if not isinstance(value, str) or value not in allowed:  # a list or table is no value either
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
        return value

    return Annotated[str, BeforeValidator(check)]
