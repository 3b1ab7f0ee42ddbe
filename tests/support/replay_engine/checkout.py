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


def make_fake_checkout(root: Path, kind: str, *, converter: bool = True, version: str = "1.5.0") -> Path:
    """Create ``root/<kind>`` as a fake checkout of ``kind``; returns its path."""
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
    return repo
