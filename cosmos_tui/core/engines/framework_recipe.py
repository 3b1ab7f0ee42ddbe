"""A cosmos-framework recipe TOML checked against the schema of the checkout it will run in.

Upstream validates a recipe with pydantic when training starts (``load_experiment_from_toml`` in
``cosmos_framework/configs/toml_config/sft_config.py``: every model ``extra="forbid"``, so an
unknown key is a ``ValidationError`` minutes into a launch, on a cluster node). This module reads
that schema from the checkout's own source, without importing it (no pydantic, no engine
environment): the classes, their annotated fields and the types those annotations name, found
with :mod:`ast`. A recipe is then checked before anything starts: an unknown key names its file,
its dotted key, the keys its table allows and the closest one; a value of the wrong kind says
which type the field wants. The rules follow pydantic's lax mode, so nothing upstream accepts is
refused (an ``int`` where a ``float`` is wanted, ``"1e-4"`` for a number, ``1``/``"yes"`` for a
bool); ``[custom]`` (``dict[str, Any]``) is free-form, as upstream says.

The loader's own rules are read the same way: ``[job].experiment`` must be set
(``build_hydra_overrides``) and ``[job].task`` must be a key of ``TASK_TO_BASE_CONFIG``
(``toml_config_helper.py``).
"""

from __future__ import annotations

import ast
import copy
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cosmos_tui.core.safeio import CONFIG_CAP, read_text_capped

SCHEMA_FILE = "cosmos_framework/configs/toml_config/sft_config.py"
HELPER_FILE = "cosmos_framework/configs/toml_config/toml_config_helper.py"
ROOT_MODEL = "SFTExperimentConfig"
SCALARS = ("str", "int", "float", "bool")


@dataclass(frozen=True)
class FieldType:
    """One annotation: a scalar, ``list[...]``, ``dict[str, ...]``, ``Any``, or a section (a model
    class of the schema, by name)."""

    kind: str
    """``str`` / ``int`` / ``float`` / ``bool`` / ``list`` / ``dict`` / ``any`` / ``section``."""
    item: FieldType | None = None
    section: str | None = None
    optional: bool = False

    def describe(self) -> str:
        if self.kind in ("list", "dict") and self.item is not None:
            inner = self.item.describe()
            text = f"a list of {inner}" if self.kind == "list" else f"a table of {inner}"
        else:
            text = {
                "str": "a string",
                "int": "an integer",
                "float": "a number",
                "bool": "true or false",
                "section": "a table",
                "any": "any value",
            }.get(self.kind, self.kind)
        return text + (" (or omitted)" if self.optional else "")


@dataclass(frozen=True)
class RecipeSchema:
    """The models of ``sft_config.py``: ``{class name: {field: type}}`` and the root's name."""

    models: dict[str, dict[str, FieldType]]
    root: str = ROOT_MODEL
    forbid_extra: bool = True
    tasks: tuple[str, ...] = ()
    """``TASK_TO_BASE_CONFIG``'s keys (empty when the helper could not be read)."""
    source: str = field(default=SCHEMA_FILE, compare=False)


