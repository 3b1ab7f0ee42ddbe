"""cosmos-tui: a terminal experiment manager for post-training NVIDIA Cosmos world models."""

__version__ = "0.1.0"
