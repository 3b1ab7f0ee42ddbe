"""The registered experiments: one family per task, each in several sizes.

An experiment is a partial config (nested dict with upstream key names) that Hydra merges over the
base config when the command line says ``experiment=NAME``. Names are ``<family>_<size>``; the job
group is the family and the job name the experiment, under project ``cosmos_engine``.
"""

from __future__ import annotations

from typing import Any

from cosmos_engine.config import HDMAP_CAMERAS, WAYMO_VIEWS

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "model": {"hidden": 64, "depth": 2, "heads": 4, "patch_size": [2, 16, 16], "adaln_lora_dim": 0},
        "trainer": {
            "max_iter": 20,
            "logging_iter": 1,
            "callbacks": {"iter_speed": {"every_n": 2, "hit_thres": 5}},
        },
        "checkpoint": {"save_iter": 10},
        "optimizer": {"lr": 1e-3},
        "scheduler": {"warm_up_steps": [2]},
        "dataloader_train": {
            "batch_size": 1,
            "num_workers": 0,
            "dataset": {"num_frames": 8, "video_size": [64, 96], "max_text_len": 32},
        },
    },
    "small": {
        "model": {"hidden": 384, "depth": 12, "heads": 6, "patch_size": [2, 16, 16], "adaln_lora_dim": 64},
        "trainer": {"max_iter": 2000, "logging_iter": 10},
        "checkpoint": {"save_iter": 500},
        "optimizer": {"lr": 3e-4},
        "scheduler": {"warm_up_steps": [100]},
        "dataloader_train": {
            "batch_size": 2,
            "num_workers": 4,
            "dataset": {"num_frames": 16, "video_size": [128, 192], "max_text_len": 128},
        },
    },
    "2b": {
        "model": {"hidden": 2048, "depth": 28, "heads": 16, "patch_size": [4, 16, 16], "adaln_lora_dim": 256},
        "trainer": {
            "max_iter": 2000,
            "logging_iter": 10,
            "activation_checkpointing": True,
            "callbacks": {"iter_speed": {"every_n": 200, "hit_thres": 5}},
        },
        "checkpoint": {"save_iter": 200},
        "optimizer": {"lr": 2**-14.3, "weight_decay": 0.1, "betas": [0.9, 0.99], "eps": 1e-10},
        "scheduler": {"warm_up_steps": [1000]},
        "dataloader_train": {"batch_size": 1, "num_workers": 8, "dataset": {"max_text_len": 512}},
    },
}

# Frames and resolution of the 2B shapes, as the upstream experiments (rounded to the time patch).
_2B_DATA = {
    "s2mv": {"num_frames": 56, "video_size": [576, 1024]},
    "transfer_singleview": {"num_frames": 92, "video_size": [704, 1280]},
    "transfer_multiview_hdmap": {"num_frames": 28, "video_size": [720, 1280]},
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _families() -> dict[str, tuple[dict[str, Any], tuple[str, ...], str]]:
    """family -> (partial config, sizes, key into _2B_DATA)."""
    waymo = {"kind": "waymo", "view_keys": list(WAYMO_VIEWS), "sample_n_views": 2}
    fams: dict[str, tuple[dict[str, Any], tuple[str, ...], str]] = {
        "s2mv_text2world": (
            {"model": {"task": "text2world"}, "dataloader_train": {"dataset": dict(waymo)}},
            ("tiny", "small", "2b"),
            "s2mv",
        ),
        "s2mv_video2world": (
            {"model": {"task": "video2world"}, "dataloader_train": {"dataset": dict(waymo)}},
            ("tiny", "small", "2b"),
            "s2mv",
        ),
        "transfer_multiview_hdmap": (
            {
                "model": {"task": "control"},
                "dataloader_train": {
                    "dataset": {
                        "kind": "multiview_hdmap",
                        "view_keys": list(HDMAP_CAMERAS),
                        "sample_n_views": 2,
                        "control_type": "hdmap",
                    }
                },
            },
            ("tiny", "2b"),
            "transfer_multiview_hdmap",
        ),
    }
    for control in ("edge", "vis", "depth", "seg"):
        fams[f"transfer_singleview_{control}"] = (
            {
                "model": {"task": "control"},
                "dataloader_train": {
                    "dataset": {
                        "kind": "singleview",
                        "view_keys": ["video"],
                        "sample_n_views": 1,
                        "control_type": control,
                    }
                },
            },
            ("tiny", "2b"),
            "transfer_singleview",
        )
    return fams


def build_experiments() -> dict[str, dict[str, Any]]:
    """Every experiment name mapped to its partial config."""
    out: dict[str, dict[str, Any]] = {}
    for family, (partial, sizes, data_key) in _families().items():
        for size in sizes:
            name = f"{family}_{size}"
            node = _merge(SIZES[size], partial)
            if size == "2b":
                node = _merge(node, {"dataloader_train": {"dataset": _2B_DATA[data_key]}})
                if data_key == "s2mv":
                    node = _merge(node, {"dataloader_train": {"dataset": {"sample_n_views": 3}}})
                if data_key == "transfer_multiview_hdmap":
                    node = _merge(node, {"dataloader_train": {"dataset": {"sample_n_views": 7}}})
            node = _merge(node, {"job": {"project": "cosmos_engine", "group": family, "name": name}})
            out[name] = node
    return out


EXPERIMENTS: dict[str, dict[str, Any]] = build_experiments()
