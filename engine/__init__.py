"""cosmos_engine: a real PyTorch post-training engine for video world models.

Installed as ``cosmos_engine`` (the folder is ``engine/`` in the repository). It is launched by
``torchrun -m cosmos_engine.train`` and never imports ``cosmos_tui``.
"""

__version__ = "0.1.0"