def _annotation(node: ast.expr, classes: set[str]) -> FieldType:
    """The :class:`FieldType` of an annotation node (``Optional[X]``, ``X | None``, ``list[X]``,
    ``dict[str, X]``, a schema class, a builtin scalar); unknown shapes read as ``any``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        try:
            return _annotation(ast.parse(node.value, mode="eval").body, classes)
        except SyntaxError:
            return FieldType("any")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [node.left, node.right]
        rest = [s for s in sides if not (isinstance(s, ast.Constant) and s.value is None)]
        if len(rest) == 1:
            inner = _annotation(rest[0], classes)
            return FieldType(inner.kind, inner.item, inner.section, optional=True)
        return FieldType("any")
    if isinstance(node, ast.Subscript):
        head = ast.unparse(node.value).rsplit(".", 1)[-1]
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if head == "Optional" and len(args) == 1:
            inner = _annotation(args[0], classes)
            return FieldType(inner.kind, inner.item, inner.section, optional=True)
        if head in ("list", "List", "tuple", "Tuple", "Sequence"):
            return FieldType("list", item=_annotation(args[0], classes))
        if head in ("dict", "Dict", "Mapping") and len(args) == 2:
            return FieldType("dict", item=_annotation(args[1], classes))
        return FieldType("any")
    name = ast.unparse(node).rsplit(".", 1)[-1]
    if name in SCALARS:
        return FieldType(name)
    if name in classes:
        return FieldType("section", section=name)
    if name in ("list", "dict"):
        return FieldType(name, item=FieldType("any"))
    return FieldType("any")


def parse_schema(source: str, helper: str | None = None) -> RecipeSchema | None:
    """The schema in ``source`` (the text of ``sft_config.py``); ``None`` when it holds no
    ``SFTExperimentConfig``. ``helper`` is the text of ``toml_config_helper.py``, for the tasks."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    class_nodes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    names = {n.name for n in class_nodes}
    if ROOT_MODEL not in names:
        return None
    models: dict[str, dict[str, FieldType]] = {}
    for node in class_nodes:
        fields: dict[str, FieldType] = {}
        for stmt in node.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            if stmt.target.id != "model_config" and not stmt.target.id.startswith("_"):
                fields[stmt.target.id] = _annotation(stmt.annotation, names)
        models[node.name] = fields
    forbid = any(
        isinstance(n, ast.keyword) and n.arg == "extra" and getattr(n.value, "value", None) == "forbid"
        for n in ast.walk(tree)
    )
    return RecipeSchema(models=models, forbid_extra=forbid, tasks=_tasks(helper))


def _tasks(helper: str | None) -> tuple[str, ...]:
    if not helper:
        return ()
    try:
        tree = ast.parse(helper)
    except SyntaxError:
        return ()
    for node in tree.body:
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if isinstance(target, ast.Name) and target.id == "TASK_TO_BASE_CONFIG":
            value = getattr(node, "value", None)
            if isinstance(value, ast.Dict):
                return tuple(k.value for k in value.keys if isinstance(k, ast.Constant))
    return ()


def _stamp(*paths: Path) -> tuple[tuple[str, int, int], ...] | None:
    """What identifies these files' contents now (path, mtime, size); ``None`` when one cannot be
    read, so that the caller reads again and reports the error itself."""
    try:
        return tuple((str(p.resolve()), (st := p.stat()).st_mtime_ns, st.st_size) for p in paths)
    except OSError:
        return None


_SCHEMAS: dict[tuple, RecipeSchema | None] = {}
_RECIPES: dict[tuple, dict] = {}
_CACHE_MAX = 32


def _remember(cache: dict, key: tuple, value: object) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.pop(next(iter(cache)))
    cache[key] = value


def read_schema(repo: Path) -> RecipeSchema | None:
    """The schema of the checkout at ``repo``; ``None`` when it has no readable ``sft_config.py``
    (not a cosmos-framework checkout, or one from before recipe TOMLs). Parsed once per version
    of the two files (a preflight, a render and the dashboard all ask)."""
    key = _stamp(repo / SCHEMA_FILE, repo / HELPER_FILE) or _stamp(repo / SCHEMA_FILE)
    if key is not None and key in _SCHEMAS:
        return _SCHEMAS[key]
    schema = _read_schema(repo)
    if key is not None:
        _remember(_SCHEMAS, key, schema)
    return schema


def _read_schema(repo: Path) -> RecipeSchema | None:
    try:
        source = read_text_capped(repo / SCHEMA_FILE, CONFIG_CAP, what="recipe schema")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        helper = read_text_capped(repo / HELPER_FILE, CONFIG_CAP, what="recipe helper")
    except (OSError, UnicodeDecodeError):
        helper = None
    return parse_schema(source, helper)


