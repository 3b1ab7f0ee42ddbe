"""Test double ``fault_site``: fault hooks for the real engine, loaded through ``PYTHONPATH``.

The reliability tests put this folder on ``PYTHONPATH`` so that every Python process of a run
(supervisor, torchrun agent, ranks) imports it at start-up; it does nothing unless
``COSMOS_REL_FAULT`` is set. Then, when the engine's modules are imported, it wraps a few of their
functions so a test can hold a run at a chosen moment (a marker file says the moment has come) or
make one rank die once. The engine's command line, files and signals stay exactly as in a real run.

``COSMOS_REL_FAULT`` is a comma-separated list of:

- ``slow_save:<iter>:<seconds>``  after the ``model`` part of checkpoint ``<iter>`` is written (the
  step folder is still ``.partial``), write marker ``saving.<rank>`` and sleep;
- ``slow_step:<n>:<seconds>``     in this process's ``n``-th training step, write ``step.<rank>`` and sleep;
- ``slow_load:<n>:<seconds>``     in this process's ``n``-th dataset read, write ``loading.<rank>`` and sleep;
- ``die_once:<n>:<rank>``         rank ``<rank>`` SIGKILLs itself in its ``n``-th step, unless marker
  ``died`` exists (it writes it first), so a restarted rank carries on.

Markers go to ``$COSMOS_REL_MARKERS``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys

_SPEC = os.environ.get("COSMOS_REL_FAULT", "")


def _faults() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in filter(None, _SPEC.split(",")):
        name, *args = item.split(":")
        out[name] = args
    return out


def _marker(name: str) -> None:
    folder = os.environ.get("COSMOS_REL_MARKERS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{name}.{os.environ.get('RANK', '0')}"), "w") as f:
            f.write(str(os.getpid()))


def _sleep(seconds: str) -> None:
    import time

    time.sleep(float(seconds))


def _patch_checkpoint(module: object, faults: dict[str, list[str]]) -> None:
    if "slow_save" not in faults:
        return
    iteration, seconds = faults["slow_save"]
    real = module.dcp  # type: ignore[attr-defined]
    target = f"iter_{int(iteration):09d}.partial{os.sep}model"

    class SlowSaveDcp:
        """``torch.distributed.checkpoint`` with a pause after one chosen model part."""

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def save(self, state: object, *, checkpoint_id: str, **kw: object) -> object:
            result = real.save(state, checkpoint_id=checkpoint_id, **kw)
            if str(checkpoint_id).endswith(target):
                _marker("saving")
                _sleep(seconds)
            return result

    module.dcp = SlowSaveDcp()  # type: ignore[attr-defined]


def _patch_flow(module: object, faults: dict[str, list[str]]) -> None:
    if "slow_step" not in faults and "die_once" not in faults:
        return
    real = module.flow_loss  # type: ignore[attr-defined]
    calls = [0]

    def flow_loss(*args: object, **kw: object) -> object:
        calls[0] += 1
        if "slow_step" in faults and calls[0] == int(faults["slow_step"][0]):
            _marker("step")
            _sleep(faults["slow_step"][1])
        if "die_once" in faults:
            n, rank = faults["die_once"]
            folder = os.environ["COSMOS_REL_MARKERS"]
            died = os.path.join(folder, "died")
            if calls[0] == int(n) and os.environ.get("RANK") == rank and not os.path.exists(died):
                import signal

                os.makedirs(folder, exist_ok=True)
                with open(died, "w") as f:
                    f.write(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kw)

    module.flow_loss = flow_loss  # type: ignore[attr-defined]


def _patch_datasets(module: object, faults: dict[str, list[str]]) -> None:
    if "slow_load" not in faults:
        return
    cls = module.ClipDataset  # type: ignore[attr-defined]
    real = cls.__getitem__
    n, seconds = faults["slow_load"]
    calls = [0]

    def getitem(self: object, index: int) -> object:
        calls[0] += 1
        if calls[0] == int(n):
            _marker("loading")
            _sleep(seconds)
        return real(self, index)

    cls.__getitem__ = getitem


_PATCHES = {
    "cosmos_engine.checkpoint": _patch_checkpoint,
    "cosmos_engine.flow": _patch_flow,
    "cosmos_engine.datasets": _patch_datasets,
}


class _PatchingFinder(importlib.abc.MetaPathFinder):
    """Finds the engine modules as usual, then applies the faults after they execute."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> object:
        if fullname not in _PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)  # type: ignore[arg-type]
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        real_exec = loader.exec_module  # type: ignore[attr-defined]

        def exec_module(module: object) -> None:
            real_exec(module)
            _PATCHES[fullname](module, _faults())

        loader.exec_module = exec_module  # type: ignore[attr-defined]
        return spec


if _SPEC:
    sys.meta_path.insert(0, _PatchingFinder())
