"""Measure a builtin preset's reference: its loss curve, held-out loss and seconds per iteration.

Runs the preset for real through ``cosmos-tui run`` (a private state root and output root, a
synthetic dataset of the preset's layout unless ``--data`` is given), reads the job's
``metrics.jsonl`` and writes ``presets/reference/<preset>.json`` (:mod:`cosmos_tui.core.reference`):
the device as the engine names it, the processor, ranks, torch version, date and this command.
A measurement replaces the one of the same device and rank count, and the pending slot of that
device. ``--pending DEVICE`` only records that DEVICE is not measured yet, with the command that
would measure it (the 2B presets on an H200)::

    .venv/bin/python tests/benchmarks/measure_reference.py builtin-tiny-cpu
    .venv/bin/python tests/benchmarks/measure_reference.py builtin-s2mv-2b-8gpu --data /data/waymo \\
        --set trainer.max_iter=200
    .venv/bin/python tests/benchmarks/measure_reference.py builtin-s2mv-2b-8gpu --pending "NVIDIA H200"
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from cosmos_tui.core import reference
from cosmos_tui.core.datasets.synth import synthesize
from cosmos_tui.core.presets import load_preset, resolve_preset

COSMOS_TUI = str(Path(sys.executable).with_name("cosmos-tui"))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical cores)"
    except OSError:
        pass
    return f"{os.cpu_count()} logical cores"


def curve(points: list[tuple[int, float]], n: int) -> tuple[tuple[int, float], ...]:
    """``points`` averaged in ``n`` consecutive buckets, each placed at its last iteration."""
    if len(points) <= n:
        return tuple(points)
    out = []
    for b in range(n):
        bucket = points[b * len(points) // n : (b + 1) * len(points) // n]
        out.append((bucket[-1][0], statistics.fmean(y for _, y in bucket)))
    return tuple(out)


def measurement(
    records: list[dict], command: str, points: int, torch_version: str | None = None
) -> reference.Measurement:
    """What a finished run's ``metrics.jsonl`` records say, start-up (the first record) left out."""
    import torch

    train = [r for r in records if isinstance(r.get("sec_per_iter"), int | float)]
    if len(train) < 3:
        raise SystemExit(f"error: the run logged {len(train)} metrics lines; it needs at least 3.")
    device = str(train[-1].get("device") or "unknown")
    return reference.Measurement(
        device=device,
        world_size=int(train[-1].get("world_size") or 1),
        sec_per_iter=statistics.median(r["sec_per_iter"] for r in train[1:]),
        loss=curve([(r["iteration"], r["loss"]) for r in train], points),
        val_loss=tuple((r["iteration"], r["val_loss"]) for r in records if "val_loss" in r),
        device_detail=_cpu_model() if device == "cpu" else device,
        torch=torch_version or torch.__version__,
        date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        command=command,
    )


def run_preset(preset_path: Path, data: Path | None, sets: list[str], work: Path) -> list[dict]:
    """Run the preset to its end with ``cosmos-tui run``; the job's metrics records."""
    if data is None:
        layout = load_preset(preset_path).data.layout
        data = synthesize(work / "data", layout, clips=6, frames=24)
    out = work / "out"
    argv = [
        COSMOS_TUI,
        "run",
        str(preset_path),
        "--set",
        f"data.root={data}",
        "--set",
        f"env.output_root={out}",
    ]
    for s in sets:
        argv += ["--set", s]
    env = {**os.environ, "COSMOS_TUI_HOME": str(work / "state")}
    print("$", shlex.join(argv), file=sys.stderr, flush=True)
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SystemExit(
            f"error: the run failed with exit code {done.returncode}; its record and log are under {work}."
        )
    (jsonl,) = out.rglob("metrics.jsonl")
    return [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]


