"""The model catalog: which models exist, what each one loads, and what it needs to run.

The data lives in ``catalog.toml`` next to this module (shipped with the package); this module
only loads and validates it into frozen pydantic models. ``load_catalog()`` is cached.
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cosmos_tui.core.choices import one_of
from cosmos_tui.core.datasets.layouts import LAYOUTS
from cosmos_tui.core.engines.registry import EngineKind, get_adapter
from cosmos_tui.core.errors import UserError

LayoutId = one_of(LAYOUTS)
"""A dataset layout id: a key of :data:`~cosmos_tui.core.datasets.layouts.LAYOUTS`."""
Role = Literal["weights", "tokenizer", "text-encoder", "guardrail", "dataset"]
Purpose = Literal["train", "inference", "reasoner-sft"]
"""train: post-training loads it; inference: only inference does; reasoner-sft: only the Cosmos 3
reasoner SFT recipes do (shown, but neither downloaded nor access-checked: cosmos-tui has no
dataset layout for those recipes yet)."""
RepoType = Literal["dataset", "model"]

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RepoSpec(_Frozen):
    """One Hugging Face repository (or the part of it) that a model loads."""

    key: str = Field(description="Key of this entry in catalog.toml's [repos] table.")
    repo_id: str = Field(description="Hugging Face repo id, e.g. nvidia/Cosmos-Transfer2.5-2B.")
    repo_type: RepoType = Field("model", description="model, or dataset (a model's training data).")
    revision: str = Field(
        "main",
        description="The revision the model's engine loads (a 40-hex commit where its code pins one, "
        "else 'main'); filled from the engine adapter, not from catalog.toml.",
    )
    revision_note: str = Field("", description="Why the revision is what it is, when it is not pinned.")
    files: tuple[str, ...] = Field((), description="Exact file paths in the repo that the engine loads.")
    include: tuple[str, ...] = Field((), description="Glob patterns of further files; all files if empty.")
    exclude: tuple[str, ...] = Field((), description="Glob patterns of files never fetched.")
    role: Role = Field(description="weights | tokenizer | text-encoder | guardrail.")
    needed_for: Purpose = Field(description="train | inference | reasoner-sft (see :data:`Purpose`).")
    gated: bool = Field(description="Whether the Hub page asks users to accept a licence first.")
    licence_url: str = Field(description="Where the licence text lives.")
    local_dir: str = Field("", description="Folder under a --checkpoint-dir that upstream code reads.")
    notes: str = Field("", description="Anything a user should know about this repo.")

    @property
    def pinned(self) -> bool:
        """Whether ``revision`` is a fixed commit rather than a moving branch."""
        return bool(_COMMIT.match(self.revision))

    @property
    def whole_repo(self) -> bool:
        """True when every file of the repo (minus ``exclude``) is needed."""
        return not self.files and not self.include

    @property
    def checkpoint_subdir(self) -> str:
        """The folder under a checkpoint dir for this repo (``local_dir``, else the repo id)."""
        return self.local_dir or self.repo_id

    def page_url(self, endpoint: str = "https://huggingface.co") -> str:
        """The repo's page, where a gated licence is accepted."""
        kind = "datasets/" if self.repo_type == "dataset" else ""
        return f"{endpoint.rstrip('/')}/{kind}{self.repo_id}"


class DatasetSpec(_Frozen):
    """A dataset (or a data file) that a model's recipes train on, at the revision upstream pins."""

    key: str = Field(description="Key of this entry in catalog.toml's [datasets] table.")
    repo_id: str = Field(
        description="Hugging Face repo id, e.g. nvidia/BridgeData2-Subset-Synthetic-Captions."
    )
    repo_type: RepoType = Field(
        "dataset", description="dataset, or model for data files kept in a model repo."
    )
    revision: str = Field(
        "main", description="The revision upstream's docs download (a 40-hex commit when pinned)."
    )
    files: tuple[str, ...] = Field((), description="Exact files to fetch; the whole repo if empty.")
    subdir: str = Field("", description="The folder inside the download that the recipe reads.")
    gated: bool | None = Field(
        None, description="Whether the Hub asks for a licence; None: upstream does not say."
    )
    local_dir: str = Field(
        "", description="Where upstream's docs put it, or the folder name its loader needs."
    )
    notes: str = Field("", description="Anything a user should know about this dataset.")

    @property
    def pinned(self) -> bool:
        """Whether ``revision`` is a fixed commit rather than a moving branch."""
        return bool(_COMMIT.match(self.revision))

    def page_url(self, endpoint: str = "https://huggingface.co") -> str:
        """The dataset's page on the Hub."""
        return self.as_repo().page_url(endpoint)

    def as_repo(self) -> RepoSpec:
        """This dataset as a :class:`RepoSpec` (role ``dataset``), for the access check."""
        return RepoSpec(
            key=self.key,
            repo_id=self.repo_id,
            repo_type=self.repo_type,
            revision=self.revision,
            files=self.files,
            role="dataset",
            needed_for="train",
            gated=bool(self.gated),
            licence_url="",
            local_dir=self.local_dir,
            notes=self.notes,
        )


class ComputeNeeds(_Frozen):
    """What a machine needs to post-train the model."""

    min_gpus: int = Field(ge=0, description="GPUs needed; 0 means it runs on CPU.")
    gpu_memory_gb: int = Field(ge=0, description="Memory per GPU, in GB.")
    min_compute_capability: float = Field(0.0, description="Lowest CUDA compute capability (8.0 = Ampere).")
    notes: str = Field("", description="Where the figures come from.")