def load_recipe(path: Path) -> dict:
    """The recipe TOML at ``path``; raises :class:`OSError` (missing, not a file, too big) or
    :class:`ValueError` with one sentence (not UTF-8 text, not TOML: its line and column).
    Read once per version of the file; each caller gets its own copy."""
    key = _stamp(path)
    if key is not None and key in _RECIPES:
        return copy.deepcopy(_RECIPES[key])
    data = _load_recipe(path)
    if key is not None:
        _remember(_RECIPES, key, data)
    return copy.deepcopy(data)


def _load_recipe(path: Path) -> dict:
    try:
        text = read_text_capped(path, CONFIG_CAP, what="recipe TOML")
    except UnicodeDecodeError:
        raise ValueError(f"recipe TOML {path} is not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"recipe TOML {path} is not valid TOML: {e}") from None


_NUMBER = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")
_BOOL_WORDS = {"0", "1", "true", "false", "yes", "no", "on", "off", "t", "f", "y", "n"}


def _fits(value: object, kind: FieldType) -> bool:
    """Whether pydantic's lax mode accepts ``value`` (from TOML) for a field of ``kind``."""
    if kind.kind == "any" or (value is None and kind.optional):
        return True
    if kind.kind == "str":
        return isinstance(value, str)
    if kind.kind == "bool":
        if isinstance(value, bool):
            return True
        if isinstance(value, int):
            return value in (0, 1)
        return isinstance(value, str) and value.strip().lower() in _BOOL_WORDS
    if kind.kind == "int":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value) is not None
    if kind.kind == "float":
        if isinstance(value, bool):
            return False
        return isinstance(value, (int, float)) or (isinstance(value, str) and bool(_NUMBER.fullmatch(value)))
    item = kind.item or FieldType("any")
    if kind.kind == "list":
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if kind.kind == "dict":
        return isinstance(value, dict) and all(_fits(v, item) for v in value.values())
    return True


def check_recipe(data: dict, schema: RecipeSchema, file: str) -> list[str]:
    """One sentence per thing in ``data`` (a loaded recipe) that upstream's loader would refuse."""
    problems: list[str] = []
    _check_table(data, schema.root, (), schema, file, problems)
    job = data.get("job") if isinstance(data.get("job"), dict) else {}
    if not job.get("experiment"):
        problems.append(
            f"recipe {file}: [job].experiment is not set; upstream's loader needs it to pick the "
            'Hydra experiment (set it, for example experiment = "vision_sft_nano")'
        )
    task = job.get("task", "vfm")
    if schema.tasks and isinstance(task, str) and task not in schema.tasks:
        problems.append(
            f"recipe {file}: [job].task = {task!r} is not one upstream knows; use one of "
            f"{', '.join(repr(t) for t in schema.tasks)}"
        )
    return problems


def _check_table(
    table: dict, model: str, path: tuple[str, ...], schema: RecipeSchema, file: str, out: list[str]
) -> None:
    fields = schema.models.get(model, {})
    where = f"[{'.'.join(path)}]" if path else "the top level"
    for key, value in table.items():
        dotted = ".".join((*path, key))
        kind = fields.get(key)
        if kind is None:
            if schema.forbid_extra:
                allowed = sorted(fields)
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                out.append(
                    f"recipe {file}: {where} has no key {key!r} ({dotted}); {hint}"
                    f"allowed: {', '.join(allowed)}"
                )
            continue
        if kind.kind == "section":
            if isinstance(value, dict):
                _check_table(value, kind.section or "", (*path, key), schema, file, out)
            else:
                out.append(f"recipe {file}: {dotted} must be a table ([{dotted}]), not {_shown(value)}")
        elif not _fits(value, kind):
            out.append(f"recipe {file}: {dotted} must be {kind.describe()}, not {_shown(value)}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
