"""Fixtures for the runs tests (helpers live in runs_helpers.py)."""

from __future__ import annotations

from runs_helpers import launch_script  # noqa: F401  (fixture)
