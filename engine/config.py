"""The engine's typed configuration, with upstream key names.

The base config below is what every experiment starts from; experiments
(:mod:`cosmos_engine.experiments`) and command-line overrides change it. After Hydra composes the
overrides, :func:`cosmos_engine.compose.compose_config` merges the result into these dataclasses,
which checks every key and type.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT_ROOT = "/tmp/imaginaire4-output"
WAYMO_VIEWS = [
    "pinhole_front",
    "pinhole_front_left",
    "pinhole_front_right",
    "pinhole_side_left",
    "pinhole_side_right",
]
HDMAP_CAMERAS = [
    "camera_front_wide_120fov",
    "camera_cross_right_120fov",
    "camera_rear_right_70fov",
    "camera_rear_tele_30fov",
    "camera_rear_left_70fov",
    "camera_cross_left_120fov",
    "camera_front_tele_30fov",
]


@dataclass
class JobConfig:
    """Where the job writes: ``$IMAGINAIRE_OUTPUT_ROOT/<project>/<group>/<name>``."""

    project: str = "cosmos_engine"
    """First path component under the output root."""
    group: str = "debug"
    """Second path component (experiments set the task family)."""
    name: str = "default"
    """Last path component (experiments set their own name); rerunning the same name resumes."""
    wandb_mode: str = "disabled"
    """W&B on rank 0: ``online``, ``offline`` or ``disabled``."""

    @property
    def path_local(self) -> Path:
        """The job directory."""
        root = os.environ.get("IMAGINAIRE_OUTPUT_ROOT") or DEFAULT_OUTPUT_ROOT
        return Path(root) / self.project / self.group / self.name


@dataclass
class TrainerConfig:
    """The training loop."""

    max_iter: int = 100
    """Optimizer steps to train for in total (a resumed job continues to this number)."""
    logging_iter: int = 10
    """Write a metrics.jsonl line (and W&B point) every this many iterations."""
    seed: int = 0
    """Seed for weights, data order and noise; CPU runs are bit-reproducible for a given world size."""
    grad_accum_iter: int = 1
    """Micro-batches per optimizer step."""
    grad_clip_norm: float = 1.0
    """Clip the global gradient norm to this value (0 disables clipping)."""
    compile: bool = False
    """``torch.compile`` each transformer block."""
    activation_checkpointing: bool = False
    """Recompute block activations in backward to save memory."""
    activation_checkpointing_every: int = 1
    """With activation checkpointing on, recompute one block in every this many (1: all blocks;
    3: a third of them, a third of the memory saved for a third of the recompute)."""
    recompute: str = ""
    """What else every block (not checkpointed whole) recomputes in backward instead of keeping:
    ``gelu``: the MLP's activation (7.5 GB of the 2B model's activations at 16,384 tokens for ~1% of
    a step on an H100 when compiled: the recompute is fused into the GELU backward);
    ``elementwise``: all but the outputs of matmuls and attention (norms, AdaLN modulation, GELU,
    bf16 weight casts: 25 GB there, ~2% of a step); ``attention``: all but the self-attention's
    outputs (the block's input and one ``n x hidden`` tensor kept: for long sequences, where the
    quadratic attention is most of the work and the recomputed matmuls are cheap); empty: nothing."""
    memory_budget: str = ""
    """``auto``: choose the memory policy (``recompute`` and activation checkpointing of one block in
    N) at launch: the cheapest in recomputed FLOPs whose peak, from each policy's activation bytes
    measured on one block at the run's width on the GPU, fits the GPU's memory; or a number of GB
    to fit in instead of the whole GPU. The choice and why are logged, and it replaces the configured
    policy. Empty: use the configured policy. On CPU there is no device memory to budget: the
    configured policy stays."""
    fused_update: bool = True
    """On a GPU with Triton: AdamW and the EMA update in one kernel pass over the weights and their
    state (:mod:`cosmos_engine.fused_update`); ``false``: ``torch.optim.AdamW`` then a separate EMA lerp."""
    bf16: bool = True
    """bf16 autocast and FSDP2 bf16 parameters on GPU (CPU always trains in fp32)."""
    fsdp_reshard_after_forward: bool = True
    """FSDP2: free each block's gathered parameters after forward and gather again in backward
    (less memory); ``false`` keeps them until backward (no second gather: faster on one GPU)."""
    val_every: int = 0
    """Compute the held-out loss every this many iterations (0: never). It needs clips held out
    (``dataloader_train.dataset.val_clips``) and is written to ``metrics.jsonl`` as ``val_loss``."""
    val_samples: int = 16
    """Windows of the held-out clips the validation loss averages (spread evenly over them), each
    with its own fixed noise and flow time: the same numbers at every evaluation and after a resume."""
    callbacks: dict[str, Any] = field(default_factory=lambda: {"iter_speed": {"every_n": 10, "hit_thres": 5}})
    """Callback settings by name, as upstream (``iter_speed.every_n``, ``iter_speed.hit_thres``)."""
    sample_every: int = 0
    """Draw samples from each saved checkpoint whose iteration is a multiple of this (0: never):
    rank 0 starts :mod:`cosmos_engine.generate` in a process of its own once the save is complete
    (seeds 0 and 1 on the dataset's first clip, into ``samples/iter_%09d/``), so training never
    waits for it; it shares the device with training."""
    sample_steps: int = 20
    """Euler steps of those samples."""


@dataclass
class CheckpointConfig:
    """DCP checkpoints under ``<job>/checkpoints``."""

    save_iter: int = 1000
    """Save every this many iterations (and always at the end of training)."""
    load_path: str = ""
    """Initial weights when the job has no checkpoint yet: a consolidated ``.pt`` or a DCP step dir."""
    load_training_state: bool = False
    """With a DCP ``load_path``, also restore optimizer, scheduler and iteration."""
    keep_last_n: int = 0
    """Keep only the newest N complete checkpoints (0 keeps all)."""
    export_pt: bool = False
    """Also write ``iter_%09d_reg_model.pt`` and ``iter_%09d_ema_model.pt`` next to each save."""
    async_save: bool = False
    """Copy the state to host memory beside the next step's compute and write it in a background
    thread (DCP over its own gloo group); the pointer still moves only once every part is complete."""
    save_at_end: bool = True
    """Save when training reaches ``trainer.max_iter`` (benchmarks turn it off)."""


@dataclass
class DatasetConfig:
    """What the data loader reads, as the upstream loaders do."""

    kind: str = "waymo"
    """Reader: ``waymo`` (Predict1 S2MV), ``singleview`` (Transfer2.5) or ``multiview_hdmap``."""
    dataset_dir: str = ""
    """Dataset root."""
    num_frames: int = 8
    """Consecutive frames per sample."""
    video_size: list[int] = field(default_factory=lambda: [64, 96])
    """Frames are resized to [height, width]."""
    view_keys: list[str] = field(default_factory=lambda: list(WAYMO_VIEWS))
    """Views (camera folders) the dataset has, the first one being the conditioning/front view."""
    sample_n_views: int = 2
    """Views per sample: the first view plus random others (-1 takes all)."""
    start_frame_interval: int = 4
    """Stride between the first frames of consecutive windows of one clip."""
    control_type: str = ""
    """Control input: ``edge``, ``vis``, ``depth``, ``seg``, ``hdmap`` or empty for none."""
    max_text_len: int = 32
    """Text tokens per sample (padded or truncated, with a mask)."""
    val_clips: int = 0
    """Clips held out of training for the validation loss (``trainer.val_every``): the ones whose
    names hash lowest (CRC-32), so the split is the same on every run, rank and resume; 0: none."""


@dataclass
class DataloaderConfig:
    """The training data loader."""

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    """The dataset."""
    batch_size: int = 1
    """Samples per rank per micro-batch."""
    num_workers: int = 0
    """Decoding worker processes per rank."""
    pin_memory: bool = False
    """Pin host memory (GPU only)."""


@dataclass
class EMAConfig:
    """Exponential moving average of the weights (saved as ``net_ema.*``)."""

    enabled: bool = True
    """Keep EMA weights."""
    beta: float = 0.999
    """Decay per optimizer step."""
    every_n: int = 1
    """Update the EMA every N optimizer steps (with decay ``beta ** N``), to take it off most steps."""
    offload: bool = False
    """Keep the EMA weights in pinned host memory and stream them through the GPU at each update:
    frees 4 bytes per parameter of GPU memory (7.8 GB at 2B) for two PCIe copies of them per update,
    which overlap the next forward but slow it (~9% of a step at 16,384 tokens on an H100, more than
    checkpointing one block in 7 costs). Same result bit for bit; ignored on CPU."""


@dataclass
class ModelConfig:
    """The video diffusion transformer."""

    task: str = "text2world"
    """``text2world``, ``video2world`` (first view given clean) or ``control`` (control video input)."""
    hidden: int = 64
    """Hidden width."""
    depth: int = 2
    """Transformer blocks."""
    heads: int = 4
    """Attention heads."""
    mlp_ratio: float = 4.0
    """MLP width as a multiple of ``hidden``."""
    patch_size: list[int] = field(default_factory=lambda: [2, 16, 16])
    """Patch size [time, height, width] in pixels."""
    in_channels: int = 3
    """Video channels."""
    control_channels: int = 3
    """Channels of the control video (used when ``task=control``)."""
    text_dim: int = 1024
    """Text embedding width (T5-XXL: 1024)."""
    n_views_emb: int = 7
    """Rows of the view embedding table."""
    adaln_lora_dim: int = 0
    """Rank of the AdaLN-LoRA modulation (0: a full linear per block)."""
    ema: EMAConfig = field(default_factory=EMAConfig)
    """EMA settings."""


@dataclass
class OptimizerConfig:
    """AdamW."""

    lr: float = 1e-3
    """Peak learning rate."""
    weight_decay: float = 0.1
    """Decoupled weight decay."""
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    """Adam betas."""
    eps: float = 1e-8
    """Adam epsilon."""


@dataclass
class SchedulerConfig:
    """Linear warm-up, then a cosine, linear or constant decay to ``f_min`` of the peak."""

    kind: str = "cosine"
    """``cosine``, ``linear`` or ``constant`` after warm-up."""
    warm_up_steps: Any = field(default_factory=lambda: [10])
    """Warm-up iterations (an int or, as upstream, a one-element list)."""
    cycle_lengths: Any = field(default_factory=lambda: [0])
    """Decay length in iterations (0: until ``trainer.max_iter``)."""
    f_min: Any = field(default_factory=lambda: [0.1])
    """Final learning rate as a fraction of the peak."""


@dataclass
class ParallelConfig:
    """How the ranks split the work beyond FSDP2's sharding of the weights."""

    context_parallel_size: int = 1
    """Ranks that share one sample, each holding a slice of its token sequence (Ulysses: an
    all-to-all over heads around every self-attention). It must divide the number of ranks, the
    attention heads and the tokens per sample; the ranks form a (data parallel x context parallel)
    grid, neighbours sharing a sample. 1: every rank trains samples of its own."""


@dataclass
class Config:
    """The whole job; Hydra composes overrides on top of it."""

    job: JobConfig = field(default_factory=JobConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    dataloader_train: DataloaderConfig = field(default_factory=DataloaderConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    experiment: str = ""
    """Name of the experiment this config was composed from (set by compose)."""


def first(value: Any) -> Any:
    """Upstream writes some scheduler fields as one-element lists; accept both forms."""
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise ValueError(f"expected one value, got {list(value)}")
        return value[0]
    return value
