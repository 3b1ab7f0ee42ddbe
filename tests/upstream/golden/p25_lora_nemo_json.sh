# Auto-select first available prompt type (default)
torchrun --nproc_per_node=8 scripts/train.py \
  --config=cosmos_predict2/_src/predict2/configs/video2world/config.py -- \
  experiment=predict2_lora_training_2b_cosmos_nemo_assets_json
