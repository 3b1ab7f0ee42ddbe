"""Cosmos-Predict2.5 (nvidia-cosmos/cosmos-predict2.5): the same ``cosmos_oss`` launcher as
Transfer2.5; its post-training docs start ``scripts/train.py`` by path."""

from __future__ import annotations

from cosmos_tui.core.engines.base import register
from cosmos_tui.core.engines.upstream import UpstreamAdapter


@register
class Predict25Adapter(UpstreamAdapter):
    kind = "cosmos-predict2.5"
    entry = ("scripts/train.py",)
    default_config = "cosmos_predict2/_src/predict2/configs/video2world/config.py"
