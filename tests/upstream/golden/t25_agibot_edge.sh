torchrun --nproc_per_node=8 --master_port=12345 -m scripts.train \
  --config=cosmos_transfer2/_src/transfer2_multiview/configs/vid2vid_transfer/config.py \
  -- \
  experiment=transfer2_agibot_posttrain_edge_example \
  dataloader_train.dataset.dataset_dir=assets/robot_multiview_control_posttrain-agibot \
  'dataloader_train.sampler.dataset=${dataloader_train.dataset}' \
  job.wandb_mode=disabled
