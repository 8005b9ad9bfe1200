"""Feature definitions in code: entities, feature views, on-demand views, services.

Each feature is defined once, here, and the same definition feeds training
(``get_historical``) and serving (``get_online``)::

    customer = Entity("customer", join_keys=["customer_id"])
    spend = FeatureView(
        "customer_spend",
        entity=customer,
        source="data/transactions/*.parquet",
        timestamp="event_timestamp",
        features={"amount_7d": "float64", "orders_7d": "int64"},
        lookback=timedelta(days=30),      # point-in-time look-back window
        online_ttl=timedelta(days=2),     # expiry of served values
    )

Two different windows that Feast calls "ttl" are named apart: ``lookback``
limits how old a feature row may be when joined to a training row;
``online_ttl`` limits how old (by event time) a served value may be.

A definition turns into a ``spec`` (plain JSON) for the registry; a view's
version changes whenever its spec changes — schema, source, timestamps,
windows or transformation code (hashed as source text).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.features.sources import Source, source_from_spec, to_source

Transform = Callable[[pd.DataFrame], pd.DataFrame]

# Declared type -> DuckDB column types a source may hold for it.
DTYPES: dict[str, frozenset[str]] = {
    "float64": frozenset({"DOUBLE", "FLOAT"}),
    "float32": frozenset({"FLOAT", "DOUBLE"}),
    "int64": frozenset({"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "USMALLINT"}),
    "int32": frozenset({"INTEGER", "SMALLINT", "TINYINT"}),
    "string": frozenset({"VARCHAR"}),
    "bool": frozenset({"BOOLEAN"}),
}
_PY_TYPES: dict[type, str] = {float: "float64", int: "int64", str: "string", bool: "bool"}


def check_name(value: object, what: str) -> str:
    """A definition name: letters, digits, ``_`` and ``-``; no ``:`` (it splits refs)."""
    if (
        not isinstance(value, str)
        or not value
        or not value.replace("_", "a").replace("-", "a").isalnum()
    ):
        raise InvalidInput(
            f"{what} name must be letters, digits, '_' or '-', got {value!r}.", field=what
        )
    return value


def _dtype(name: str, value: object) -> str:
    if isinstance(value, type) and value in _PY_TYPES:
        return _PY_TYPES[value]
    if isinstance(value, str) and value in DTYPES:
        return value
    raise InvalidInput(
        f"Feature '{name}' has type {value!r}; use one of {sorted(DTYPES)} "
        "(or float, int, str, bool).",
        field=name,
    )


def _features(features: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(features, Mapping) or not features:
        raise InvalidInput(
            "features must be a non-empty mapping of name to type, e.g. {'amount': 'float64'}.",
            field="features",
        )
    return {check_name(n, "feature"): _dtype(n, t) for n, t in features.items()}


def _seconds(value: timedelta | float | int | None, what: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise InvalidInput(f"{what} must be positive, got {value!r}.", field=what)
    return seconds


def code_of(fn: Callable[..., Any], what: str) -> str:
    """The source text of a transformation, which is what gets hashed and stored."""
    if getattr(fn, "__name__", "") == "<lambda>":
        raise InvalidInput(
            f"{what} must be a named function (def), not a lambda: its source is stored "
            "and hashed so that training and serving run the same code.",
            field=what,
        )
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise InvalidInput(
            f"Cannot read the source of {what} {fn!r}: {exc}. Define it in a .py file.",
            field=what,
        ) from exc


def function_from_code(code: str, name: str) -> Transform:
    """Rebuild a stored transformation (self-contained; ``pd``/``np`` are in scope)."""
    import numpy as np

    namespace: dict[str, Any] = {"pd": pd, "np": np}
    lines = [line for line in code.splitlines() if not line.lstrip().startswith("@")]
    exec(compile("\n".join(lines), f"<feature transform {name}>", "exec"), namespace)
    fn: Transform = namespace[name]
    return fn


@dataclass(frozen=True)
class Entity:
    """What features describe (a customer, a card…), and the columns that key it."""

    name: str
    join_keys: Sequence[str]
    description: str = ""

    def __post_init__(self) -> None:
        check_name(self.name, "entity")
        keys = [self.join_keys] if isinstance(self.join_keys, str) else list(self.join_keys)
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise InvalidInput(
                f"Entity '{self.name}' needs join_keys, a list of column names.",
                field="join_keys",
            )
        object.__setattr__(self, "join_keys", tuple(keys))

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "description": self.description,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Entity:
        return cls(spec["name"], spec["join_keys"], spec.get("description", ""))


@dataclass(frozen=True)
class FeatureView:
    """Typed features over an entity key, from one source, with one transformation.

    ``transform`` is a function over a pandas DataFrame (the source rows, returning
    keys, timestamps and features) or a DuckDB ``SELECT … FROM source``.
    """

    name: str
    entity: Entity
    source: Source | str
    features: Mapping[str, Any]
    timestamp: str = "event_timestamp"
    created_timestamp: str | None = None
    lookback: timedelta | float | None = None
    online_ttl: timedelta | float | None = None
    transform: Transform | str | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "feature view")
        if not isinstance(self.entity, Entity):
            raise InvalidInput(
                f"Feature view '{self.name}': entity must be an Entity, got {self.entity!r}.",
                field="entity",
            )
        object.__setattr__(self, "source", to_source(self.source))
        object.__setattr__(self, "features", _features(self.features))
        clash = set(self.features) & {*self.entity.join_keys, self.timestamp}
        if clash:
            raise InvalidInput(
                f"Feature view '{self.name}': {sorted(clash)} are keys or timestamps, "
                "not features.",
                field="features",
            )
        _seconds(self.lookback, "lookback")
        _seconds(self.online_ttl, "online_ttl")
        if self.transform is not None and not (
            isinstance(self.transform, str) or callable(self.transform)
        ):
            raise InvalidInput(
                f"Feature view '{self.name}': transform must be a function or a SQL query.",
                field="transform",
            )

    @property
    def lookback_seconds(self) -> float | None:
        return _seconds(self.lookback, "lookback")

    @property
    def online_ttl_seconds(self) -> float | None:
        return _seconds(self.online_ttl, "online_ttl")

    @property
    def columns(self) -> dict[str, str]:
        """Feature name -> declared type."""
        return dict(self.features)

    def transform_spec(self) -> dict[str, str] | None:
        if self.transform is None:
            return None
        if isinstance(self.transform, str):
            return {"kind": "sql", "code": self.transform}
        code = transform_code(self.transform, "transform")
        return {"kind": "python", "code": code, "name": self.transform.__name__}

    def spec(self) -> dict[str, Any]:
        assert isinstance(self.source, Source)
        return {
            "kind": "feature_view",
            "name": self.name,
            "entity": self.entity.spec(),
            "source": self.source.spec(),
            "timestamp": self.timestamp,
            "created_timestamp": self.created_timestamp,
            "lookback_seconds": self.lookback_seconds,
            "online_ttl_seconds": self.online_ttl_seconds,
            "features": self.columns,
            "transform": self.transform_spec(),
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FeatureView:
        transform: Transform | str | None = None
        stored = spec.get("transform")
        if stored and stored["kind"] == "sql":
            transform = stored["code"]
        elif stored:
            transform = _StoredTransform(stored["code"], stored["name"])
        return cls(
            name=spec["name"],
            entity=Entity.from_spec(spec["entity"]),
            source=source_from_spec(spec["source"]),
            features=spec["features"],
            timestamp=spec["timestamp"],
            created_timestamp=spec.get("created_timestamp"),
            lookback=spec.get("lookback_seconds"),
            online_ttl=spec.get("online_ttl_seconds"),
            transform=transform,
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
        )


class _StoredTransform:
    """A transformation rebuilt from the registry; keeps its stored source text."""

    def __init__(self, code: str, name: str) -> None:
        self.code = code
        self.__name__ = name
        self._fn = function_from_code(code, name)

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self._fn(frame)


def transform_code(fn: Callable[..., Any], what: str) -> str:
    stored = getattr(fn, "code", None)
    return stored if isinstance(stored, str) else code_of(fn, what)


@dataclass(frozen=True)
class OnDemandFeatureView:
    """Request-time features: ``fn`` over input features and request columns.

    The same function runs on the point-in-time frame offline and on the looked-up
    values online. It takes a DataFrame holding every feature of ``inputs`` and the
    ``request`` columns, and returns a DataFrame with the declared ``features``.
    """

    name: str
    inputs: Sequence[FeatureView]
    features: Mapping[str, Any]
    fn: Transform
    request: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        check_name(self.name, "on-demand feature view")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "features", _features(self.features))
        object.__setattr__(
            self,
            "request",
            {check_name(n, "request"): _dtype(n, t) for n, t in self.request.items()},
        )
        if not callable(self.fn):
            raise InvalidInput(f"On-demand view '{self.name}': fn must be a function.", field="fn")

    @property
    def columns(self) -> dict[str, str]:
        return dict(self.features)

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "on_demand",
            "name": self.name,
            "inputs": [view.name for view in self.inputs],
            "request": dict(self.request),
            "features": self.columns,
            "transform": {
                "kind": "python",
                "code": transform_code(self.fn, "fn"),
                "name": self.fn.__name__,
            },
            "description": self.description,
        }

    @classmethod
    def from_spec(
        cls, spec: Mapping[str, Any], views: Mapping[str, FeatureView]
    ) -> OnDemandFeatureView:
        stored = spec["transform"]
        return cls(
            name=spec["name"],
            inputs=[views[name] for name in spec["inputs"]],
            features=spec["features"],
            fn=_StoredTransform(stored["code"], stored["name"]),
            request=spec.get("request", {}),
            description=spec.get("description", ""),
        )


@dataclass(frozen=True)
class FeatureService:
    """A named set of features one model consumes: ``view:feature`` refs or whole views."""

    name: str
    features: Sequence[str | FeatureView | OnDemandFeatureView]
    description: str = ""

    def __post_init__(self) -> None:
        check_name(self.name, "feature service")
        if not self.features:
            raise InvalidInput(
                f"Feature service '{self.name}' lists no features.", field="features"
            )

    @property
    def refs(self) -> list[str]:
        out: list[str] = []
        for item in self.features:
            if isinstance(item, str):
                out.append(item)
            else:
                out.extend(f"{item.name}:{name}" for name in item.columns)
        return out

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "service",
            "name": self.name,
            "features": self.refs,
            "description": self.description,
        }


Definition = Entity | FeatureView | OnDemandFeatureView | FeatureService


def spec_hash(spec: Mapping[str, Any]) -> str:
    """The version identity of a definition: SHA-256 of its canonical JSON spec."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
