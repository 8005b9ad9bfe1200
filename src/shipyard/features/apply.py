"""``apply``: register definitions from objects or from a Python file or folder.

``shipyard features apply [PATH]`` and ``sy.features.apply(...)`` do the same:
collect the definitions, compute the plan (added / changed / removed), show
it, and write it. Given a path, the files there are the whole truth, so
definitions no longer in them are removed (``prune``); given objects, only
those are added or changed unless ``prune=True``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.features.definitions import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
)
from shipyard.features.offline import check_columns, connect, source_relation
from shipyard.features.registry import Plan, apply_plan, plan
from shipyard.workspace import Workspace, current

_TYPES = (Entity, FeatureView, OnDemandFeatureView, FeatureService)
_SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", "node_modules", ".shipyard", "tests"}


def default_path(cwd: Path | None = None) -> Path:
    """``features.py`` or ``features/`` in the working directory."""
    cwd = cwd or Path.cwd()
    for candidate in (cwd / "features.py", cwd / "features"):
        if candidate.exists():
            return candidate
    raise InvalidInput(
        f"No features.py or features/ folder in {cwd}. Pass the file or folder that holds "
        "your definitions: `shipyard features apply PATH`.",
        field="path",
    )


def load_definitions(path: str | Path) -> list[Definition]:
    """Every definition found at module level in a .py file, or in the .py files of a folder."""
    root = Path(path)
    if not root.exists():
        raise InvalidInput(f"No file or folder at {root}.", field="path")
    files = [root] if root.is_file() else _python_files(root)
    found: list[Definition] = []
    for file in files:
        _collect(_import(file), found)
    if not found:
        raise InvalidInput(
            f"{root} defines no Entity, FeatureView, OnDemandFeatureView or FeatureService "
            "at module level.",
            field="path",
        )
    return found


def _collect(module: ModuleType, found: list[Definition]) -> list[Definition]:
    for value in vars(module).values():
        if isinstance(value, _TYPES) and value not in found:
            found.append(value)
    return found


def _python_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*.py")
        if not (_SKIP_DIRS & set(p.relative_to(folder).parts[:-1])) and not p.name.startswith("_")
    )


def _import(file: Path) -> Any:
    name = f"_shipyard_features_{abs(hash(file.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"Cannot import {file}.", field="path")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and inspect need the module registered
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, InvalidInput):
            raise InvalidInput(f"{file}: {exc.message}", field=exc.field) from exc
        raise InvalidInput(f"{file} failed to import: {exc!r}", field="path") from exc
    return module


def validate_sources(definitions: Iterable[Definition], workspace: Workspace) -> None:
    """Check each view's readable source against its declared types (missing data is fine)."""
    from shipyard.errors import NotFound

    for item in definitions:
        if not isinstance(item, FeatureView):
            continue
        con = connect(workspace)
        try:
            relation = source_relation(con, item, "__check", workspace)
            described = con.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()
            check_columns(item, {str(r[0]): str(r[1]) for r in described})
        except NotFound:
            continue  # the data may be written after the definition
        finally:
            con.close()


def apply(
    definitions: Sequence[Definition] | ModuleType | str | Path | None = None,
    *,
    prune: bool | None = None,
    dry_run: bool = False,
    workspace: Workspace | None = None,
) -> Plan:
    """Plan and (unless ``dry_run``) apply definitions; returns the plan.

    ``definitions``: objects, an imported module, or a .py file or folder (default:
    ``features.py`` or ``features/``). A module, file or folder is the whole truth:
    definitions applied before and no longer in it are removed (unless ``prune=False``).
    """
    workspace = workspace or current()
    if isinstance(definitions, ModuleType):
        items = _collect(definitions, [])
        if not items:
            raise InvalidInput(
                f"Module {definitions.__name__} defines no Entity, FeatureView, "
                "OnDemandFeatureView or FeatureService at module level.",
                field="definitions",
            )
        prune = True if prune is None else prune
    elif definitions is None or isinstance(definitions, (str, Path)):
        items = load_definitions(definitions if definitions is not None else default_path())
        prune = True if prune is None else prune
    else:
        items = list(definitions)
        prune = bool(prune)
    validate_sources(items, workspace)
    result, specs = plan(items, prune=prune, workspace=workspace)
    return result if dry_run else apply_plan(result, specs, workspace)
