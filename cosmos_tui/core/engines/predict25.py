"""Cosmos-Predict2.5 (nvidia-cosmos/cosmos-predict2.5): the same ``cosmos_oss`` launcher as
Transfer2.5; its post-training docs start ``scripts/train.py`` by path.

What ``data.root`` stands for, per experiment (``cosmos_predict2/experiments/`` at 7e5ffc8):

- ``base/cosmos_nemo_assets.py``, ``base/groot.py``, ``base/cosmos_nemo_assets_lora.py`` (txt):
  a ``VideoDataset`` with ``sampler=L(get_sampler)(dataset=...)``; validation on mock data.
- ``..._lora_..._json``: the same, plus a ``dataloader_val`` over its own
  ``.../validation`` copy with its own sampler. ``data.root`` names one folder, so validation
  runs over it too (a separate validation folder is an override of
  ``dataloader_val.dataset.dataset_dir``, which the adapter then leaves alone).
- ``multiview/waymo.py``: ``WaymoLocalDataset(video_file_dirs=[...])`` shared by the train and
  val loaders, whose samplers exist only in a distributed job (``dist.is_initialized()`` when
  the config is imported), so its dry run composes under torchrun.
- ``base/action.py`` (Bridge): ``Dataset_3D`` takes ``video_path`` and three annotation folders
  under it (``annotation/{train,val,test}``), in a train and a val copy (``mode`` differs), each
  with its sampler.
"""

from __future__ import annotations

from cosmos_tui.core.engines.base import register
from cosmos_tui.core.engines.dataroot import (
    SAMPLER,
    TRAIN_AND_SAMPLER,
    TRAIN_SAMPLER_AND_VAL,
    VAL,
    VAL_SAMPLER,
    DataRoot,
    following,
)
from cosmos_tui.core.engines.upstream import UpstreamAdapter

_BRIDGE_PATHS = tuple(
    f"{loader}.dataset.{key}={value}"
    for loader in ("dataloader_train", "dataloader_val")
    for key, value in (
        ("video_path", "{root}"),
        ("train_annotation_path", "{root}/annotation/train"),
        ("val_annotation_path", "{root}/annotation/val"),
        ("test_annotation_path", "{root}/annotation/test"),
    )
)

WAYMO = "predict2_multiview_post_train_waymo"


@register
class Predict25Adapter(UpstreamAdapter):
    kind = "cosmos-predict2.5"
    entry = ("scripts/train.py",)
    default_config = "cosmos_predict2/_src/predict2/configs/video2world/config.py"
    data_roots = {
        "predict2_video2world_training_2b_cosmos_nemo_assets": TRAIN_AND_SAMPLER,
        "predict2_lora_training_2b_cosmos_nemo_assets_txt": TRAIN_AND_SAMPLER,
        "predict2_lora_training_2b_cosmos_nemo_assets_json": TRAIN_SAMPLER_AND_VAL,
        "predict2_video2world_training_2b_groot_gr1_480": TRAIN_AND_SAMPLER,
        "predict2_video2world_training_14b_groot_gr1_480": TRAIN_AND_SAMPLER,
        WAYMO: DataRoot(
            paths=("dataloader_train.dataset.video_file_dirs=[{quoted}]",),
            follow=following(SAMPLER, VAL, VAL_SAMPLER),
        ),
        "ac_reason_embeddings_rectified_flow_2b_256_320": DataRoot(
            paths=_BRIDGE_PATHS,
            follow=(*following(SAMPLER), *following(VAL_SAMPLER, node=VAL)),
        ),
    }
    distributed_composition = frozenset({WAYMO})
