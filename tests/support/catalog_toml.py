"""Test catalogs written once: ``repo`` and ``model`` render one ``[repos.<key>]`` or ``[[models]]``
entry of a catalog TOML (with the fields a test rarely cares about filled in), and ``catalog``
joins them under ``schema = 1``; the result goes through the real ``parse_catalog``."""

from __future__ import annotations

import json
from collections.abc import Sequence

LICENCE_URL = "https://example.invalid/licence"

TomlValue = str | bool | int | Sequence[str]


def _value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for the plain text tests use
    return json.dumps(list(value))


def _table(header: str, fields: dict[str, TomlValue]) -> str:
    return "\n".join([header, *(f"{k} = {_value(v)}" for k, v in fields.items())]) + "\n"


def repo(
    key: str,
    repo_id: str,
    role: str,
    *,
    needed_for: str = "train",
    gated: bool = False,
    licence_url: str = LICENCE_URL,
    **extra: TomlValue,
) -> str:
    """A ``[repos.<key>]`` table; ``extra`` adds ``files``, ``include``, ``exclude``, ``local_dir``."""
    fields: dict[str, TomlValue] = {"repo_id": repo_id, **extra, "role": role, "needed_for": needed_for}
    fields.update(gated=gated, licence_url=licence_url)
    return _table(f"[repos.{key}]", fields)


def model(
    model_id: str,
    engine: str,
    dataset_layout: str,
    *,
    uses: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    family: str | None = None,
    name: str | None = None,
    experiments: Sequence[str] = ("x",),
    min_gpus: int = 8,
    gpu_memory_gb: int = 80,
) -> str:
    """A ``[[models]]`` entry with its ``[models.compute]`` table (``uses`` and ``datasets`` left
    out when ``None``)."""
    fields: dict[str, TomlValue] = {"id": model_id, "family": family or model_id, "name": name or model_id}
    fields.update(engine=engine, dataset_layout=dataset_layout, experiments=experiments)
    if uses is not None:
        fields["uses"] = uses
    if datasets is not None:
        fields["datasets"] = datasets
    compute = _table("[models.compute]", {"min_gpus": min_gpus, "gpu_memory_gb": gpu_memory_gb})
    return _table("[[models]]", fields) + compute


def catalog(*entries: str) -> str:
    """A whole catalog: ``schema = 1`` and the entries, in order."""
    return "\n".join(["schema = 1\n", *entries])


# The Acme world that the hub tests and the wizard's hub step both download from.
ACME_WEIGHTS = repo("weights", "acme/World-2B", "weights", files=["ckpt/model_ema_bf16.pt"], gated=True)


def acme_model(*uses: str) -> str:
    """The Predict2.5 model "acme-2b" using the repos ``uses`` (keys of ``[repos.*]``)."""
    return model(
        "acme-2b",
        "cosmos-predict2.5",
        "predict25-video2world",
        family="Acme",
        name="Acme World 2B",
        experiments=["acme_posttrain"],
        uses=uses,
    )
