"""Finding a pipeline from a reference: ``path/to/file.py:train`` or ``package.module:train``.

A file is loaded fresh on every call (so an edited file is seen) under a
module name derived from its path; it is registered with cloudpickle "by
value" so that process and Dask workers receive its code without importing it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import linecache
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from shipyard.pipelines.pipeline import Pipeline


def load_module(target: str) -> ModuleType:
    """The module a reference's left part names (a .py file or an importable module)."""
    if target.endswith(".py") or "/" in target or "\\" in target:
        return _load_file(Path(target))
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise NotFound(
            f"Cannot import module '{target}': {exc}. Give a file (train.py:train) or a "
            "module on the Python path (package.module:train).",
            kind="module",
            name=target,
        ) from exc


def _load_file(path: Path) -> ModuleType:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise NotFound(
            f"No pipeline file at {path}. Check the path before ':' in the reference.",
            kind="file",
            name=str(path),
        )
    name = "_shipyard_pipeline_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"{path} is not a Python module.", field="pipeline")
    module = importlib.util.module_from_spec(spec)
    linecache.checkcache(str(path))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        sys.modules.pop(name, None)
        raise
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    return module


def load_object(ref: str) -> Any:
    """The object a ``MODULE_OR_FILE:NAME`` reference points to."""
    target, sep, attr = ref.rpartition(":")
    if not sep or not target or not attr:
        raise InvalidInput(
            f"Pipeline reference {ref!r} must look like 'train.py:train' or 'pkg.module:train'.",
            field="pipeline",
        )
    module = load_module(target)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            found = sorted(n for n, v in vars(module).items() if _is_pipeline(v) or _is_step(v))
            raise NotFound(
                f"'{target}' has no '{attr}'. Pipelines and steps found there: "
                f"{', '.join(found) or 'none'}.",
                kind="pipeline",
                name=attr,
            )
        obj = getattr(obj, part)
    return obj


def load_pipeline(ref: str) -> Pipeline:
    """The ``@pipeline`` a reference names; anything else is an error saying what it found."""
    obj = load_object(ref)
    if not _is_pipeline(obj):
        raise InvalidInput(
            f"{ref!r} is a {type(obj).__name__}, not a @sy.pipeline function. Decorate it "
            "with @sy.pipeline.",
            field="pipeline",
        )
    pipeline: Pipeline = obj
    return pipeline


def _is_pipeline(value: Any) -> bool:
    from shipyard.pipelines.pipeline import Pipeline

    return isinstance(value, Pipeline)


def _is_step(value: Any) -> bool:
    from shipyard.pipelines.step import Step

    return isinstance(value, Step)


__all__ = ["load_module", "load_object", "load_pipeline"]
