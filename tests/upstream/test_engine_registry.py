"""The engine registry: the kinds come from its table, each listed module registers the kind it
is listed under, an engine's facts are its adapter's, and importing the interface loads no
adapter (so ``engines.base`` and the adapters do not import each other)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.catalog_toml import catalog, model

from cosmos_tui.core.catalog import parse_catalog
from cosmos_tui.core.datasets.layouts import LAYOUTS
from cosmos_tui.core.engines import registry
from cosmos_tui.core.engines.base import EngineAdapter
from cosmos_tui.core.engines.checkout import checkout_packages, detect_kind
from cosmos_tui.core.engines.jobdir import table_job_name
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.presets import preset_from_dict


def test_every_listed_module_registers_the_kind_it_is_listed_under() -> None:
    for kind in registry.ENGINE_KINDS:
        adapter = registry.get_adapter(kind)
        assert isinstance(adapter, EngineAdapter)
        assert adapter.kind == kind
        assert type(adapter).__module__ == registry.ADAPTER_MODULES[kind]
    assert [a.kind for a in registry.adapters()] == list(registry.ENGINE_KINDS)


def test_an_unknown_kind_is_one_sentence_naming_the_known_ones() -> None:
    with pytest.raises(UserError, match=r"no engine of kind 'cosmos-predict9'; known kinds: builtin, "):
        registry.get_adapter("cosmos-predict9")


def test_register_refuses_a_kind_the_table_does_not_list() -> None:
    class UnlistedAdapterDouble(EngineAdapter):  # a test double: never registered
        kind = "not-an-engine"

    with pytest.raises(ValueError, match="not listed in ADAPTER_MODULES"):
        registry.register(UnlistedAdapterDouble)
    assert "not-an-engine" not in registry.ENGINE_KINDS


def test_presets_validate_the_kind_against_the_registry_with_the_literal_message() -> None:
    for kind in registry.ENGINE_KINDS:
        assert preset_from_dict({"engine": {"kind": kind}}).engine.kind == kind
    assert preset_from_dict({}).engine.kind == registry.DEFAULT_KIND
    for bad in ("cosmos-predict", 5, None, ["builtin"], {"a": 1}):  # unhashable ones too
        with pytest.raises(UserError) as caught:
            preset_from_dict({"engine": {"kind": bad}}, source="p.toml")
        allowed = ", ".join(f"'{k}'" for k in registry.ENGINE_KINDS[:-1])
        assert f"(allowed: {allowed} or '{registry.ENGINE_KINDS[-1]}')" in str(caught.value)
    with pytest.raises(UserError, match="did you mean 'cosmos-predict1'"):
        preset_from_dict({"engine": {"kind": "cosmos-predict"}})


def test_the_catalog_validates_engine_and_layout_against_their_tables() -> None:
    def text(engine: str, layout: str) -> str:
        entry = model(
            "m", engine, layout, family="f", name="n", experiments=["e"], min_gpus=0, gpu_memory_gb=0
        )
        return catalog(entry)

    ok = parse_catalog(text(engine="cosmos-predict1", layout="predict1-waymo")).models[0]
    assert (ok.engine, ok.dataset_layout) == ("cosmos-predict1", "predict1-waymo")
    with pytest.raises(UserError, match=r"models\.0\.engine: Input should be 'builtin', "):
        parse_catalog(text(engine="cosmos-predict9", layout="predict1-waymo"))
    # The layout ids are the dataset layouts' table too.
    with pytest.raises(UserError, match=r"models\.0\.dataset_layout: Input should be 'predict1-waymo', "):
        parse_catalog(text(engine="builtin", layout="waymo"))
    assert [*LAYOUTS] == [m.id for m in LAYOUTS.values()]


def test_checkout_packages_and_job_names_come_from_the_adapters(tmp_path: Path) -> None:
    upstream = [a for a in registry.adapters() if a.runs_from_checkout]
    assert checkout_packages() == {a.kind: a.package for a in upstream}  # type: ignore[attr-defined]
    for adapter in upstream:
        repo = tmp_path / adapter.kind
        (repo / adapter.package).mkdir(parents=True)  # type: ignore[attr-defined]
        assert detect_kind(repo) == adapter.kind
        for experiment, name in adapter.job_names.items():  # type: ignore[attr-defined]
            assert table_job_name(adapter.kind, experiment) == name
    assert table_job_name(registry.DEFAULT_KIND, "anything") is None


def test_importing_the_interface_loads_no_adapter() -> None:
    probe = (
        "import json, sys\nimport cosmos_tui.core.engines.base, cosmos_tui.core.presets\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cosmos_tui.core.engines.'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(registry.ADAPTER_MODULES.values()), loaded
