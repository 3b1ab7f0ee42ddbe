"""What a resume will restore: the latest complete checkpoint in a job folder and its states.

Shown before a resume launches (peer-lessons #5: "Resume silently restarts from step 0"), so the
person sees the iteration and whether model, optimizer, scheduler, trainer and EMA state exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.checkpoints.scan import latest_complete, resume_states, scan_checkpoints
from cosmos_tui.core.checkpoints.verify import checkpoint_state


@dataclass(frozen=True)
class ResumePoint:
    """The checkpoint a relaunched job resumes from."""

    iteration: int
    """Iteration it was saved at (training continues from the next one)."""
    state: str
    """:func:`~cosmos_tui.core.checkpoints.verify.checkpoint_state`: ``complete``, or what is
    wrong with it (``truncated``, ``missing-shard``, ...) by the quick size check."""
    path: Path
    """The step folder (DCP) or trainer file (Predict1 ``.pt``)."""
    states: dict[str, bool]
    """``model``, ``optimizer``, ``scheduler``, ``trainer``, ``ema``: present or not."""

    def describe(self) -> str:
        """``iteration 5 (iter_000000005): model, optimizer, scheduler, trainer; no EMA``."""
        have = [k for k, v in self.states.items() if v and k != "ema"]
        missing = [k for k, v in self.states.items() if not v and k != "ema"]
        text = f"iteration {self.iteration} ({self.path.name}): restores {', '.join(have) or 'nothing'}"
        text += "; EMA weights too" if self.states.get("ema") else "; no EMA weights"
        if missing:
            text += f"; missing {', '.join(missing)} (starts fresh for those)"
        return text


def latest_checkpoint(job_dir: Path) -> ResumePoint | None:
    """The newest complete checkpoint under ``<job_dir>/checkpoints``, or ``None``."""

    ckpt_dir = Path(job_dir) / "checkpoints"
    if not ckpt_dir.is_dir():
        return None
    info = latest_complete(scan_checkpoints(ckpt_dir))
    if info is None:
        return None
    state = checkpoint_state(info)
    return ResumePoint(iteration=info.iteration, state=state, path=info.path, states=resume_states(info))
