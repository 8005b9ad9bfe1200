"""One key for caching and lineage: code, params, input artifacts, environment.

A step's cache key is the SHA-256 of

* its **code**: the function's source, the source of helper functions and
  classes of the same module it refers to, and the full text of every local
  module (not the standard library, not an installed package) it uses;
* its **params**: each argument that is not another step's result, hashed
  by type and value (numbers, strings, containers, NumPy arrays, pandas
  frames, dataset snapshots by content hash, files by content);
* its **input artifacts**: the SHA-256 of each upstream result;
* the **environment lock**: ``current_environment().id``.

An argument that cannot be hashed deterministically (an open file, a
client, any object without a value-based encoding) turns caching off for
that step with a ``CacheDisabledWarning`` naming the argument — never a
partial key.
"""

from __future__ import annotations

import hashlib
import inspect
import marshal
import struct
import sys
import sysconfig
import types
import weakref
from collections.abc import Callable, Iterator
from dataclasses import fields, is_dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from functools import cache
from pathlib import Path, PurePath
from typing import Any

from shipyard.workspace import Workspace


class CacheDisabledWarning(UserWarning):
    """A step's inputs cannot be hashed, so the step runs every time."""


class Unhashable(Exception):
    """Raised inside hashing when a value has no deterministic encoding."""


