"""ReplayEngine: a test double for the upstream training entry points.

It stands where ``scripts/train.py`` (Transfer2.5 / Predict2.5) or
``cosmos_predict1/diffusion/training/train.py`` (Predict1) would be in a checkout, runs under a
real ``torchrun`` (gloo process group on CPU), and behaves as upstream does at its edges:

- argv: ``--config`` (required), ``--dryrun``, then the overrides, which must start with ``--``
  (upstream raises ``ValueError('Hydra config overrides must be separated with a "--" token.')``);
  ``job.wandb_mode`` is refused for Predict1 the way its attrs config rebuild refuses it;
- ``--dryrun`` writes ``${job.path_local}/config.yaml`` and prints its path;
- rank 0 prints the upstream loguru lines with the exact IterSpeed format strings (hit phase,
  then ``every_n`` speed lines with the first call only priming the timer), DeviceMonitor tables,
  trainer start/end lines; every rank prints ``Unstable loss`` on a NaN;
- checkpoints in the upstream layouts: DCP ``iter_%09d/{model,optim,scheduler,trainer}`` written
  with ``torch.distributed.checkpoint`` (model keys ``net.*`` and ``net_ema.*``), then
  ``Saving last checkpoint file iter_...`` and ``latest_checkpoint.txt``; Predict1 ``iter_%09d.pt``,
  ``_reg_model.pt``, ``_ema_model.pt``, ``_optim.pt`` and ``latest_checkpoint.txt`` = ``iter_%09d.pt``;
- resumes from ``latest_checkpoint.txt`` in its own job folder;
- its experiments hold their dataset more than once, as the composed upstream configs do
  (:data:`DATA`): the sampler's copy and, where upstream has one, the validation loader's and its
  sampler's, each with its own default ``dataset_dir``. ``KEY=${NODE}`` makes ``KEY`` that node
  (resolved after every override, as OmegaConf resolves when read). Training "instantiates" every
  copy: rank 0 prints ``Dataset NODE: FOLDER`` for each, and a missing folder raises upstream's
  ``FileNotFoundError('Dataset directory ... does not exist!')``;
- like ``cosmos_oss``, it starts its (gloo) process group before composing when ``RANK`` is set
  (under torchrun); for the Transfer2.5 experiments (``dataloader_local``) the sampler exists only
  then, and overriding a key under a node that does not exist raises
  ``ConfigCompositionException: Could not override 'KEY'.``

Knobs for tests (extra overrides the real configs do not have): ``replay.sleep`` (seconds per
iteration), ``replay.hit_thres``, ``replay.every_n``, ``replay.nan_at`` (iteration whose loss is
NaN), ``replay.kill_at`` (rank 0 SIGKILLs itself there: host-OOM style exit -9).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import signal
import sys
import time
from pathlib import Path


def emit(line: str) -> None:
    """One line in one ``write`` (as loguru does): ranks share the pipe, and under
    ``PYTHONUNBUFFERED`` ``print`` writes the text and its newline separately, so two ranks' lines
    could merge into one."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


KINDS: dict[str, dict[str, object]] = {
    "cosmos-transfer2.5": {
        "src": "cosmos_transfer2/_src",
        "root_var": "IMAGINAIRE_OUTPUT_ROOT",
        "default_root": "/tmp/imaginaire4-output",
        "layout": "dcp",
    },
    "cosmos-predict2.5": {
        "src": "cosmos_predict2/_src",
        "root_var": "IMAGINAIRE_OUTPUT_ROOT",
        "default_root": "/tmp/imaginaire4-output",
        "layout": "dcp",
    },
    "cosmos-predict1": {
        "src": "cosmos_predict1",
        "root_var": "OUTPUT_ROOT",
        "default_root": "checkpoints",
        "layout": "pt",
    },
}

#: experiment -> job (project, group, name), as the upstream experiment files set them
#: (the replay's own copy: it stands in for upstream's configs).
JOBS: dict[str, tuple[str, str, str]] = {
    "transfer2_singleview_posttrain_edge_example": (
        "cosmos_transfer2_posttrain",
        "local_single_view",
        "transfer2_singleview_posttrain_edge_example",
    ),
    "transfer2_auto_multiview_post_train_example": (
        "cosmos_transfer_v2p5",
        "auto_multiview",
        "2b_cosmos_multiview_post_train_example",
    ),
    "predict2_video2world_training_2b_cosmos_nemo_assets": (
        "cosmos_predict_v2p5",
        "video2world",
        "2b_cosmos_nemo_assets",
    ),
    "predict2_lora_training_2b_cosmos_nemo_assets_json": (
        "cosmos_predict_v2p5",
        "lora",
        "2b_cosmos_nemo_assets_json_lora",
    ),
    "text2world_singletomultiview_7b_example_waymo": (
        "posttraining",
        "diffusion_text2world",
        "text2world_singletomultiview_7b_example_waymo",
    ),
}

