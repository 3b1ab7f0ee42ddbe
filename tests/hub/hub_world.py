"""The hub tests' world: canary tokens and a small catalog whose models point at repos on the
HF test server (imported as ``hub_world``)."""

from __future__ import annotations

GOOD_TOKEN = "hf_CanaryToken0123456789abcdefXYZ"  # a canary: must never appear in any output
OTHER_TOKEN = "hf_OtherUserToken9876543210zyxw"

TEST_CATALOG = """
schema = 1

[repos.weights]
repo_id = "acme/World-2B"
files = ["ckpt/model_ema_bf16.pt"]
role = "weights"
needed_for = "train"
gated = true
licence_url = "https://example.invalid/licence"

[repos.encoder]
repo_id = "acme/Encoder-7B"
include = ["*.json", "*.safetensors"]
exclude = ["big.safetensors"]
role = "text-encoder"
needed_for = "train"
gated = false
licence_url = "https://example.invalid/licence"
local_dir = "encoders/Encoder-7B"

[repos.guard]
repo_id = "acme/Guard"
files = ["guard.bin"]
role = "guardrail"
needed_for = "inference"
gated = true
licence_url = "https://example.invalid/licence"

[[models]]
id = "acme-2b"
family = "Acme"
name = "Acme World 2B"
engine = "cosmos-predict2.5"
dataset_layout = "predict25-video2world"
experiments = ["acme_posttrain"]
uses = ["weights", "encoder", "guard"]
[models.compute]
min_gpus = 8
gpu_memory_gb = 80
"""

WEIGHTS = bytes(range(256)) * 2048  # 512 KiB
ENCODER_FILES = {
    "config.json": b'{"hidden": 8}',
    "model-00001.safetensors": b"s" * 200_000,
    "big.safetensors": b"b" * 1000,
    "README.md": b"readme",
}
