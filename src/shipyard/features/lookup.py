"""Online lookups: feature values for many entities in one round trip to the online store.

``get_online(entity_rows, features)`` returns one result row per entity row. A
value is ``None`` with a status where it cannot be served: ``missing`` (never
materialized for that entity) or ``expired`` (its event timestamp is older than
the view's ``online_ttl``, checked against the clock at read time). On-demand
features are computed by the same function ``get_historical`` uses, over the
looked-up values and the request columns.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.features.definitions import FeatureService
from shipyard.features.offline import run_on_demand
from shipyard.features.online.base import Record, online_store
from shipyard.features.online.codec import Codec
from shipyard.features.refs import Request, refs_of, resolve
from shipyard.features.registry import Definitions, registry
from shipyard.workspace import Workspace, current

PRESENT, MISSING, EXPIRED = "present", "missing", "expired"


@dataclass
class OnlineFeatures:
    """Values and per-feature statuses, one entry per entity row, in order."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    status: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "status": self.status}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def key_text(value: Any) -> str:
    """An entity key value as the text the online store is keyed by (as DuckDB casts it)."""
    kind = type(value)
    if kind is int or kind is str:
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return str(value)


def _rows(entity_rows: Any) -> list[Mapping[str, Any]]:
    if isinstance(entity_rows, pd.DataFrame):
        records: list[Mapping[str, Any]] = entity_rows.to_dict("records")
        return records
    if isinstance(entity_rows, Mapping):
        columns = {k: list(v) for k, v in entity_rows.items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise InvalidInput("entity_rows columns have different lengths.", field="entity_rows")
        n = lengths.pop() if lengths else 0
        return [{k: v[i] for k, v in columns.items()} for i in range(n)]
    if isinstance(entity_rows, Sequence) and all(
        type(r) is dict or isinstance(r, Mapping) for r in entity_rows
    ):
        return list(entity_rows)
    raise InvalidInput(
        "entity_rows must be a list of mappings like [{'customer_id': 7}], a mapping of "
        "columns, or a DataFrame.",
        field="entity_rows",
    )


def _keys(rows: Sequence[Mapping[str, Any]], view: str, join_keys: Sequence[str]) -> list[str]:
    prefix = f"{view}:"
    try:
        if len(join_keys) == 1:
            key = join_keys[0]
            return [prefix + key_text(row[key]) for row in rows]
        return [prefix + "\x1f".join(key_text(row[k]) for k in join_keys) for row in rows]
    except KeyError as exc:
        raise InvalidInput(
            f"An entity row has no join key '{exc.args[0]}' (needed by view '{view}'). "
            f"Give {list(join_keys)} in every row.",
            field=str(exc.args[0]),
        ) from exc


@dataclass(frozen=True)
class _ViewPlan:
    """What a call needs to know about one view, worked out once per request shape."""

    name: str
    join_keys: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (feature, output column)
    ttl_ns: int | None
    whole: bool  # every feature of the view, under its own name
    nulls: dict[str, None]
    by_state: dict[str, dict[str, str]]
    codec: Codec


@dataclass(frozen=True)
class _Plan:
    request: Request
    views: tuple[_ViewPlan, ...]


def _plan(
    defs: Definitions,
    features: Sequence[str] | None,
    service: str | FeatureService | None,
    full_names: bool,
) -> _Plan:
    """The resolved request and per-view plan, memoized on this registry generation."""
    try:
        memo: Any = ("online", tuple(features) if features is not None else None, service)
        hash(memo)
    except TypeError:  # unhashable input: resolve it (and report what is wrong) every time
        memo = None
    memo = memo and (*memo, full_names)
    if memo is not None and memo in defs.requests:
        plan: _Plan = defs.requests[memo]
        return plan
    request = resolve(refs_of(features, service, defs), defs, full_names=full_names)
    views = []
    for name in request.views:
        view = defs.views[name]
        columns = tuple((f, c) for (v, f), c in request.columns.items() if v == name)
        names = [c for _, c in columns]
        ttl = view.online_ttl_seconds
        views.append(
            _ViewPlan(
                name,
                tuple(view.entity.join_keys),
                columns,
                int(ttl * 1e9) if ttl is not None else None,
                [f for f, _ in columns] == list(view.columns) == names,
                dict.fromkeys(names),
                {s: dict.fromkeys(names, s) for s in (PRESENT, MISSING, EXPIRED)},
                Codec(view.columns),
            )
        )
    plan = _Plan(request, tuple(views))
    if memo is not None:
        defs.requests[memo] = plan
    return plan


def get_online(
    entity_rows: Any,
    features: Sequence[str] | None = None,
    *,
    service: str | FeatureService | None = None,
    full_names: bool = False,
    workspace: Workspace | None = None,
) -> OnlineFeatures:
    """Served feature values for ``entity_rows`` (join keys, plus request columns)."""
    workspace = workspace or current()
    defs = registry(workspace).current()
    plan = _plan(defs, features, service, full_names)
    rows = _rows(entity_rows)
    keys = [k for view in plan.views for k in _keys(rows, view.name, view.join_keys)]
    records = online_store(workspace).read(keys)
    now = time.time_ns()
    result = OnlineFeatures([{} for _ in rows], [{} for _ in rows])
    fetched: dict[str, list[dict[str, Any] | None]] = {}
    statuses: dict[str, list[str]] = {}
    for i, view in enumerate(plan.views):
        chunk = records[i * len(rows) : (i + 1) * len(rows)]
        fetched[view.name], statuses[view.name] = _decode(chunk, view, now)
        _fill(result, view, fetched[view.name], statuses[view.name])
    if plan.request.on_demand:
        _on_demand(result, plan.request, defs, rows, fetched, statuses)
    return result


def _decode(
    chunk: Sequence[Record | None], view: _ViewPlan, now: int
) -> tuple[list[dict[str, Any] | None], list[str]]:
    limit = now - view.ttl_ns if view.ttl_ns is not None else None
    decode = view.codec.decode
    values: list[dict[str, Any] | None] = []
    status: list[str] = []
    for record in chunk:
        if record is None:
            values.append(None)
            status.append(MISSING)
        elif limit is not None and record.event_ns < limit:
            values.append(None)
            status.append(EXPIRED)
        else:
            value = decode(record.payload)  # None: written for an older layout
            values.append(value)
            status.append(MISSING if value is None else PRESENT)
    return values, status


def _fill(
    result: OnlineFeatures,
    view: _ViewPlan,
    values: list[dict[str, Any] | None],
    statuses: list[str],
) -> None:
    if not view.columns:
        return
    nulls, by_state, columns = view.nulls, view.by_state, view.columns
    rows = zip(result.rows, result.status, values, statuses, strict=True)
    for row, status, record, state in rows:
        if record is None:
            row.update(nulls)
        elif view.whole and len(record) == len(nulls):
            # The usual case: the stored record is the row as is.
            row.update(record)
        else:
            row.update({c: record.get(f) for f, c in columns})
        status.update(by_state[state])


def _on_demand(
    result: OnlineFeatures,
    request: Request,
    defs: Definitions,
    rows: Sequence[Mapping[str, Any]],
    fetched: Mapping[str, list[dict[str, Any] | None]],
    statuses: Mapping[str, list[str]],
) -> None:
    for name, wanted in request.on_demand.items():
        odfv = defs.on_demand[name]
        inputs: dict[str, list[Any]] = {}
        worst = [PRESENT] * len(rows)
        for view in odfv.inputs:
            for feature in view.columns:
                inputs[feature] = [v.get(feature) if v else None for v in fetched[view.name]]
            worst = [
                w if w != PRESENT else s for w, s in zip(worst, statuses[view.name], strict=True)
            ]
        for column in odfv.request:
            missing = [i for i, r in enumerate(rows) if column not in r]
            if missing:
                raise InvalidInput(
                    f"On-demand view '{name}' needs request column '{column}' in every entity "
                    f"row (row {missing[0]} lacks it).",
                    field=column,
                )
            inputs[column] = [r[column] for r in rows]
        frame = pd.DataFrame(inputs).astype({f: "float64" for f in inputs if _numeric(odfv, f)})
        outputs = run_on_demand(odfv.fn, frame, name, list(odfv.columns))
        for feature in wanted:
            column = request.columns[(name, feature)]
            for i, value in enumerate(outputs[feature].tolist()):
                result.rows[i][column] = None if pd.isna(value) else value
                result.status[i][column] = worst[i]


def _numeric(odfv: Any, column: str) -> bool:
    types = {**{f: t for v in odfv.inputs for f, t in v.columns.items()}, **odfv.request}
    return str(types.get(column, "")).startswith(("float", "int"))