_LORA_JSON = "datasets/cosmos_nemo_assets_json"
#: experiment -> (dataset node -> its default ``dataset_dir``, whether its samplers exist only in a
#: distributed job): the replay's own stand-in for the upstream experiments' data configs.
DATA: dict[str, tuple[dict[str, str], bool]] = {
    "transfer2_singleview_posttrain_edge_example": (
        dict.fromkeys(
            ("dataloader_train.dataset", "dataloader_train.sampler.dataset"),
            "PLACEHOLDER_UPDATE_DATASET_PATH",
        ),
        True,
    ),
    "transfer2_auto_multiview_post_train_example": (
        dict.fromkeys(
            ("dataloader_train.dataset", "dataloader_train.sampler.dataset"),
            "assets/multiview_hdmap_posttrain_dataset",
        ),
        True,
    ),
    "predict2_video2world_training_2b_cosmos_nemo_assets": (
        dict.fromkeys(
            ("dataloader_train.dataset", "dataloader_train.sampler.dataset"), "datasets/cosmos_nemo_assets"
        ),
        False,
    ),
    "predict2_lora_training_2b_cosmos_nemo_assets_json": (
        {
            "dataloader_train.dataset": f"{_LORA_JSON}/train",
            "dataloader_train.sampler.dataset": f"{_LORA_JSON}/train",
            "dataloader_val.dataset": f"{_LORA_JSON}/validation",
            "dataloader_val.sampler.dataset": f"{_LORA_JSON}/validation",
        },
        False,
    ),
    "text2world_singletomultiview_7b_example_waymo": (
        dict.fromkeys(
            (
                "dataloader_train.dataset",
                "dataloader_train.sampler.dataset",
                "dataloader_val.dataset",
                "dataloader_val.sampler.dataset",
            ),
            "cosmos-av-sample-toolkits/waymo",
        ),
        False,
    ),
}


class ConfigCompositionException(Exception):
    """What Hydra raises for an override of a key the composed config does not have."""


DEVICE_ROWS = (
    "cpu_mem_gb",
    "peak_gpu_mem_gb",
    "peak_gpu_mem_reserved_gb",
    "nvml_used_gpu_mem_gb",
    "nvml_free_gpu_mem_gb",
    "temp",
    "power",
    "util",
    "clock",
)


