"""FakeCheckout: a folder shaped like an upstream checkout whose training entry point (and,
optionally, converter) is the ReplayEngine test double."""

from __future__ import annotations

from pathlib import Path

SUPPORT_DIR = Path(__file__).resolve().parent.parent
PACKAGES = {
    "cosmos-transfer2.5": "cosmos_transfer2",
    "cosmos-predict2.5": "cosmos_predict2",
    "cosmos-predict1": "cosmos_predict1",
}


def _stub(path: Path, call: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"import sys\nsys.path.insert(0, {str(SUPPORT_DIR)!r})\n{call}\n")


INFERENCE_SCRIPTS = {
    "cosmos-transfer2.5": "examples/inference.py",
    "cosmos-predict2.5": "examples/inference.py",
    "cosmos-predict1": "cosmos_predict1/diffusion/inference/video2world_view_extend_multiview.py",
}
"""Where each upstream repo keeps the inference script ``samples`` drives."""


def make_fake_checkout(
    root: Path, kind: str, *, converter: bool = True, version: str = "1.5.0", inference: bool = False
) -> Path:
    """Create ``root/<kind>`` as a fake checkout of ``kind``; returns its path. ``inference``: with
    its inference script (the ReplayInference test double)."""
    repo = root / kind
    package = repo / PACKAGES[kind]
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (repo / "pyproject.toml").write_text(f'[project]\nname = "{PACKAGES[kind]}"\nversion = "{version}"\n')
    main = f"from replay_engine.replay import main\nmain({kind!r})"
    if kind == "cosmos-predict1":
        for sub in ("diffusion", "diffusion/training"):
            (package / sub).mkdir(parents=True, exist_ok=True)
            (package / sub / "__init__.py").write_text("")
        _stub(package / "diffusion" / "training" / "train.py", main)
    else:
        (repo / "scripts").mkdir(exist_ok=True)
        (repo / "scripts" / "__init__.py").write_text("")
        _stub(repo / "scripts" / "train.py", main)
        if converter:
            _stub(
                repo / "scripts" / "convert_distcp_to_pt.py", "from replay_engine.convert import main\nmain()"
            )
    if inference:
        _stub(repo / INFERENCE_SCRIPTS[kind], f"from replay_engine.inference import main\nmain({kind!r})")
    return repo


SCHEMA_PY = (Path(__file__).parent / "fake_sft_config.py.txt").read_text()
"""The fake checkout's ``cosmos_framework/configs/toml_config/sft_config.py`` (read, never imported),
kept as a data file beside this module: content written into the fake checkout, not code the tests run."""

HELPER_PY = """TASK_TO_BASE_CONFIG: dict[str, str] = {
    "vfm": "cosmos_framework/configs/base/config.py",
    "vlm": "cosmos_framework/configs/base/reasoner/config.py",
}
"""

FRAMEWORK_SCRIPTS = {
    "train": "train_main",
    "convert_model_to_dcp": "convert_main",
    "export_model": "export_main",
    "convert_model_to_diffusers": "diffusers_main",
}
"""cosmos-framework's entry modules (``python -m cosmos_framework.scripts.NAME``) and the
ReplayFramework function standing in for each."""

RECIPE_TOML = """\
# A small vision SFT recipe in the upstream recipes' shape (written for the tests).
[job]
task = "vfm"
experiment = "{recipe}"
project = "cosmos3"
group = "sft"
name = "{recipe}"
wandb_mode = "disabled"

[model.parallelism]
data_parallel_shard_degree = -1
data_parallel_replicate_degree = 1
context_parallel_shard_degree = {cp}

[model.tokenizer]
vae_path = "${{oc.env:WAN_VAE_PATH}}"

[trainer]
logging_iter = 2
max_iter = 12

[checkpoint]
load_path = "${{oc.env:BASE_CHECKPOINT_PATH}}"
save_iter = 6
"""


def make_fake_framework_checkout(root: Path, *, version: str = "1.2.3") -> Path:
    """Create ``root/cosmos-framework``: a checkout whose ``cosmos_framework.scripts.*`` entry
    modules are the ReplayFramework test double, with recipe TOMLs under
    ``examples/toml/sft_config/`` (vision_sft_nano, vision_sft_super with CP 2)."""
    repo = root / "cosmos-framework"
    scripts = repo / "cosmos_framework" / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    (repo / "cosmos_framework" / "__init__.py").write_text("")
    (scripts / "__init__.py").write_text("")
    for module, function in FRAMEWORK_SCRIPTS.items():
        _stub(scripts / f"{module}.py", f"from replay_engine.framework import {function}\n{function}()")
    (repo / "pyproject.toml").write_text(f'[project]\nname = "cosmos-framework"\nversion = "{version}"\n')
    schema = repo / "cosmos_framework" / "configs" / "toml_config"
    schema.mkdir(parents=True, exist_ok=True)
    (schema / "sft_config.py").write_text(SCHEMA_PY)
    (schema / "toml_config_helper.py").write_text(HELPER_PY)
    recipes = repo / "examples" / "toml" / "sft_config"
    recipes.mkdir(parents=True, exist_ok=True)
    for recipe, cp in (("vision_sft_nano", 1), ("vision_sft_super", 2)):
        (recipes / f"{recipe}.toml").write_text(RECIPE_TOML.format(recipe=recipe, cp=cp))
    return repo
