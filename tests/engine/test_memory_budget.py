"""trainer.memory_budget: the chooser's ranking and fit test, the budget's parsing, the CPU path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cosmos_engine import memory_budget as mb
from cosmos_engine.compose import compose_config
from cosmos_engine.errors import ConfigError
from cosmos_engine.model import block_flops
from engine_runs import TINY, engine_env, python_cmd, run

# kept bytes per token per block of a 2B-wide block (hidden 2048): made-up but ordered as measured
KEPT = mb.Measured(
    {"": 90_000.0, "gelu": 75_000.0, "elementwise": 45_000.0, "attention": 9_000.0, "whole": 4_500.0}
)
GB = 1e9


def _choose(tokens: int, budget_gb: float, state_gb: float = 40.0) -> mb.Choice:
    cfg = compose_config(["experiment=s2mv_text2world_2b"])
    flops = block_flops(cfg.model, tokens, 512)
    return mb.choose(28, tokens, state_gb * GB, KEPT, budget_gb * GB, flops)


def test_nothing_is_recomputed_when_everything_fits() -> None:
    choice = _choose(8192, 139)
    assert choice.fits and choice.policy == mb.Policy(0, "") and choice.cost == 0


def test_the_cheapest_policy_that_fits_wins_and_says_why() -> None:
    # 65,536 tokens: keeping everything needs 40 + 65536 * (28 * 90 kB + 90 kB) = 211 GB
    choice = _choose(65536, 139)
    assert choice.fits
    assert choice.peak_gb <= 139 * mb.HEADROOM
    assert "predicted peak" in choice.reason and "would need" in choice.reason
    ranked = sorted(
        mb.candidates(),
        key=lambda p: mb.cost(
            p, 28, block_flops(compose_config(["experiment=s2mv_text2world_2b"]).model, 65536, 512)
        ),
    )
    cheaper = ranked[: ranked.index(choice.policy)]
    assert cheaper and all(
        mb.peak_bytes(p, 28, 65536, 40 * GB, KEPT) > 139 * GB * mb.HEADROOM for p in cheaper
    )


def test_long_sequences_prefer_keeping_attention_over_whole_blocks() -> None:
    """At 65,536 tokens the self-attention is most of the FLOPs: recomputing the rest is cheaper
    than recomputing a quarter of the blocks whole."""
    flops = block_flops(compose_config(["experiment=s2mv_text2world_2b"]).model, 65536, 512)
    assert mb.cost(mb.Policy(0, "attention"), 28, flops) < mb.cost(mb.Policy(4, "elementwise"), 28, flops)
    short = block_flops(compose_config(["experiment=s2mv_text2world_2b"]).model, 4096, 512)
    assert mb.cost(mb.Policy(0, "attention"), 28, short) > mb.cost(mb.Policy(4, "elementwise"), 28, short)


def test_nothing_fits_says_what_to_do() -> None:
    choice = _choose(1_000_000, 80)
    assert not choice.fits
    assert choice.policy == mb.Policy(1, "")
    assert "context_parallel_size" in choice.reason and "more GPUs" in choice.reason


@pytest.mark.parametrize("value", ["x", "-1", "0", "nan", "inf"])
def test_a_bad_budget_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match=r"trainer\.memory_budget must be"):
        compose_config(["experiment=s2mv_text2world_tiny", f"trainer.memory_budget={value}"])


def test_budget_values() -> None:
    assert mb.parse_budget("auto") is None
    assert mb.parse_budget("70") == 70 * GB
    assert mb.parse_budget("70GB") == 70 * GB


def test_policy_labels_and_overrides() -> None:
    assert mb.Policy(0, "").label == "nothing recomputed"
    assert mb.Policy(1, "").label == "every block whole"
    assert mb.Policy(4, "attention").label == "one block in 4 whole, recompute=attention in the others"
    assert mb.Policy(4, "attention").overrides() == [
        "trainer.activation_checkpointing=true",
        "trainer.activation_checkpointing_every=4",
        "trainer.recompute=attention",
    ]
    assert mb.whole_blocks(28, 4) == 7 and mb.whole_blocks(28, 0) == 0


def test_on_cpu_the_configured_policy_stays(waymo_data: Path, tmp_path: Path) -> None:
    """A real (tiny, CPU) training run with memory_budget=auto logs that there is no device memory
    to budget and trains with the configured policy; info says the choice is made on the GPU."""
    overrides = [
        *TINY,
        f"dataloader_train.dataset.dataset_dir={waymo_data}",
        "trainer.max_iter=2",
        "checkpoint.save_iter=100",
        "trainer.memory_budget=auto",
        "trainer.recompute=gelu",
    ]
    done = run(python_cmd(overrides), engine_env(tmp_path), timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    logged = done.stdout + done.stderr
    assert "trainer.memory_budget=auto has no device memory to budget on cpu" in logged, logged[-2000:]
    info = [sys.executable, "-m", "cosmos_engine.info", "--json", "--", *overrides]
    facts = json.loads(subprocess.run(info, capture_output=True, text=True, check=True).stdout)
    assert "chosen on the GPU at launch" in facts["memory_policy"]
    assert "recompute=gelu" in facts["memory_policy"]
    quiet = subprocess.run([*info[:3], "--no-measure", *info[3:]], capture_output=True, text=True, check=True)
    assert "not measured: --no-measure" in json.loads(quiet.stdout)["memory_policy"]


def test_a_gpu_choice_reaches_every_rank_the_log_and_config_yaml(waymo_data: Path, tmp_path: Path) -> None:
    """Two gloo ranks with the GPU measurement replaced by a test double (``choose_for`` returns a
    made-up choice on rank 0): every rank trains with rank 0's policy, the log says it and why, and
    the job's config.yaml records the policy chosen."""
    import yaml

    script = tmp_path / "train_with_choice.py"
    script.write_text(
        "import sys\n"
        "from cosmos_engine import memory_budget as mb, train\n"
        "from cosmos_engine.model import VideoDiT\n"
        "def fake_choose_for(cfg, block, params, device, world):  # test double of the GPU measurement\n"
        "    return mb.Choice(mb.Policy(2, 'gelu'), True, 1.0, 2.0, 0.1, 'made up for the test')\n"
        "mb.choose_for = fake_choose_for\n"
        "seen = VideoDiT.set_recompute\n"
        "def spy(self, every, mode=''):\n"
        "    print(f'SET_RECOMPUTE {every} {mode}', flush=True)\n"
        "    return seen(self, every, mode)\n"
        "VideoDiT.set_recompute = spy\n"
        "sys.exit(train.main(sys.argv[1:]))\n"
    )
    from engine_runs import TORCHRUN

    overrides = [
        *TINY,
        f"dataloader_train.dataset.dataset_dir={waymo_data}",
        "trainer.max_iter=1",
        "checkpoint.save_iter=100",
        "trainer.memory_budget=auto",
        "job.name=budget",
    ]
    cmd = [TORCHRUN, "--standalone", "--nproc_per_node=2", str(script), "--", *overrides]
    done = run(cmd, engine_env(tmp_path), timeout=240)
    logged = done.stdout + done.stderr
    assert done.returncode == 0, logged[-3000:]
    assert logged.count("SET_RECOMPUTE 2 gelu") == 2, logged[-3000:]  # both ranks, rank 0's choice
    assert (
        "Memory policy (trainer.memory_budget=auto): one block in 2 whole, recompute=gelu in the others: "
        "made up" in logged
    )
    job = next((tmp_path / "cosmos_engine").rglob("budget"))
    saved = yaml.safe_load((job / "config.yaml").read_text())
    assert saved["trainer"]["recompute"] == "gelu"
    assert saved["trainer"]["activation_checkpointing"] is True
    assert saved["trainer"]["activation_checkpointing_every"] == 2