class Replay:
    """One process of the replayed job."""

    def __init__(self, kind: str, config: dict[str, str], rank: int, world: int) -> None:
        self.kind, self.cfg, self.rank, self.world = kind, config, rank, world
        self.spec = KINDS[kind]
        root = os.environ.get(str(self.spec["root_var"])) or str(self.spec["default_root"])
        self.job_dir = Path(root) / config["job.project"] / config["job.group"] / config["job.name"]
        self.ckpt_dir = self.job_dir / "checkpoints"

    # -- printing ---------------------------------------------------------------------------

    def log(
        self, level: str, path: str, line: int, func: str, message: str, *, all_ranks: bool = False
    ) -> None:
        if self.rank != 0 and not all_ranks:
            return
        if all_ranks:
            message = f"[RANK {self.rank}] {message}"
        stamp = time.strftime("%m-%d %H:%M:%S")
        emit(f"[{stamp}|{level}|{self.spec['src']}/{path}:{line}:{func}] {message}")

    def iter_speed_path(self) -> str:
        return (
            "diffusion/training/callbacks/iter_speed.py"
            if self.kind == "cosmos-predict1"
            else ("predict2/callbacks/iter_speed.py")
        )

    def device_monitor(self) -> None:
        rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        self.log(
            "INFO", "imaginaire/callbacks/device_monitor.py", 152, "every_n_impl", "DeviceMonitor Stats:"
        )
        if self.rank == 0:
            emit(f"{'':26}{'Avg':>9}{'Max':>9}{'Min':>9}")
            for row in DEVICE_ROWS:
                value = rss_gb if row == "cpu_mem_gb" else 0.0
                emit(f"{row:26}{value:9.2f}{value:9.2f}{value:9.2f}")

    # -- checkpoints ------------------------------------------------------------------------

    def state(self, iteration: int):
        import torch

        g = torch.Generator().manual_seed(iteration)
        w = torch.randn(8, 4, generator=g)
        model = {"net.w": w, "net.b": torch.zeros(4), "net_ema.w": w * 0.5, "net_ema.b": torch.ones(4)}
        optim = {"state.net.w.exp_avg": torch.zeros(8, 4), "param_groups.lr": torch.tensor(1e-4)}
        return model, optim

    def save(self, iteration: int) -> None:
        import torch

        name = f"iter_{iteration:09}"
        model, optim = self.state(iteration)
        if self.spec["layout"] == "dcp":
            import torch.distributed.checkpoint as dcp

            parts = {
                "model": model,
                "optim": optim,
                "scheduler": {"last_epoch": iteration},
                "trainer": {"grad_scaler": {}, "iteration": iteration},
            }
            for part, state in parts.items():
                dcp.save(state, checkpoint_id=str(self.ckpt_dir / name / part))
            if self.world > 1:
                torch.distributed.barrier()
            if self.rank == 0:
                emit(f"Saving last checkpoint file {name}")
                self._pointer(f"{name}\n")
            return
        if self.rank == 0:
            self.log(
                "INFO",
                "utils/fsdp_checkpointer.py",
                240,
                "_save_worker",
                "checkpoint saving from an async thread",
            )
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
            reg = {k: v for k, v in model.items() if k.startswith("net.")}
            ema = {k.replace("net_ema.", "net."): v for k, v in model.items() if k.startswith("net_ema.")}
            torch.save(reg, self.ckpt_dir / f"{name}_reg_model.pt")
            torch.save(ema, self.ckpt_dir / f"{name}_ema_model.pt")
            torch.save(
                {"optimizer": optim, "scheduler": {"last_epoch": iteration}},
                self.ckpt_dir / f"{name}_optim.pt",
            )
            torch.save({"iteration": iteration}, self.ckpt_dir / f"{name}.pt")
            self._pointer(f"{name}.pt\n")
            self.log(
                "SUCCESS",
                "utils/fsdp_checkpointer.py",
                265,
                "_save_worker",
                f"Saved checkpoint (local): {self.ckpt_dir / f'{name}.pt'}",
            )
        if self.world > 1:
            torch.distributed.barrier()

    def _pointer(self, text: str) -> None:
        tmp = self.ckpt_dir / ".latest_checkpoint.txt.tmp"
        tmp.write_text(text)
        tmp.replace(self.ckpt_dir / "latest_checkpoint.txt")

    def start_iteration(self) -> int:
        pointer = self.ckpt_dir / "latest_checkpoint.txt"
        if not pointer.is_file():
            return 0
        text = pointer.read_text().strip()
        if self.kind == "cosmos-predict1":
            self.log(
                "INFO",
                "utils/fsdp_checkpointer.py",
                130,
                "load",
                f"[Checkpoint] Found latest checkpoint file: {text}",
            )
        return int(text.removeprefix("iter_").removesuffix(".pt"))

    # -- training ---------------------------------------------------------------------------

    def train(self) -> None:
        cfg = self.cfg
        max_iter, save_iter = int(cfg["trainer.max_iter"]), int(cfg["checkpoint.save_iter"])
        logging_iter = int(cfg["trainer.logging_iter"])
        hit_thres, every_n = int(cfg["replay.hit_thres"]), int(cfg["replay.every_n"])
        sleep, nan_at = float(cfg["replay.sleep"]), int(cfg["replay.nan_at"])
        kill_at = int(cfg["replay.kill_at"])
        self.log("CRITICAL", "imaginaire/trainer.py", 229, "train", "Distributed parallelism mode: ddp")
        self.log("INFO", "imaginaire/trainer.py", 238, "train", "Starting training...")
        start = self.start_iteration()
        hit, last_hit, speed_t0 = 0, time.time(), None
        for iteration in range(start + 1, max_iter + 1):
            time.sleep(sleep)
            loss = math.nan if iteration == nan_at else 0.25 / math.sqrt(iteration) - 0.01 * (iteration % 3)
            if iteration == kill_at and self.rank == 0:
                os.kill(os.getpid(), signal.SIGKILL)
            if not math.isfinite(loss):
                self.log(
                    "CRITICAL",
                    "predict2/callbacks/wandb_log.py",
                    91,
                    "on_training_step_end",
                    f"Unstable loss {loss} at iteration {iteration} with is_image_batch: False",
                    all_ranks=True,
                )
            if hit < hit_thres:
                now = time.time()
                self.log(
                    "INFO",
                    self.iter_speed_path(),
                    57,
                    "on_training_step_end",
                    f"Iteration {iteration}: Hit counter: {hit + 1}/{hit_thres} | Loss: {loss:.4f} | "
                    f"Time: {now - last_hit:.2f}s",
                )
                hit, last_hit = hit + 1, now
            elif iteration % every_n == 0:
                now = time.time()
                if speed_t0 is not None:
                    self.log(
                        "INFO",
                        self.iter_speed_path(),
                        86,
                        "every_n_impl",
                        f"{iteration} : iter_speed {(now - speed_t0) / every_n:.2f} seconds per iteration | "
                        f"Loss: {loss:.4f}",
                    )
                speed_t0 = now
            if iteration % logging_iter == 0 and self.kind != "cosmos-predict1":
                self.device_monitor()
            if iteration % save_iter == 0 or iteration == max_iter:
                self.save(iteration)
        self.log("SUCCESS", "imaginaire/trainer.py", 318, "train", "Done with training.")


