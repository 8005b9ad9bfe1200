"""Online features for served requests: entity keys in, the feature service's values out.

A deployment with a ``feature_service`` accepts requests that carry only the
service's entity keys (and the request-time fields its on-demand views
need). ``FeatureLookup.fetch`` (blocking: the runtime calls it in a worker
thread) reads every view's records for all rows in one round trip to the
online store and decodes them column by column:

- keys become the store's key text with NumPy string operations;
- fixed-layout binary records (every numeric / boolean view) are decoded
  together by one ``numpy.frombuffer`` over the joined records, with the
  record format of ``shipyard.features.online.codec`` (version byte, layout
  tag, null bitmap, values); JSON records (views with text features, or
  written by older versions) are decoded one by one;
- ``online_ttl`` is checked against the clock, as ``get_online`` does;
- on-demand features run the view's own function once over the columns.

Definitions come from the feature registry on every call (a ~10 µs freshness
check on SQLite), so a running server follows ``features apply`` like
``get_online`` does and training and serving share one definition.

The semantics are those of ``get_online``: an entity never materialized, or
an expired value, gives null features (``NaN`` for numbers; integer features
with nulls become floats). Whether null is acceptable is for the signature
to say: the model's validation answers 422 naming the column if it is not
nullable. A request without an entity key, or sending a column the service
looks up itself, is refused with 422 as well.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from shipyard.features.online.codec import VERSION, Codec
from shipyard.serving.validation import InputSchema, Problem, failure, row_count

if TYPE_CHECKING:
    from shipyard.config import Settings
    from shipyard.features.definitions import OnDemandFeatureView
    from shipyard.features.online.base import Record
    from shipyard.features.registry import Definitions
    from shipyard.workspace import Workspace

Columns = Mapping[str, npt.NDArray[Any]]
_RECORD_TYPES = {"float64": "<f8", "float32": "<f4", "int64": "<i8", "int32": "<i4", "bool": "?"}


@dataclass(frozen=True)
class _View:
    """One feature view as a lookup reads it."""

    name: str
    join_keys: tuple[str, ...]
    types: dict[str, str]  # every feature of the view -> declared type
    fetch: tuple[str, ...]  # the features this service reads
    ttl_ns: int | None
    codec: Codec
    record: np.dtype[Any] | None  # the binary layout; None for a view stored as JSON
    tag: int
    slots: dict[str, tuple[str, int, int]]  # fetched feature -> (record field, null byte, bit)


@dataclass(frozen=True)
class _Plan:
    """A feature service resolved against one generation of definitions."""

    defs: Definitions
    views: tuple[_View, ...]
    on_demand: tuple[tuple[OnDemandFeatureView, tuple[str, ...]], ...]
    columns: dict[tuple[str, str], str]  # (view, feature) -> output column
    keys: tuple[str, ...]  # every join key, in first-seen order
    fields: tuple[str, ...]  # request-time fields of the on-demand views


@dataclass(frozen=True)
class LookedUp:
    """The features of one request, and which request columns fed them."""

    features: dict[str, npt.NDArray[Any]]
    service_inputs: frozenset[str]  # join keys and request-time fields

    def model_input(self, request: Columns, schema: InputSchema) -> dict[str, npt.NDArray[Any]]:
        """The request's columns the model takes (keys dropped unless it uses them) + features."""
        dropped = self.service_inputs.difference(schema.names)
        columns = {name: values for name, values in request.items() if name not in dropped}
        columns.update(self.features)
        return columns

    def log_inputs(self, request: Columns, valid: Columns) -> dict[str, npt.NDArray[Any]]:
        """What the model got (looked-up values included) plus the keys that found them."""
        logged = dict(valid)
        logged.update(
            {k: request[k] for k in self.service_inputs if k in request and k not in valid}
        )
        return logged


class FeatureLookup:
    """Looks up one feature service's online features for served requests."""

    def __init__(self, workspace: Workspace, service: str) -> None:
        self.workspace = workspace
        self.service = service
        self._plan: _Plan | None = None

    def plan(self) -> _Plan:
        """The service resolved against the current definitions (re-resolved after an apply)."""
        from shipyard.features.registry import registry

        defs = registry(self.workspace).current()
        plan = self._plan
        if plan is None or plan.defs is not defs:
            plan = self._plan = _resolve(defs, self.service)
        return plan

    def fetch(self, request: Columns) -> LookedUp:
        """The service's features for every row of ``request`` (blocking; one store round trip)."""
        from shipyard.features.online.base import online_store

        plan = self.plan()
        _check_request(plan, request, self.service)
        rows = row_count(request)
        features: dict[str, npt.NDArray[Any]] = {}
        fetched: dict[str, dict[str, npt.NDArray[Any]]] = {}
        if rows:
            keys = [k for view in plan.views for k in _store_keys(view, request)]
            records = online_store(self.workspace).read(keys)
            now = time.time_ns()
            for i, view in enumerate(plan.views):
                chunk = records[i * rows : (i + 1) * rows]
                fetched[view.name] = _decode(view, chunk, now)
        else:
            fetched = {v.name: {f: np.array([], dtype=float) for f in v.fetch} for v in plan.views}
        for (name, feature), column in plan.columns.items():
            if name in fetched:
                features[column] = fetched[name][feature]
        for odfv, wanted in plan.on_demand:
            computed = _on_demand(odfv, fetched, request, rows)
            features.update({plan.columns[(odfv.name, f)]: computed[f] for f in wanted})
        return LookedUp(features, frozenset(plan.keys + plan.fields))

    def close(self) -> None:
        self.workspace.close()