# -- code ---------------------------------------------------------------------
@cache
def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots |= {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return tuple(sorted(str(Path(r).resolve()) for r in roots))


def is_local_module(module: types.ModuleType) -> bool:
    """A module of the user's project: has a file outside the interpreter and site-packages."""
    name = module.__name__.split(".")[0]
    file = getattr(module, "__file__", None)
    if not file or name == "shipyard":
        return False
    resolved = str(Path(file).resolve())
    return not any(resolved.startswith(root + "/") for root in _installed_roots())


class CodeHasher:
    """Code fingerprints of functions, remembered per function object (a workspace service)."""

    def __init__(self, workspace: Workspace | None = None) -> None:
        self._known: weakref.WeakKeyDictionary[Callable[..., Any], str] = (
            weakref.WeakKeyDictionary()
        )

    def fingerprint(self, fn: Callable[..., Any]) -> str:
        known = self._known.get(fn)
        if known is None:
            digest = hashlib.sha256()
            for part in _code_parts(fn, set()):
                digest.update(part)
            known = self._known[fn] = digest.hexdigest()
        return known

    def close(self) -> None:
        self._known.clear()


def code_hasher(workspace: Workspace) -> CodeHasher:
    return workspace.service("pipelines.code_hasher", CodeHasher)


def _code_parts(obj: Any, seen: set[int]) -> Iterator[bytes]:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    yield _source(obj)
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    code = getattr(obj, "__code__", None)
    names = _global_names(code) if code is not None else set()
    namespace = getattr(obj, "__globals__", None) or (vars(module) if module else {})
    for cell in getattr(obj, "__closure__", None) or ():
        try:
            yield from _referenced(cell.cell_contents, module, seen)
        except ValueError:  # an empty cell
            continue
    for name in sorted(names):
        if name in namespace:
            yield from _referenced(namespace[name], module, seen)


def _referenced(value: Any, home: types.ModuleType | None, seen: set[int]) -> Iterator[bytes]:
    value = getattr(value, "fn", value)  # a Step wraps its function
    if isinstance(value, types.ModuleType):
        if is_local_module(value):
            yield from _module_text(value, seen)
        return
    if not isinstance(value, types.FunctionType | type):
        return
    owner = sys.modules.get(value.__module__)
    if owner is None or not is_local_module(owner):
        return
    if owner is home:
        yield from _code_parts(value, seen)  # a helper of the same module: its own source
    else:
        yield from _module_text(owner, seen)  # imported from a local module: all of it


def _module_text(module: types.ModuleType, seen: set[int]) -> Iterator[bytes]:
    if id(module) in seen:
        return
    seen.add(id(module))
    file = getattr(module, "__file__", None)
    if file and Path(file).is_file():
        yield Path(file).read_bytes()


def _source(obj: Any) -> bytes:
    try:
        return inspect.getsource(obj).encode()
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        return marshal.dumps(code) if code is not None else repr(obj).encode()


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


# -- values -------------------------------------------------------------------
def value_digest(value: Any) -> str:
    """SHA-256 of a value's type-tagged encoding; raises ``Unhashable``."""
    digest = hashlib.sha256()
    _feed(digest, value, 0)
    return digest.hexdigest()


_SCALARS = (type(None), bool, int, float, complex, str, Decimal, date, datetime, time, timedelta)


def _feed(digest: Any, value: Any, depth: int) -> None:
    if depth > 50:
        raise Unhashable("nested too deeply")
    kind = type(value)
    digest.update(f"<{kind.__module__}.{kind.__qualname__}>".encode())
    if isinstance(value, (*_SCALARS, Enum)):
        digest.update(repr(value).encode())
    elif isinstance(value, bytes | bytearray):
        digest.update(struct.pack(">Q", len(value)) + bytes(value))
    elif isinstance(value, list | tuple):
        digest.update(struct.pack(">Q", len(value)))
        for item in value:
            _feed(digest, item, depth + 1)
    elif isinstance(value, dict):
        _feed_items(digest, value.items(), depth)
    elif isinstance(value, set | frozenset):
        digest.update("".join(sorted(value_digest(v) for v in value)).encode())
    elif isinstance(value, PurePath):
        digest.update(_path_digest(Path(value)).encode())
    elif _is_snapshot(value):  # a dataclass too, but keyed by content, not id or workspace
        digest.update(str(value.content_hash).encode())
    elif is_dataclass(value) and not isinstance(value, type):
        _feed_items(digest, ((f.name, getattr(value, f.name)) for f in fields(value)), depth)
    else:
        digest.update(_library_digest(value).encode())


def _feed_items(digest: Any, items: Any, depth: int) -> None:
    encoded = sorted((value_digest(k), v) for k, v in items)
    digest.update(struct.pack(">Q", len(encoded)))
    for key, item in encoded:
        digest.update(key.encode())
        _feed(digest, item, depth + 1)


def _path_digest(path: Path) -> str:
    """Files by content; folders by their files' names and contents; missing paths by name."""
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(_file_sha256(path).encode())
    elif path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
            digest.update(_file_sha256(file).encode())
    else:
        digest.update(b"missing:" + str(path).encode())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _is_snapshot(value: Any) -> bool:
    kind = type(value)
    return kind.__module__.split(".")[0] == "shipyard" and kind.__name__ == "Snapshot"


def _library_digest(value: Any) -> str:
    """NumPy arrays and pandas objects by content; else ``Unhashable``."""
    module = type(value).__module__.split(".")[0]
    name = type(value).__name__
    if module == "numpy":
        return _numpy_digest(value)
    if module == "pandas" and name in {"DataFrame", "Series", "Index"}:
        return _pandas_digest(value)
    raise Unhashable(f"{type(value).__module__}.{type(value).__qualname__}")


def _numpy_digest(value: Any) -> str:
    import numpy as np

    if isinstance(value, np.generic):
        return hashlib.sha256(repr(value.item()).encode() + str(value.dtype).encode()).hexdigest()
    if not isinstance(value, np.ndarray) or value.dtype.hasobject:
        raise Unhashable("numpy object array")
    head = f"{value.dtype.str}{value.shape}".encode()
    return hashlib.sha256(head + np.ascontiguousarray(value).tobytes()).hexdigest()


def _pandas_digest(value: Any) -> str:
    import pandas as pd

    try:
        rows = pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes()
    except TypeError as exc:
        raise Unhashable(str(exc)) from exc
    head = repr(getattr(value, "dtypes", value.dtype)).encode()
    names = repr(list(getattr(value, "columns", [getattr(value, "name", None)]))).encode()
    return hashlib.sha256(head + names + rows).hexdigest()


# -- the key ------------------------------------------------------------------
def step_key(code: str, params: dict[str, str], inputs: dict[str, str], environment_id: str) -> str:
    """The cache key from its four parts (each already a digest)."""
    digest = hashlib.sha256(b"shipyard-step-v1\0")
    digest.update(code.encode() + b"\0" + environment_id.encode() + b"\0")
    for label, part in (("p", params), ("i", inputs)):
        for name in sorted(part):
            digest.update(f"{label}:{name}={part[name]}\0".encode())
    return digest.hexdigest()


__all__ = [
    "CacheDisabledWarning",
    "CodeHasher",
    "Unhashable",
    "code_hasher",
    "is_local_module",
    "step_key",
    "value_digest",
]
