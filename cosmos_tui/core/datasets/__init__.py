"""Datasets: declarative layouts of what the upstream loaders open, one validator, one synthesizer.

Public API: :func:`validate` (-> :class:`Report`), :func:`detect_layout`, :func:`synthesize`,
:data:`LAYOUTS` / :func:`get_layout`, :func:`plan_fixes` / :func:`apply_fixes`.
"""

from cosmos_tui.core.datasets.findings import KINDS, Finding, Report
from cosmos_tui.core.datasets.fix import FixAction, apply_fixes, plan_fixes
from cosmos_tui.core.datasets.layouts import LAYOUTS, Layout, detect_layout, get_layout, min_frames_for
from cosmos_tui.core.datasets.synth import synthesize
from cosmos_tui.core.datasets.validate import validate

__all__ = [
    "KINDS",
    "LAYOUTS",
    "Finding",
    "FixAction",
    "Layout",
    "Report",
    "apply_fixes",
    "detect_layout",
    "get_layout",
    "min_frames_for",
    "plan_fixes",
    "synthesize",
    "validate",
]
