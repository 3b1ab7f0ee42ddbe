"""The samples job's process for an upstream engine: its adapter's
:meth:`~cosmos_tui.core.engines.base.EngineAdapter.inference_plan` carried out.

``python -m cosmos_tui.core.sampling.upstream --kind KIND --job JOB --iter N --prompts P.json
--out OUT --steps S --checkout REPO --python PY --experiment EXP [--data-root D] [--layout L]
[--overwrite]`` (what the upstream adapters' ``sample_argv`` renders; the supervisor runs it with
its output in the samples job's ``console.log``): converts the checkpoint when the plan says so,
writes the script's input files into ``OUT/inputs/``, runs each call (argv, no shell) from the
checkout, then draws each sample's contact sheet (``OUT/NNN_seedS.png``,
:mod:`~cosmos_tui.core.sampling.sheets`) and writes ``OUT/index.json`` in the builtin sampler's
schema (meta ``engine``, ``checkpoint``, ``steps``, ``started_at``; per sample ``prompt``, ``seed``,
``clip``, ``video`` relative to ``OUT``, ``contact_sheet``). Exit 0 when every sample's video is
there, 1 otherwise (one line saying what is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.containment import contained, write_contained
from cosmos_tui.core.engines.base import SampleArgs
from cosmos_tui.core.engines.conversion import ConvertRequest
from cosmos_tui.core.engines.inference import InferencePlan, SampleContext, sample_name
from cosmos_tui.core.engines.registry import get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.safeio import RECORD_CAP, read_text_capped
from cosmos_tui.core.sampling.prompts import SampleRequest
from cosmos_tui.core.sampling.sheets import write_contact_sheet

INDEX_FILE = "index.json"


def _requests(path: Path) -> tuple[SampleRequest, ...]:
    """The samples of the job's ``prompts.json`` (as :func:`~.prompts.requests_json` wrote them)."""
    data = json.loads(read_text_capped(path, RECORD_CAP, what="samples prompts"))
    return tuple(SampleRequest(d.get("prompt"), int(d["seed"]), d.get("clip")) for d in data)


def _convert(kind: str, job_dir: Path, iteration: int, context: SampleContext, overwrite: bool) -> None:
    """The adapter's conversion of checkpoint ``iteration`` for its inference."""
    adapter = get_adapter(kind)
    found = next((c for c in scan_checkpoints(job_dir / "checkpoints") if c.iteration == iteration), None)
    if found is None:
        raise UserError(f"{job_dir} has no checkpoint at iteration {iteration} any more")
    request = ConvertRequest(context.checkout, context.python, yes=overwrite)
    adapter.convert(found, request)


def _sheet(video: Path, png: Path, out: Path) -> str | None:
    """The contact sheet of ``video`` written to ``png`` (its name for the index), or ``None``
    with one line in the log saying why not (a sample without a sheet is still a sample)."""
    try:
        write_contact_sheet(video, png, out)
    except (ValueError, OSError, UserError) as e:  # UserError: a link planted at the sheet's name
        print(f"no contact sheet for {video.relative_to(out)}: {e}", flush=True)
        return None
    return png.name


def _index(plan: InferencePlan, requests: tuple[SampleRequest, ...], out: Path, meta: dict) -> list[str]:
    """Write each sample's contact sheet (``NNN_seedS.png``) and ``index.json`` in the builtin
    sampler's schema; returns the samples whose video the script did not write."""
    entries, missing = [], []
    for call in plan.calls:
        views = dict(call.views)
        for i, video in call.videos:
            req = requests[i]
            shown = views.get(i, video)
            if not shown.is_file():
                shown = video
            entry: dict[str, object] = {"prompt": req.prompt, "seed": req.seed, "clip": req.clip}
            if video.is_file():
                entry["video"] = str(shown.relative_to(out))
                entry["contact_sheet"] = _sheet(shown, out / f"{sample_name(i, req.seed)}.png", out)
                if shown != video:
                    entry["script_video"] = str(video.relative_to(out))
            else:
                missing.append(str(video.relative_to(out)))
                entry.update(video=None, contact_sheet=None)
            entries.append(entry)
    text = json.dumps({**meta, "samples": entries}, indent=2) + "\n"
    write_contained(out / INDEX_FILE, text, out, what="the samples folder")
    return missing


def run(args: argparse.Namespace) -> int:
    job_dir = Path(args.job)
    out = contained(args.out, job_dir, what="the job folder")
    if (out / INDEX_FILE).exists() and not args.overwrite:
        raise UserError(f"{out} already holds samples; pass --yes to replace them")
    context = SampleContext(
        checkout=Path(args.checkout),
        python=args.python,
        experiment=args.experiment,
        data_root=Path(args.data_root) if args.data_root else None,
        layout=args.layout,
    )
    requests = _requests(Path(args.prompts))
    request = SampleArgs(
        args.iter, Path(args.prompts), out, args.steps, None, args.overwrite, requests, context
    )
    adapter = get_adapter(args.kind)
    plan = adapter.inference_plan(job_dir, request)
    if plan is None:
        raise UserError(f"{args.kind} has no inference script cosmos-tui drives")
    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    out = contained(out, job_dir, what="the job folder")  # a link planted while making it
    if plan.convert is not None:
        print(f"$ {plan.convert.shell()}", flush=True)
        _convert(args.kind, job_dir, args.iter, context, args.overwrite)
    for call in plan.calls:
        for path, text in call.inputs:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_contained(path, text, out, what="the samples folder")
        print(f"$ {call.shell()}", flush=True)
        done = subprocess.run(
            list(call.argv), cwd=call.cwd, env={**os.environ, **call.env}, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            print(f"{call.argv[1]} exited {done.returncode}", flush=True)
            return done.returncode
    meta = {
        "engine": args.kind,
        "experiment": args.experiment,
        "checkpoint": {"kind": "iteration", "iteration": args.iter, "path": str(plan.weights)},
        "steps": args.steps,
        "commands": plan.shell().splitlines(),
        "started_at": started,
        "seconds": round(time.time() - started, 3),
    }
    missing = _index(plan, requests, out, meta)
    if missing:
        print(f"the inference script wrote no video for {len(missing)} sample(s): {', '.join(missing)}")
        return 1
    print(f"Wrote {len(requests)} sample(s): {out / INDEX_FILE}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cosmos_tui.core.sampling.upstream")
    p.add_argument("--kind", required=True)
    p.add_argument("--job", required=True)
    p.add_argument("--iter", type=int, required=True)
    p.add_argument("--prompts", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--checkout", required=True)
    p.add_argument("--python", required=True)
    p.add_argument("--experiment", required=True)
    p.add_argument("--data-root")
    p.add_argument("--layout")
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args(argv)
    try:
        return run(args)
    except UserError as e:
        print(f"Error: {e}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
