"""Cosmos-Predict1 (nvidia-cosmos/cosmos-predict1), Single2MultiView and multiview post-training:
``torchrun ... -m cosmos_predict1.diffusion.training.train --config=... -- experiment=...`` from
the checkout root (relative ``checkpoints/...`` paths are hard-coded upstream), outputs under
``OUTPUT_ROOT`` (default ``checkpoints``), ``.pt`` checkpoints, no W&B.

The Single2MultiView experiments load
``checkpoints/Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/{t2w,v2w}_model.pt``,
while ``scripts/download_diffusion_checkpoints.py`` saves the repo it can fetch under another
name. When the weights are not where the experiment looks, the adapter points
``checkpoint.load_path`` at wherever they were downloaded.

Every shipped experiment (``config/{text2world,video2world}_{singletomultiview,multiview}/
experiment.py``) builds ``dataloader_train`` and ``dataloader_val`` from one
``example_multiview_dataset_waymo`` with ``sampler=L(get_sampler)(dataset=...)`` in both, and
``train.py`` instantiates both loaders, so ``data.root`` moves all four copies.
"""

from __future__ import annotations

from pathlib import Path

from cosmos_tui.core.engines.base import register
from cosmos_tui.core.engines.dataroot import TRAIN_SAMPLER_AND_VAL
from cosmos_tui.core.engines.revisions import RevisionSet
from cosmos_tui.core.engines.upstream import UpstreamAdapter
from cosmos_tui.core.overrides import override_value
from cosmos_tui.core.presets import Preset

S2MV_REPO_ID = "nvidia/Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView"
"""The Hugging Face repo of the Single2MultiView weights (renamed in cosmos-predict1 PR #121)."""
S2MV_DIR = "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView"
"""The folder under ``checkpoints/`` that the experiments load from."""
S2MV_OTHER_DIRS: tuple[str, ...] = (
    "Cosmos-Predict1-7B-SingleToMultiView-Sample-AV",  # what download_diffusion_checkpoints.py builds
    "Cosmos-Predict1-7B-Single2Multiview-Sample-AV",  # the name one doc version uses
)
S2MV_WEIGHTS: dict[str, str] = {
    "text2world_singletomultiview_7b_example_waymo": "t2w_model.pt",
    "video2world_singletomultiview_7b_example_waymo": "v2w_model.pt",
}
"""Experiment -> the weights file its ``checkpoint.load_path`` names."""
POSTTRAINED_DIR = "Cosmos-Predict1-7B-SingleToMultiView_post-trained"
"""Where the inference script looks for a post-trained ``model.pt``."""

REVISION_SETS: tuple[RevisionSet, ...] = (
    RevisionSet(
        read_at="2b446ebb36a7d19f22d293e0619be89ec2fbeb32",
        since=None,
        pins={},  # scripts/download_*_checkpoints.py call snapshot_download without a revision
        unpinned_note="cosmos-predict1's downloaders do not pin revisions",
    ),
)


@register
class Predict1Adapter(UpstreamAdapter):
    kind = "cosmos-predict1"
    entry = ("-m", "cosmos_predict1.diffusion.training.train")
    default_config = "cosmos_predict1/diffusion/training/config/config_multiview.py"
    output_root_var = "OUTPUT_ROOT"
    default_output_root = "checkpoints"
    checkpoint_layout = "pt"
    has_wandb_mode = False
    revision_sets = REVISION_SETS
    data_roots = {
        f"{mode}_{views}_7b_example_waymo": TRAIN_SAMPLER_AND_VAL
        for mode in ("text2world", "video2world")
        for views in ("singletomultiview", "multiview")
    }

    def env(self, preset: Preset) -> dict[str, str]:
        """The documented setup prefix ``CUDA_HOME=$CONDA_PREFIX PYTHONPATH=$(pwd)``, then the preset's."""
        env: dict[str, str] = {}
        repo = self.repo(preset)
        if repo is not None:
            env["PYTHONPATH"] = str(repo)
        prefix = Path(self.python(preset)).parent.parent
        if (prefix / "conda-meta").is_dir():
            env["CUDA_HOME"] = str(prefix)
        env.update(super().env(preset))
        return env

    def s2mv_weights(self, preset: Preset) -> tuple[Path | None, Path | None]:
        """``(expected, found)``: where the experiment loads its Single2MultiView weights from, and
        where they actually are (the expected file, a downloader-named folder, or the HF cache);
        ``(None, None)`` for other experiments."""
        filename = S2MV_WEIGHTS.get(preset.experiment.name)
        repo = self.repo(preset)
        if filename is None or repo is None:
            return None, None
        expected = repo / "checkpoints" / S2MV_DIR / filename
        candidates = [expected, *(repo / "checkpoints" / d / filename for d in S2MV_OTHER_DIRS)]
        for path in candidates:
            if path.is_file():
                return expected, path
        return expected, _hf_cached(filename, preset.env.HF_HOME)

    def extra_overrides(self, preset: Preset) -> list[str]:
        if override_value(preset.experiment.overrides, "checkpoint.load_path") is not None:
            return []
        expected, found = self.s2mv_weights(preset)
        if found is not None and found != expected:
            return [f"checkpoint.load_path={found}"]
        return []

    def warnings(self, preset: Preset) -> list[str]:
        if override_value(preset.experiment.overrides, "checkpoint.load_path") is not None:
            return []
        expected, found = self.s2mv_weights(preset)
        if expected is not None and found is None:
            return [
                f"the Single2MultiView weights {expected.name} are not downloaded (looked in "
                f"{expected.parent} and the Hugging Face cache); download {S2MV_REPO_ID} with "
                "`cosmos-tui hf download` before launching (the upstream downloader's "
                "--model_types names do not fetch it)"
            ]
        return []


def _hf_cached(filename: str, hf_home: str | None) -> Path | None:
    """The file from the Single2MultiView repo in the Hugging Face cache, if it is there."""
    from huggingface_hub import try_to_load_from_cache

    cache_dir = str(Path(hf_home).expanduser() / "hub") if hf_home else None
    found = try_to_load_from_cache(S2MV_REPO_ID, filename, cache_dir=cache_dir)
    return Path(found) if isinstance(found, str) else None
