"""Waiting helpers for Pilot tests: poll a condition between frames instead of sleeping blindly."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot


async def wait_for(
    pilot: Pilot, condition: Callable[[], object], timeout: float = 10.0, step: float = 0.05
) -> None:
    """Let the app run until ``condition()`` is true; fail the test after ``timeout`` seconds."""
    waited = 0.0
    while waited < timeout:
        try:
            if condition():
                return
        except Exception:
            pass
        await pilot.pause(step)
        waited += step
    raise AssertionError(f"condition not met within {timeout} s: {condition}")