class ModelSpec(_Frozen):
    """One model in the catalog."""

    id: str = Field(description="Catalog id used on the command line and in presets.")
    family: str = Field(description="Model family, e.g. Cosmos-Transfer2.5 or builtin.")
    name: str = Field(description="Human name.")
    engine: EngineKind = Field(description="The engine kind that post-trains it.")
    dataset_layout: LayoutId = Field(description="The dataset layout id its experiments read.")
    experiments: tuple[str, ...] = Field(description="Upstream `experiment=` names that post-train it.")
    repos: tuple[RepoSpec, ...] = Field((), description="Hugging Face repos it loads, in order.")
    datasets: tuple[DatasetSpec, ...] = Field((), description="Datasets its recipes train on, in order.")
    compute: ComputeNeeds = Field(description="What a machine needs to post-train it.")
    notes: str = Field("", description="Anything a user should know.")

    def repos_for(self, *, inference: bool = False, checkout: Path | None = None) -> tuple[RepoSpec, ...]:
        """Repos needed to post-train; with ``inference`` also the inference-only extras.

        Each at the revision its engine loads it: for the engine checkout at ``checkout`` when
        given (revisions move between upstream commits), else for the version cosmos-tui targets.
        """
        wanted = ("train", "inference") if inference else ("train",)
        repos = tuple(r for r in self.repos if r.needed_for in wanted)
        if checkout is None:
            return repos
        return tuple(_pinned(r, self.engine, checkout) for r in repos)

    @property
    def needs_hub(self) -> bool:
        """Whether any weights come from Hugging Face."""
        return bool(self.repos)


def _pinned(spec: RepoSpec, engine: str, checkout: Path | None) -> RepoSpec:
    """``spec`` at the revision the engine's adapter gives for it (and the checkout)."""
    revision, note = get_adapter(engine).revision(spec.repo_id, spec.files, checkout)
    return spec.model_copy(update={"revision": revision, "revision_note": note})


class _RepoEntry(_Frozen):
    repo_id: str
    files: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    role: Role
    needed_for: Purpose
    gated: bool
    licence_url: str
    local_dir: str = ""
    notes: str = ""


class _DatasetEntry(_Frozen):
    repo_id: str
    repo_type: RepoType = "dataset"
    revision: str = "main"
    files: tuple[str, ...] = ()
    subdir: str = ""
    gated: bool | None = None
    local_dir: str = ""
    notes: str = ""

    @model_validator(mode="after")
    def _check(self) -> _DatasetEntry:
        if self.revision != "main" and not _COMMIT.match(self.revision):
            raise ValueError(f"revision {self.revision!r} is neither 'main' nor a 40-hex commit")
        return self


class _ModelEntry(_Frozen):
    id: str
    family: str
    name: str
    engine: EngineKind
    dataset_layout: LayoutId
    experiments: tuple[str, ...]
    uses: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    compute: ComputeNeeds
    notes: str = ""


class _CatalogFile(_Frozen):
    schema_: int = Field(alias="schema")
    repos: dict[str, _RepoEntry] = {}
    datasets: dict[str, _DatasetEntry] = {}
    models: tuple[_ModelEntry, ...]

    @model_validator(mode="after")
    def _check(self) -> _CatalogFile:
        ids = [m.id for m in self.models]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate model ids: {dupes}")
        for m in self.models:
            missing = [k for k in m.uses if k not in self.repos]
            if missing:
                raise ValueError(f"model {m.id!r} uses unknown repos {missing}")
            missing = [k for k in m.datasets if k not in self.datasets]
            if missing:
                raise ValueError(f"model {m.id!r} names unknown datasets {missing}")
        return self


class Catalog:
    """All models, in file order, with lookup by id."""

    def __init__(self, models: tuple[ModelSpec, ...], source: Path | None = None) -> None:
        self.models: tuple[ModelSpec, ...] = models
        self.source = source
        self._by_id = {m.id: m for m in models}

    def get(self, model_id: str) -> ModelSpec:
        """The model with this id; a :class:`UserError` naming close matches if there is none."""
        model = self._by_id.get(model_id) or self._by_id.get(model_id.lower())
        if model is not None:
            return model
        close = difflib.get_close_matches(model_id.lower(), list(self._by_id), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"Unknown model '{model_id}'.{hint} Run 'cosmos-tui models list' to see all models.")

    def ids(self) -> list[str]:
        """All model ids, in catalog order."""
        return list(self._by_id)

    def __iter__(self):
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)


def parse_catalog(text: str, source: Path | None = None) -> Catalog:
    """Parse and validate catalog TOML text; a :class:`UserError` names the file and the problem."""
    where = str(source) if source else "catalog"
    try:
        raw = tomllib.loads(text)
        data = _CatalogFile.model_validate(raw)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{where} is not valid TOML ({e}); fix the file.") from None
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise UserError(f"{where}: {loc}: {first['msg']}; fix the file.") from None
    models = []
    for m in data.models:
        repos = tuple(_pinned(RepoSpec(key=k, **data.repos[k].model_dump()), m.engine, None) for k in m.uses)
        datasets = tuple(DatasetSpec(key=k, **data.datasets[k].model_dump()) for k in m.datasets)
        fields = m.model_dump(exclude={"uses", "datasets", "compute"})
        models.append(ModelSpec(**fields, compute=m.compute, repos=repos, datasets=datasets))
    return Catalog(tuple(models), source)


def catalog_path() -> Path:
    """The shipped ``catalog.toml``."""
    return Path(str(resources.files("cosmos_tui.core").joinpath("catalog.toml")))


@functools.cache
def load_catalog() -> Catalog:
    """The shipped catalog (parsed once per process)."""
    path = catalog_path()
    return parse_catalog(path.read_text(encoding="utf-8"), path)
