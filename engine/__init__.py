"""cosmos_engine: a real PyTorch post-training engine for video world models.

Installed as ``cosmos_engine`` (the folder is ``engine/`` in the repository). It is launched by
``torchrun -m cosmos_engine.train -- experiment=NAME ...`` and never imports ``cosmos_tui``.

Modules: ``train`` (CLI and loop), ``info`` (experiment facts on the meta device), ``config`` /
``experiments`` / ``compose`` (typed config, registry, Hydra overrides), ``model`` / ``flow``
(video DiT, rectified flow), ``datasets`` / ``video`` / ``sampler`` (upstream layouts, PyAV,
resumable order), ``parallel`` (process group, FSDP2, EMA), ``checkpoint`` (DCP layout, resume,
load, prune, export), ``tracking`` / ``log`` (IterSpeed lines, metrics.jsonl, W&B), ``errors``.
"""

__version__ = "0.1.0"