def merge(
    old: reference.References | None,
    preset: str,
    m: reference.Measurement | None,
    pending: reference.Pending | None,
) -> reference.References:
    """``old`` with ``m`` replacing its measurement of the same device and ranks (and that
    device's pending slot), or with ``pending`` added."""
    measurements = list(old.measurements) if old else []
    slots = list(old.pending) if old else []
    if m is not None:
        measurements = [x for x in measurements if (x.device, x.world_size) != (m.device, m.world_size)]
        measurements.append(m)
        slots = [p for p in slots if p.device != m.device]
    if pending is not None:
        slots = [p for p in slots if p.device != pending.device] + [pending]
    return reference.References(preset, tuple(measurements), tuple(slots))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", help="a builtin preset name or .toml path")
    parser.add_argument(
        "--data", type=Path, help="dataset root (default: a synthetic one of the preset's layout)"
    )
    parser.add_argument("--set", action="append", default=[], help="a `cosmos-tui run --set` (repeatable)")
    parser.add_argument("--points", type=int, default=8, help="points on the loss curve")
    parser.add_argument("--pending", metavar="DEVICE", help="record DEVICE as not measured yet; run nothing")
    parser.add_argument("--out", type=Path, help="reference file (default: presets/reference/<preset>.json)")
    parser.add_argument(
        "--metrics",
        type=Path,
        help="read a run made elsewhere (a GPU machine without cosmos-tui): its metrics.jsonl",
    )
    parser.add_argument("--command", help="with --metrics: the command that made that run")
    parser.add_argument("--torch", help="with --metrics: that machine's torch version")
    args = parser.parse_args(argv)
    preset_path = resolve_preset(args.preset)
    if load_preset(preset_path).engine.kind != "builtin":
        raise SystemExit(
            f"error: {preset_path} is not a builtin-engine preset; references are the builtin's."
        )
    path = args.out or reference.reference_path(preset_path)
    old = reference.load(preset_path) if args.out is None else None
    if args.out is not None and args.out.is_file():
        old = reference.parse(json.loads(args.out.read_text()))
    script = "tests/benchmarks/measure_reference.py"
    if args.pending:
        short = args.pending.removeprefix("NVIDIA ")
        command = f".venv/bin/python {script} {preset_path.stem} --data DATASET_ROOT"
        result = merge(
            old,
            preset_path.stem,
            None,
            reference.Pending(args.pending, f"not measured yet on {short}", command),
        )
    else:
        if args.metrics is not None:
            if not args.command:
                raise SystemExit("error: --metrics needs --command (what made that run, for the record).")
            lines = args.metrics.read_text().splitlines()
            records = [json.loads(line) for line in lines if line.strip()]
            m = measurement(records, args.command, args.points, args.torch)
        else:
            command = shlex.join([".venv/bin/python", script, *(sys.argv[1:] if argv is None else argv)])
            work = Path(tempfile.mkdtemp(prefix="cosmos-ref-"))
            records = run_preset(preset_path, args.data, args.set, work)  # a failed run's files stay
            shutil.rmtree(work)
            m = measurement(records, command, args.points)
        result = merge(old, preset_path.stem, m, None)
        ranks = load_preset(preset_path).launch.nproc_per_node * load_preset(preset_path).launch.nnodes
        if m.world_size != ranks and m.device != "cpu":  # the preset's own shape is still to measure
            short = m.device.removeprefix("NVIDIA ")
            note = f"not measured yet on {ranks}x {short} (measured: {m.world_size})"
            todo = f".venv/bin/python {script} {preset_path.stem} --data DATASET_ROOT"
            result = merge(result, preset_path.stem, None, reference.Pending(m.device, note, todo))
        print(
            f"{preset_path.stem}: {m.sec_per_iter:.4f} s/iter on {m.device} ({m.device_detail}), "
            f"{m.world_size} ranks, torch {m.torch}"
        )
        print("loss:", ", ".join(f"{i}: {v:.4f}" for i, v in m.loss))
        if m.val_loss:
            print("val_loss:", ", ".join(f"{i}: {v:.4f}" for i, v in m.val_loss))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(f".{path.name}.tmp")
    tmp_path.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    tmp_path.replace(path)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
