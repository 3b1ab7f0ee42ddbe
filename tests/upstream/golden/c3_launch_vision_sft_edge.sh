# What examples/launch_sft_vision_edge.sh runs (through examples/_sft_launcher_common.sh, 5eee9ed) with its
# defaults, written out: its exports, then its torchrun line from WORKDIR (the checkout).
# NPROC_PER_NODE=8 and MASTER_PORT=50012 are the launcher's defaults; no TAIL_OVERRIDES.
export DATASET_PATH=$WORKDIR/examples/data/BridgeData2-Subset-Synthetic-Captions/sft_dataset_bridge
export BASE_CHECKPOINT_PATH=$WORKDIR/examples/checkpoints/Cosmos3-Edge
export WAN_VAE_PATH=$WORKDIR/examples/checkpoints/wan22_vae/Wan2.2_VAE.pth
PYTHONPATH=. torchrun --nproc_per_node=8 --master_port=50012 -m cosmos_framework.scripts.train \
    --sft-toml examples/toml/sft_config/vision_sft_edge.toml
