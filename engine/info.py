"""Describe experiments without training.

``python -m cosmos_engine.info [--list] [--json] [--ranks N] [--no-measure] [-- experiment=NAME k=v ...]``

Builds the experiment's network on the meta device (no memory, works for the 2B shape on any
machine) and prints its parameter count, tokens per sample and training FLOPs per sample, and how
``--ranks N`` ranks would split the work (data parallel x context parallel, tokens per rank).
With ``trainer.memory_budget`` set, it also shows the memory policy a launch would choose,
measuring one block on this machine's GPU when there is one (``--no-measure``: never touch the GPU).
``--list`` prints every registered experiment name. The ``--`` is optional here.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cosmos_engine.compose import compose_config, n_views, tokens_per_sample
from cosmos_engine.errors import EngineError
from cosmos_engine.experiments import EXPERIMENTS


def describe(overrides: list[str], ranks: int | None = None, measure: bool = True) -> dict[str, Any]:
    """Parameter count and shape facts of the composed experiment, built on the meta device, and
    its parallelism on ``ranks`` ranks (default: the fewest it runs on, one context-parallel group)."""
    import torch
    from cosmos_engine.errors import ConfigError
    from cosmos_engine.model import VideoDiT, count_params, flops_per_sample

    cfg = compose_config(overrides)
    cp = cfg.parallel.context_parallel_size
    ranks = cp if ranks is None else ranks
    if ranks < 1 or ranks % cp:
        raise ConfigError(
            f"parallel.context_parallel_size={cp} must divide the number of ranks (--ranks {ranks}); "
            f"give a multiple of {cp}."
        )
    with torch.device("meta"):
        net = VideoDiT(cfg.model)
    ds = cfg.dataloader_train.dataset
    views = n_views(cfg)
    tokens = tokens_per_sample(cfg)
    return {
        "experiment": cfg.experiment,
        "job": f"{cfg.job.project}/{cfg.job.group}/{cfg.job.name}",
        "params": count_params(net),
        "params_with_ema": count_params(net) * (2 if cfg.model.ema.enabled else 1),
        "hidden": cfg.model.hidden,
        "depth": cfg.model.depth,
        "heads": cfg.model.heads,
        "views": views,
        "num_frames": ds.num_frames,
        "video_size": list(ds.video_size),
        "tokens_per_sample": tokens,
        "ranks": ranks,
        "data_parallel_size": ranks // cp,
        "context_parallel_size": cp,
        "parallelism": f"dp {ranks // cp} x cp {cp}",
        "tokens_per_rank": tokens // cp,
        "train_flops_per_sample": flops_per_sample(
            cfg.model, views, ds.num_frames, list(ds.video_size), ds.max_text_len
        ),
        "memory_policy": memory_policy(cfg, count_params(net), ranks, measure),
    }


def memory_policy(cfg: Any, params: int, ranks: int, measure: bool = True) -> str:
    """The memory policy a launch would use: the configured one, or ``trainer.memory_budget``'s
    choice when this machine has a GPU to measure one block on and ``measure`` allows it (the
    launch measures its own)."""
    import torch
    from cosmos_engine import memory_budget
    from cosmos_engine.model import Block

    configured = memory_budget.Policy(
        cfg.trainer.activation_checkpointing_every if cfg.trainer.activation_checkpointing else 0,
        cfg.trainer.recompute,
    )
    if not cfg.trainer.memory_budget:
        return configured.label
    if not measure or not torch.cuda.is_available():
        why = "not measured: --no-measure" if not measure else "no GPU here"
        return (
            f"trainer.memory_budget={cfg.trainer.memory_budget}: chosen on the GPU at launch "
            f"({why}; on CPU the configured one stays: {configured.label})"
        )
    device = torch.device("cuda", torch.cuda.current_device())
    with torch.device(device):
        block = Block(cfg.model)
    choice = memory_budget.choose_for(cfg, block, params, device, ranks)
    assert choice is not None
    return f"{choice.policy.label} (trainer.memory_budget={cfg.trainer.memory_budget}: {choice.reason})"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    cut = args_in.index("--") if "--" in args_in else len(args_in)
    parser = argparse.ArgumentParser(prog="python -m cosmos_engine.info", description=__doc__)
    parser.add_argument("--list", action="store_true", help="list the experiment names")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--ranks",
        type=int,
        default=None,
        help="ranks to describe the parallelism for (default: parallel.context_parallel_size)",
    )
    parser.add_argument(
        "--no-measure",
        action="store_true",
        help="with trainer.memory_budget, do not measure a block on this machine's GPU",
    )
    args, extra = parser.parse_known_args(args_in[:cut])
    overrides = [*extra, *args_in[cut + 1 :]]
    if args.list:
        names = sorted(EXPERIMENTS)
        print(json.dumps(names) if args.json else "\n".join(names))
        return 0
    try:
        facts = describe(overrides, args.ranks, measure=not args.no_measure)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps(facts))
    else:
        for key, value in facts.items():
            print(f"{key}: {value:,}" if isinstance(value, int) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
