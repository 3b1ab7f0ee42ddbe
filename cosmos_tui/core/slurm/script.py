"""The sbatch script for a preset: one torchrun per node under ``srun``, rendezvous from Slurm.

Layout of the script: ``#SBATCH`` lines (job name, nodes, one task per node, GPUs per node,
partition, account, time, output file, ``--requeue``, ``--signal=TERM@N``, ``--export=ALL``),
then ``cd`` and the preset's environment, the rendezvous host (the first node of the allocation)
and port, and ``srun`` starting ``torchrun --nnodes $SLURM_NNODES --rdzv_backend c10d
--rdzv_endpoint $MASTER_ADDR:$MASTER_PORT --rdzv_id $SLURM_JOB_ID`` once per node.

Signals: ``--signal=TERM@N`` (no ``B:``) makes Slurm send SIGTERM to every task of every job
step N seconds before the time limit, that is to each node's torchrun agent, which passes it to
its ranks; the engine finishes its step, saves a checkpoint and exits. ``--requeue`` lets Slurm
restart the job after a node failure or preemption; the same job folder then resumes from the
latest complete checkpoint. Secrets never appear in the script: ``--export=ALL`` carries the
submitting shell's environment (HF_TOKEN, WANDB_API_KEY) to the job.

An engine that saves on a sentinel file rather than on SIGTERM (its adapter's ``stop_sentinel``;
Cosmos 3's ``TerminationSignalCheckpoint``, which only logs SIGTERM and whose SIGUSR1 never
reaches a Pyxis/Enroot container) gets the protocol its callback expects instead:
``--signal=B:SIGUSR1@N`` (to the batch shell only), the sentinel folder exported in the engine's
variable (``SLURM_LOG_DIR``, one folder per Slurm job so one segment's files never stop the
next), srun in the background so a trap can run, and the trap creating the request file
(``SIGUSR1_RECEIVED``). The engine saves at its next step end, writes the ``saved`` file
(``SIGUSR1_CHECKPOINT_SUCCEEDED``) and exits 0; only then, and only when no stop was asked for
(``cosmos-tui runs stop`` writes :data:`STOP_FILE` first), the script submits the next segment:
the same script with ``--dependency=afterany:$SLURM_JOB_ID``, which resumes the job folder from
its ``latest_checkpoint.txt``, and writes its job id to :data:`NEXT_JOB_FILE` in the run folder
so the run record follows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core import shell
from cosmos_tui.core.engines.base import StopSentinel, get_adapter, refuse_unsafe
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.presets import SECRET_NAME, Preset, managed_sbatch_reason

DEFAULT_OUTPUT = "%x-%j.out"
"""Slurm's output file pattern: job name and job id."""
SIGNAL_BEFORE_LIMIT_S = 300
"""Seconds before the time limit at which the engine is told to save and stop."""
PORT_BASE, PORT_SPAN = 20000, 20000
"""The rendezvous port is ``PORT_BASE + SLURM_JOB_ID % PORT_SPAN`` unless MASTER_PORT is set,
so two jobs sharing a node do not collide."""

NEXT_JOB_FILE = "slurm_next_job"
"""The dependent segment's job id, written by the script into the run folder."""
STOP_FILE = "COSMOS_TUI_STOP"
"""Written into the segment's sentinel folder by ``runs stop`` before the request file: the save
that follows ends the run instead of handing it to a next segment."""
MAX_SEGMENTS = 50
"""How many dependent segments one run may chain (a guard against a job that saves and is
signalled again at once, forever)."""

_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_FILE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_JOB_NAME = re.compile(r"[A-Za-z0-9._+-]{1,128}")


def time_limit_seconds(text: str) -> int:
    """Seconds in a Slurm ``--time`` value (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``,
    ``D-HH:MM``, ``D-HH:MM:SS``); UserError for anything else."""
    match = _TIME.match(text.strip())
    if not match or text.strip() in ("", "0"):
        raise UserError(
            f"launch.slurm.time {text!r} is not a Slurm time limit; use HH:MM:SS, MM, or D-HH:MM:SS"
        )
    days, a, b, c = match.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        h, m, s = int(a), int(b or 0), int(c or 0)
        return int(days) * 86400 + h * 3600 + m * 60 + s
    if c is not None:  # HH:MM:SS
        return int(a) * 3600 + int(b) * 60 + int(c)
    if b is not None:  # MM:SS
        return int(a) * 60 + int(b)
    return int(a) * 60  # MM


