"""The ``config.yaml`` upstream's trainer writes next to its checkpoints: attrs/dataclass configs
dumped with their ``!!python`` tags (``yaml.safe_load`` refuses them), written once for every test
that reads one."""

from __future__ import annotations


def upstream_config(*, max_iter: int, save_iter: int, keep_last_n: int) -> str:
    """An upstream-shaped job config with these trainer and checkpoint settings (its dataset
    is ``datasets/hdvila``)."""
    return f"""\
checkpoint: !!python/object:imaginaire.config.CheckpointConfig
  keep_last_n: {keep_last_n}
  save_iter: {save_iter}
  load_path: ''
dataloader_train:
  _target_: !!python/name:torch.utils.data.DataLoader ''
  dataset:
    _target_: !!python/name:projects.cosmos.datasets.VideoDataset ''
    dataset_dir: datasets/hdvila
job: !!python/object:imaginaire.config.JobConfig
  group: video2world
  name: run-a
  project: cosmos_predict2
trainer: !!python/object:imaginaire.config.TrainerConfig
  callbacks: !!python/object/apply:collections.OrderedDict
  - - - iter_speed
      - !!python/object:imaginaire.callbacks.IterSpeed
        every_n: 10
  max_iter: {max_iter}
  seed: !!python/tuple [0, 1]
"""