def open_lookup(settings: Settings, service: str) -> FeatureLookup:
    """A lookup for ``service`` on its own workspace, resolved now: a bad name fails at startup."""
    from shipyard.workspace import Workspace

    lookup = FeatureLookup(Workspace(settings), service)
    try:
        lookup.plan()
    except BaseException:
        lookup.close()
        raise
    return lookup


# -- resolving the service ---------------------------------------------------------


def _resolve(defs: Definitions, service: str) -> _Plan:
    from shipyard.features.refs import refs_of, resolve

    request = resolve(refs_of(None, service, defs), defs)
    views = tuple(_view(defs, name, tuple(wanted)) for name, wanted in request.views.items())
    on_demand = tuple(
        (defs.on_demand[name], tuple(wanted)) for name, wanted in request.on_demand.items()
    )
    keys = dict.fromkeys(k for v in views for k in v.join_keys)
    fields = dict.fromkeys(f for odfv, _ in on_demand for f in odfv.request if f not in keys)
    return _Plan(defs, views, on_demand, dict(request.columns), tuple(keys), tuple(fields))


def _view(defs: Definitions, name: str, fetch: tuple[str, ...]) -> _View:
    view = defs.views[name]
    types = dict(view.columns)
    codec = Codec(types)
    ttl = view.online_ttl_seconds
    position = {feature: i for i, feature in enumerate(types)}
    return _View(
        name,
        tuple(view.entity.join_keys),
        types,
        fetch,
        int(ttl * 1e9) if ttl is not None else None,
        codec,
        _record_dtype(types, codec.null_bytes) if codec.binary else None,
        int.from_bytes(codec.tag, "little"),
        {f: (f"v{position[f]}", position[f] // 8, position[f] % 8) for f in fetch},
    )


def _record_dtype(types: Mapping[str, str], null_bytes: int) -> np.dtype[Any]:
    """The codec's binary record as a packed NumPy structured dtype."""
    fields: list[Any] = [("version", "u1"), ("tag", "<u4"), ("nulls", "u1", (null_bytes,))]
    fields += [(f"v{i}", _RECORD_TYPES[t]) for i, t in enumerate(types.values())]
    return np.dtype(fields)


def _check_request(plan: _Plan, request: Columns, service: str) -> None:
    problems = [
        Problem(key, f"missing column: the entity key of feature service '{service}'")
        for key in plan.keys
        if key not in request
    ]
    problems += [
        Problem(field, f"missing column: a request-time field of feature service '{service}'")
        for field in plan.fields
        if field not in request
    ]
    looked_up = set(plan.columns.values())
    problems += [
        Problem(name, f"looked up from feature service '{service}'; do not send it")
        for name in request
        if name in looked_up
    ]
    if problems:
        raise failure(problems)


# -- keys and records --------------------------------------------------------------


def _store_keys(view: _View, request: Columns) -> list[str]:
    """``view:key`` texts as the online store is keyed (the key's text form)."""
    texts = _key_texts(request[view.join_keys[0]])
    for key in view.join_keys[1:]:
        texts = np.char.add(np.char.add(texts, "\x1f"), _key_texts(request[key]))
    keys: list[str] = np.char.add(f"{view.name}:", texts).tolist()
    return keys


def _key_texts(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    kind = values.dtype.kind
    if kind == "O" and len(values):
        try:
            natural = np.asarray(values.tolist())
        except ValueError:
            natural = values
        if natural.ndim == 1 and natural.dtype.kind in "iuUb":
            return _key_texts(natural)
    if kind == "b":
        return np.where(values, "true", "false")
    if kind in "iufU":
        return values.astype(str)
    if kind == "S":
        return np.char.decode(values, "utf-8")
    from shipyard.features.lookup import key_text

    # Mixed or null keys: the feature store's own rule, value by value.
    return np.array([key_text(v) for v in values.tolist()], dtype=str)


Decoded = tuple[dict[str, npt.NDArray[Any]], dict[str, npt.NDArray[np.bool_]] | None]


def _decode(view: _View, chunk: Sequence[Record | None], now: int) -> dict[str, npt.NDArray[Any]]:
    """The fetched features of one view as columns (null where missing or expired)."""
    rows = len(chunk)
    found = [r for r in chunk if r is not None]
    at: npt.NDArray[np.intp] | None = None  # the rows that have a record (None: all of them)
    if len(found) < rows:
        at = np.flatnonzero(np.fromiter((r is not None for r in chunk), bool, count=rows))
    payloads: Sequence[bytes] = ()
    if found:
        events, _, payloads = zip(*found, strict=True)
        if view.ttl_ns is not None:
            fresh = np.asarray(events, dtype=np.int64) >= now - view.ttl_ns
            if not fresh.all():
                at = (np.arange(rows) if at is None else at)[fresh]
                payloads = tuple(compress(payloads, fresh))
    decoded = _binary(view, payloads) if view.record is not None else None
    values, nulls = decoded if decoded is not None else _one_by_one(view, payloads)
    return {
        f: _column(view.types[f], rows, at, values[f], None if nulls is None else nulls[f])
        for f in view.fetch
    }


def _binary(view: _View, payloads: Sequence[bytes]) -> Decoded | None:
    """Every record decoded at once; ``None`` unless all are this view's binary records."""
    record = view.record
    assert record is not None
    if set(map(len, payloads)) != {record.itemsize}:
        return None
    try:
        block = np.frombuffer(b"".join(payloads), dtype=record)
    except TypeError:  # text records of an old store
        return None
    if not ((block["version"] == VERSION).all() and (block["tag"] == view.tag).all()):
        return None  # written for another layout: sorted out record by record
    values = {f: block[field] for f, (field, _, _) in view.slots.items()}
    flags = block["nulls"]
    if not flags.any():
        return values, None
    nulls = {
        f: (flags[:, byte] >> bit & 1).astype(bool) for f, (_, byte, bit) in view.slots.items()
    }
    return values, nulls


def _one_by_one(view: _View, payloads: Sequence[bytes]) -> Decoded:
    """Records decoded by the codec one by one (JSON records, or another layout: missing)."""
    records = [view.codec.decode(payload) or {} for payload in payloads]
    values: dict[str, npt.NDArray[Any]] = {}
    nulls: dict[str, npt.NDArray[np.bool_]] = {}
    for feature in view.fetch:
        column = np.empty(len(records), dtype=object)
        column[:] = [record.get(feature) for record in records]
        values[feature] = column
        nulls[feature] = np.equal(column, np.array(None, dtype=object)).astype(bool)
    return values, nulls


def _column(
    kind: str,
    rows: int,
    at: npt.NDArray[np.intp] | None,
    values: npt.NDArray[Any],
    nulls: npt.NDArray[np.bool_] | None,
) -> npt.NDArray[Any]:
    """One feature over all rows: ``values`` at rows ``at`` (all when ``None``)."""
    if at is None and nulls is None:  # the usual case: every entity found, no null value
        return _typed(kind, values, np.zeros(rows, dtype=bool))
    full = np.zeros(rows, dtype=values.dtype) if values.dtype.kind != "O" else _nones(rows)
    missing = np.ones(rows, dtype=bool)
    target = slice(None) if at is None else at
    full[target] = values
    missing[target] = False if nulls is None else nulls
    return _typed(kind, full, missing)


def _nones(rows: int) -> npt.NDArray[Any]:
    return np.full(rows, None, dtype=object)


def _typed(kind: str, values: npt.NDArray[Any], nulls: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
    """Floats with NaN; ints as int64 (floats with NaN if any null); else objects with None."""
    has_nulls = bool(nulls.any())
    if kind in _RECORD_TYPES and values.dtype.kind == "O" and has_nulls:
        values = np.where(nulls, 0, values)
    if kind.startswith("float") or (kind.startswith("int") and has_nulls):
        out = values.astype(np.float64)
        if has_nulls:
            out[nulls] = np.nan
        return out
    if kind.startswith("int"):
        return values.astype(np.int64)
    if kind == "bool" and not has_nulls:
        return values.astype(bool)
    out = values.astype(object)
    if has_nulls:
        out[nulls] = None
    return out


def _on_demand(
    odfv: OnDemandFeatureView,
    fetched: Mapping[str, Mapping[str, npt.NDArray[Any]]],
    request: Columns,
    rows: int,
) -> Any:
    """The view's own function over the looked-up columns and the request fields."""
    import pandas as pd

    from shipyard.features.offline import run_on_demand

    inputs: dict[str, Any] = {}
    for view in odfv.inputs:
        inputs.update({f: fetched[view.name][f] for f in view.columns})
    inputs.update({f: request[f] for f in odfv.request})
    types = {**{f: t for v in odfv.inputs for f, t in v.columns.items()}, **odfv.request}
    numeric = {f: "float64" for f in inputs if str(types.get(f, "")).startswith(("float", "int"))}
    frame = pd.DataFrame(inputs, index=pd.RangeIndex(rows)).astype(numeric)
    outputs = run_on_demand(odfv.fn, frame, odfv.name, list(odfv.columns))
    return {f: _plain(outputs[f]) for f in odfv.columns}


def _plain(series: Any) -> npt.NDArray[Any]:
    array: npt.NDArray[Any] = series.to_numpy()
    if array.dtype.kind == "O":
        array = array.copy()
        array[series.isna().to_numpy()] = None
    return array
