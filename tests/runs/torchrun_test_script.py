"""A worker script for real torchrun runs in the runs tests (a test double for the engine,
named as one). Each rank prints numbered steps, and:

- ``--steps N``: steps before exiting 0 (``--step-s`` seconds each);
- ``--fail-rank R --code C``: rank R exits with code C after its first step;
- on SIGTERM it writes ``<out>/saved_rank<R>.txt`` with the step reached and exits 0, like the
  engine's "finish the step, save, exit";
- ``--ignore-term``: SIGTERM is ignored (to test the SIGKILL escalation);
- ``--linger S``: after the last step it says "Done with training." as the trainer does, then
  shuts down for S seconds, during which SIGTERM kills it (exit by signal, as a rank tearing down);
- it exits when torchrun's agent disappears (its parent changes), so orphans do not linger.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--step-s", type=float, default=0.05)
    p.add_argument("--fail-rank", type=int, default=-1)
    p.add_argument("--code", type=int, default=3)
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--out", default=".")
    p.add_argument("--linger", type=float, default=0.0)
    args = p.parse_args()
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    parent = os.getppid()
    state = {"step": 0}

    def on_term(signum: int, frame: object) -> None:
        Path(args.out, f"saved_rank{rank}.txt").write_text(str(state["step"]))
        print(f"rank {rank}: SIGTERM at step {state['step']}, saved, exiting", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, signal.SIG_IGN if args.ignore_term else on_term)
    print(f"rank {rank}/{world} pid {os.getpid()} starting", flush=True)
    for step in range(1, args.steps + 1):
        state["step"] = step
        time.sleep(args.step_s)
        print(f"rank {rank}: Iteration {step}: Hit counter: {step}/{args.steps} | Loss: 0.5000", flush=True)
        if rank == args.fail_rank:
            print(f"rank {rank}: failing with code {args.code}", flush=True)
            return args.code
        if os.getppid() != parent:
            print(f"rank {rank}: torchrun agent is gone, exiting", flush=True)
            return 4
    print(f"rank {rank}: done", flush=True)
    if args.linger:
        print(f"rank {rank}: Done with training.", flush=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        time.sleep(args.linger)
    return 0


if __name__ == "__main__":
    sys.exit(main())
