"""The hub tests' world: canary tokens and a small catalog whose models point at repos on the
HF test server (imported as ``hub_world``)."""

from __future__ import annotations

from support.catalog_toml import ACME_WEIGHTS, acme_model, catalog, repo

GOOD_TOKEN = "hf_CanaryToken0123456789abcdefXYZ"  # a canary: must never appear in any output
OTHER_TOKEN = "hf_OtherUserToken9876543210zyxw"

TEST_CATALOG = catalog(
    ACME_WEIGHTS,
    repo(
        "encoder",
        "acme/Encoder-7B",
        "text-encoder",
        include=["*.json", "*.safetensors"],
        exclude=["big.safetensors"],
        local_dir="encoders/Encoder-7B",
    ),
    repo("guard", "acme/Guard", "guardrail", files=["guard.bin"], needed_for="inference", gated=True),
    acme_model("weights", "encoder", "guard"),
)

WEIGHTS = bytes(range(256)) * 2048  # 512 KiB
ENCODER_FILES = {
    "config.json": b'{"hidden": 8}',
    "model-00001.safetensors": b"s" * 200_000,
    "big.safetensors": b"b" * 1000,
    "README.md": b"readme",
}
