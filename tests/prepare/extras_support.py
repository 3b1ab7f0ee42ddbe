"""Fixtures for the controls / views / t5 tests: real mp4 clips (PyAV) and a tiny random T5."""

from __future__ import annotations

import sys
from pathlib import Path

from cosmos_tui.core.datasets.paint import make_scene, render_frames, write_mp4

TOOL = Path(__file__).with_name("control_tool.py")
"""A stand-in control model: re-encodes the clip, or misbehaves on request (see its docstring)."""


def make_clip(
    path: Path, frames: int = 6, size: tuple[int, int] = (48, 64), fps: int = 10, seed: int = 0
) -> Path:
    """A real H.264 mp4 of a moving square at ``path``."""
    write_mp4(path, render_frames(make_scene(seed, 0), 0, frames, size, "rgb"), fps)
    return path


def tool_command(mode: str = "copy") -> list[str]:
    """The argv template that runs the stand-in tool in ``mode``."""
    return [sys.executable, str(TOOL), mode, "{input}", "{output}"]


def tiny_t5(folder: Path, d_model: int = 16) -> Path:
    """A randomly initialised T5 encoder and a word-level tokenizer saved in ``folder`` (no network)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    words = "the a video is captured from camera mounted on car facing forward and slightly to left right"
    words_list = words.split(" ")
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(dict.fromkeys(words_list))}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(vocab), d_model=d_model, d_kv=4, d_ff=32, num_layers=2, num_heads=2, pad_token_id=0
    )
    T5EncoderModel(config).save_pretrained(folder)
    return folder