DEFAULTS = {
    "trainer.max_iter": "10",
    "trainer.logging_iter": "5",
    "checkpoint.save_iter": "5",
    "replay.sleep": "0.01",
    "replay.hit_thres": "3",
    "replay.every_n": "2",
    "replay.nan_at": "0",
    "replay.kill_at": "0",
}


def compose(kind: str, opts: list[str], *, distributed: bool = False) -> dict[str, str]:
    """The overrides applied over the experiment's defaults, as Hydra would (last one wins)."""
    if not opts or opts[0] != "--":
        raise ValueError('Hydra config overrides must be separated with a "--" token.')
    cfg = dict(DEFAULTS)
    items = [item.lstrip("+").partition("=") for item in opts[1:]]
    for key, _, value in items:
        if key == "experiment":
            cfg[key] = value
    experiment = cfg.get("experiment", "")
    if experiment not in JOBS:
        raise KeyError(f"Could not find 'experiment/{experiment}'")
    nodes, sampler_needs_dist = DATA.get(experiment, ({}, False))
    for node, folder in nodes.items():
        if distributed or not sampler_needs_dist or ".sampler." not in node:
            cfg[f"{node}.dataset_dir"] = folder
    refs: dict[str, str] = {}
    for key, _, value in items:
        if key == "job.wandb_mode" and kind == "cosmos-predict1":
            raise AssertionError("Fields mismatch: JobConfig. Extra keys found: {'wandb_mode'}")
        if key.startswith("dataloader_") and not any(k == key or k.startswith(key + ".") for k in cfg):
            raise ConfigCompositionException(f"Could not override '{key}'.")
        if value.startswith("${") and value.endswith("}"):
            refs[key] = value[2:-1]
        else:
            cfg[key] = value
    for key, node in refs.items():  # OmegaConf resolves ${node} when the config is read
        copied = {key + k[len(node) :]: v for k, v in cfg.items() if k.startswith(node + ".")}
        cfg = {k: v for k, v in cfg.items() if not k.startswith(key + ".")} | copied
    project, group, name = JOBS[experiment]
    cfg.setdefault("job.project", project)
    cfg.setdefault("job.group", group)
    cfg.setdefault("job.name", name)
    return cfg


def load_datasets(cfg: dict[str, str], rank: int) -> None:
    """Build every dataset copy the config holds, as instantiating the dataloaders does upstream:
    each folder must exist (relative to the folder the job runs in)."""
    for key in sorted(k for k in cfg if k.endswith(".dataset_dir")):
        folder = cfg[key]
        if rank == 0:
            emit(f"Dataset {key.removesuffix('.dataset_dir')}: {folder}")
        if not Path(folder).is_dir():
            raise FileNotFoundError(f"Dataset directory {folder} does not exist!")


def main(kind: str, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="ReplayEngine (test double of an upstream train.py)")
    parser.add_argument("--config", required=True)
    parser.add_argument("--dryrun", action="store_true")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    distributed = "RANK" in os.environ  # cosmos_oss.init.enable_distributed
    if distributed:
        import torch.distributed as dist

        dist.init_process_group("gloo")
    try:
        cfg = compose(kind, args.opts, distributed=distributed)
        replay = Replay(kind, cfg, rank, world)
        if args.dryrun:
            dryrun(replay, cfg)
            return
        load_datasets(cfg, rank)
        replay.train()
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()


def dryrun(replay: Replay, cfg: dict[str, str]) -> None:
    """Write ``<job dir>/config.yaml`` (the composed config, nested) and print its path."""
    import yaml

    replay.job_dir.mkdir(parents=True, exist_ok=True)
    nested: dict = {}
    for key, value in cfg.items():
        node = nested
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    (replay.job_dir / "config.yaml").write_text(yaml.safe_dump(nested))
    emit(f"Config saved to {replay.job_dir / 'config.yaml'}")