def signal_lead(time_text: str | None) -> int:
    """Seconds before the limit to signal: 300, or a tenth of a short limit (at least 60 s)."""
    if not time_text:
        return SIGNAL_BEFORE_LIMIT_S
    return max(60, min(SIGNAL_BEFORE_LIMIT_S, time_limit_seconds(time_text) // 10))


@dataclass(frozen=True)
class SbatchScript:
    """A rendered sbatch script and the facts it was rendered from."""

    text: str
    """The script."""
    job_name: str
    """``#SBATCH --job-name``."""
    nodes: int
    """``#SBATCH --nodes``."""
    gpus_per_node: int
    """``#SBATCH --gpus-per-node`` (0: no GPU request)."""
    output: str
    """``#SBATCH --output`` (a Slurm filename pattern)."""
    srun: str
    """The ``srun ... torchrun ...`` line, as it appears in the script."""
    warnings: tuple[str, ...] = ()
    """Engine warnings for this world size (shown before submitting)."""


def _job_name(preset: Preset) -> str:
    name = preset.launch.slurm.job_name or preset.experiment.name
    if not _JOB_NAME.fullmatch(name):
        raise UserError(
            f"Slurm job name {name!r} has characters Slurm output patterns mangle; "
            "set launch.slurm.job_name to letters, digits, '.', '_', '+' or '-'"
        )
    return name


def _srun_line(preset: Preset, python: str, module_args: list[str]) -> str:
    launch = preset.launch
    torchrun = [
        "--nnodes=$SLURM_NNODES",
        f"--nproc_per_node={launch.nproc_per_node}",
        "--rdzv_id=$SLURM_JOB_ID",
        "--rdzv_backend=c10d",
        "--rdzv_endpoint=$MASTER_ADDR:$MASTER_PORT",
    ]
    if launch.max_restarts:
        torchrun.append(f"--max_restarts={launch.max_restarts}")
    srun = 'srun --nodes="$SLURM_NNODES" --ntasks-per-node=1 --kill-on-bad-exit=1'
    parts = [srun, f"{shell.quote(python, 'engine.python')} -m torch.distributed.run"]
    # torchrun's options are ours; those naming Slurm's variables are expanded by the job's shell.
    parts.append(" ".join(f'"{opt}"' if "$" in opt else shell.quote(opt) for opt in torchrun))
    cut = module_args.index("--") if "--" in module_args else len(module_args)
    parts.append(shell.join(module_args[:cut]))
    parts += [shell.quote(a, "override") for a in module_args[cut:]]
    return " \\\n    ".join(p for p in parts if p)


def _sentinel_body(protocol: StopSentinel, srun: str, run_dir: Path | None) -> list[str]:
    """srun under the sentinel protocol (see the module doc): trap, background srun, wait, and the
    next segment when the engine saved on the signal."""
    var = shell.check_env_name(protocol.env_var, "the engine's sentinel variable")
    request, saved = protocol.request, protocol.saved
    if not all(_FILE_NAME.fullmatch(n) for n in (request, saved)):
        raise UserError(
            f"sentinel file names {request!r}, {saved!r} must be letters, digits, '.', '_' or '-'"
        )
    if run_dir is not None:
        root = shell.quote(str(run_dir / "slurm"), "the run folder")
    else:
        root = '"${SLURM_SUBMIT_DIR:-$PWD}/cosmos-tui-slurm"'
    lines = [
        f"# The engine polls ${var}/{request} at each step end, saves, writes {saved}, exits 0.",
        f'{var}={root}/"$SLURM_JOB_ID"',
        f'export {var}; mkdir -p "${var}"',
        f'trap \'echo "cosmos-tui: SIGUSR1 (time limit or preemption): asking the engine to save"; '
        f'touch "${var}/{request}"\' USR1',
        srun + " &",
        "srun_pid=$!",
        'wait "$srun_pid"; code=$?',
        'while kill -0 "$srun_pid" 2>/dev/null; do wait "$srun_pid"; code=$?; done',
        f'if [ -f "${var}/{saved}" ] && [ ! -e "${var}/{STOP_FILE}" ]; then',
        '    echo "cosmos-tui: the engine saved an emergency checkpoint"',
    ]
    if run_dir is None:
        lines.append('    echo "cosmos-tui: submit this script again to continue from latest_checkpoint.txt"')
    else:
        script = shell.quote(str(run_dir / "job.sbatch"), "the run folder")
        next_file = shell.quote(str(run_dir / NEXT_JOB_FILE), "the run folder")
        lines += [
            "    segment=$(( ${COSMOS_TUI_SEGMENT:-0} + 1 ))",
            f'    if [ "$segment" -le {MAX_SEGMENTS} ]; then',
            f'        next=$(COSMOS_TUI_SEGMENT="$segment" sbatch --parsable --export=ALL '
            f'--dependency="afterany:$SLURM_JOB_ID" {script})',
            f'        if [ -n "$next" ]; then echo "${{next%%;*}}" > {next_file}; fi',
            '        echo "cosmos-tui: segment $segment is job ${next:-(not submitted)}; '
            'it resumes from latest_checkpoint.txt"',
            "    else",
            f'        echo "cosmos-tui: {MAX_SEGMENTS} segments already; not chaining another"',
            "    fi",
        ]
    lines.append("fi")
    return lines


def _sbatch_head(
    preset: Preset, name: str, gpus: int | None, output: str, source: str | None, *, sentinel: bool
) -> list[str]:
    """The script's first lines: the shebang, what rendered it, and its ``#SBATCH`` options
    (the person's ``launch.slurm.extra`` last, refused where cosmos-tui manages the option)."""
    launch, slurm = preset.launch, preset.launch.slurm
    lead = signal_lead(slurm.time)
    what = source or "preset"
    comment = (
        f"# Rendered by cosmos-tui{f' from {source}' if source else ''}: {launch.nnodes} node(s) x "
        f"{launch.nproc_per_node} process(es), experiment {preset.experiment.name}."
    )
    head = [
        "#!/bin/bash",
        shell.check_text(comment, "the preset's path or experiment name"),
        "# Submit with: sbatch THIS_FILE   (secrets come from your environment: --export=ALL)",
        shell.sbatch_line("--job-name", name, what="launch.slurm.job_name"),
        shell.sbatch_line("--nodes", str(launch.nnodes)),
        shell.sbatch_line("--ntasks-per-node", "1"),
    ]
    if gpus:
        head.append(shell.sbatch_line("--gpus-per-node", str(gpus)))
    for option, value in (("partition", slurm.partition), ("account", slurm.account), ("time", slurm.time)):
        if value:
            head.append(shell.sbatch_line(f"--{option}", value, what=f"launch.slurm.{option}"))
    head += [
        shell.sbatch_line("--output", output, what="the job's output file"),
        shell.sbatch_line("--open-mode", "append"),
        shell.sbatch_line("--requeue"),
        shell.sbatch_line("--signal", f"B:SIGUSR1@{lead}" if sentinel else f"TERM@{lead}"),
        shell.sbatch_line("--export", "ALL"),
    ]
    for item in slurm.extra:
        option, value = shell.parse_sbatch_extra(item, f"{what}: launch.slurm.extra")
        managed = managed_sbatch_reason(option)
        if managed:
            raise UserError(f"{what}: launch.slurm.extra {item!r}: {managed}")
        head.append(shell.sbatch_line(option, value, what=f"launch.slurm.extra {item!r}"))
    return head


def render_sbatch(
    preset: Preset,
    *,
    output: str = DEFAULT_OUTPUT,
    exit_file: Path | None = None,
    source: str | None = None,
    run_dir: Path | None = None,
) -> SbatchScript:
    """The sbatch script that runs ``preset`` on ``launch.nnodes`` nodes of a Slurm cluster.

    ``output`` is the ``--output`` pattern (``run --target slurm`` points it at the run's
    console.log); ``exit_file``, when given, receives srun's exit status so the run record knows
    it even where Slurm keeps no accounting. ``source`` names the preset in a comment.
    ``run_dir`` (the run's folder, on a filesystem the nodes share) holds an engine's sentinel
    folders and lets the script chain dependent segments; without it (``preset render``) the
    sentinels go under the submit folder and no segment is chained.
    """
    adapter = get_adapter(preset.engine.kind)
    problems = adapter.problems(preset)
    if problems:
        raise UserError("; ".join(problems))
    refuse_unsafe(adapter.module_args(preset), adapter.env(preset))
    launch, slurm = preset.launch, preset.launch.slurm
    name = _job_name(preset)
    gpus = slurm.gpus_per_node if slurm.gpus_per_node is not None else launch.nproc_per_node
    head = _sbatch_head(preset, name, gpus, output, source, sentinel=adapter.stop_sentinel is not None)
    body = ["", "set -uo pipefail", f"cd {shell.quote(str(adapter.cwd(preset)), 'working folder')}"]
    for key, value in {**adapter.env(preset), "PYTHONUNBUFFERED": "1"}.items():
        if SECRET_NAME.search(key):
            continue  # secrets come from the submitting environment, never from the script
        body.append(shell.export(key, value))
    body += [
        "# The rendezvous host is the allocation's first node; the port is per job (MASTER_PORT wins).",
        'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)',
        f"MASTER_PORT=${{MASTER_PORT:-$(({PORT_BASE} + SLURM_JOB_ID % {PORT_SPAN}))}}",
        "export MASTER_ADDR MASTER_PORT",
        'echo "cosmos-tui: Slurm job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on '
        '$SLURM_NNODES node(s) $SLURM_JOB_NODELIST; rendezvous $MASTER_ADDR:$MASTER_PORT"',
    ]
    srun = _srun_line(preset, adapter.python(preset), adapter.module_args(preset))
    if adapter.stop_sentinel is None:
        body += [srun, "code=$?"]
    else:
        body += _sentinel_body(adapter.stop_sentinel, srun, run_dir)
    if exit_file is not None:
        body.append(f'echo "$code" > {shell.quote(str(exit_file), "the exit-code file")}')
    body += ['echo "cosmos-tui: srun exited $code"', 'exit "$code"', ""]
    return SbatchScript(
        text="\n".join(head + body),
        job_name=name,
        nodes=launch.nnodes,
        gpus_per_node=gpus,
        output=output,
        srun=srun,
        warnings=tuple(adapter.warnings(preset)),
    )
