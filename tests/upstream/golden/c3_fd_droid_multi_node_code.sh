# The doc's override names the recipe's TOML path; overrides after "--" reach Hydra unchanged
# (toml_config_helper.PATH_REMAPS rewrites only the TOML's keys), where [model] is model.config.
PYTHONPATH=. torchrun --nnodes=$NNODES --node_rank=$NODE_RANK --nproc_per_node=8 \
  -m cosmos_framework.scripts.train \
  --sft-toml examples/toml/sft_config/action_fd_droid_posttrain.toml \
  -- model.config.parallelism.data_parallel_replicate_degree=$NNODES
