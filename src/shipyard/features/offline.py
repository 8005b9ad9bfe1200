"""Point-in-time-correct training data: DuckDB ASOF joins over the feature sources.

For every entity row, each view contributes its latest feature row with the
same key and ``event_timestamp <= the row's timestamp``; rows with the same
key and event time are resolved by the created timestamp (latest wins), and a
row older than the view's ``lookback`` gives nulls. The output has exactly one
row per input row, in the input order, with the input's columns kept and a
``<view>__status`` column per view: ``present``, ``not_found`` (no row at or
before the timestamp) or ``outside_lookback``.

Timestamps are compared as UTC nanoseconds: a tz-naive timestamp is taken to be
UTC; a column mixing tz-aware and tz-naive values is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput
from shipyard.features.asof import SortedCache, SortedRows, build, entity_codes, latest
from shipyard.features.definitions import DTYPES, FeatureService, FeatureView
from shipyard.features.refs import Request, refs_of, resolve
from shipyard.features.registry import Definitions, registry
from shipyard.features.sources import quote
from shipyard.store.lineage import Edge, add_edges
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    from shipyard.tracking import Run

PRESENT, NOT_FOUND, OUTSIDE_LOOKBACK = "present", "not_found", "outside_lookback"
_TIMESTAMP_TYPES = {"TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "TIMESTAMP_NS"}
_CASTABLE_TIMESTAMPS = {"DATE", "TIMESTAMP_S", "TIMESTAMP_MS"}
_TZ_SUFFIX = r"(?:Z|[+-]\d\d:?\d\d)$"
# The ns value of a null time: below every real one (an entity row without a time
# joins nothing; a feature row without a created time loses every tie).
NO_TIME = np.iinfo(np.int64).min


class DuckDB:
    """One in-memory DuckDB database per workspace; each call works on its own cursor.

    Opening a database costs ~0.1 s; a cursor costs microseconds and keeps its
    temporary views and registered frames to itself, so calls never collide.
    """

    def __init__(self, workspace: Workspace | None = None) -> None:
        self._base = duckdb.connect()
        # Only epoch values cross the boundary, but keep displayed times in UTC too.
        self._base.execute("SET GLOBAL TimeZone = 'UTC'")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._base.cursor()

    def close(self) -> None:
        self._base.close()


def connect(workspace: Workspace | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB cursor (on the workspace's database when given); close it after use."""
    if workspace is None:
        return DuckDB().cursor()
    return workspace.service("features.duckdb", DuckDB).cursor()


def to_pandas(relation: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """A relation as pandas, through Arrow (keeps time zones, no deprecated paths)."""
    frame: pd.DataFrame = relation.to_arrow_table().to_pandas()
    return frame


# -- timestamps -------------------------------------------------------------------
def utc_timestamps(series: pd.Series, field: str) -> pd.Series:
    """``series`` as UTC datetimes; naive values are UTC; mixed awareness is an error."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return series.dt.tz_localize("UTC")
    values = series.dropna()
    aware = values.map(_is_aware).astype(bool)
    if aware.any() and not aware.all():
        first_naive = values[~aware].iloc[0]
        first_aware = values[aware].iloc[0]
        raise InvalidInput(
            f"Column '{field}' mixes tz-aware ({first_aware!r}) and tz-naive "
            f"({first_naive!r}) timestamps. Make them all aware (e.g. UTC) or all naive "
            "(naive means UTC).",
            field=field,
        )
    try:
        return pd.to_datetime(series, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"Column '{field}' must hold timestamps; {exc}. Pass datetimes or ISO 8601 text.",
            field=field,
        ) from exc


def _is_aware(value: Any) -> bool:
    if isinstance(value, str):
        import re

        return re.search(_TZ_SUFFIX, value.strip()) is not None
    return getattr(value, "tzinfo", None) is not None


def utc_nanos(series: pd.Series, field: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    """UTC nanoseconds since the epoch; a null timestamp is ``NO_TIME`` (it matches nothing)."""
    stamps = utc_timestamps(series, field)
    as_ns = stamps.dt.as_unit("ns").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    nanos: np.ndarray[Any, np.dtype[np.int64]] = as_ns.view(np.int64)  # NaT is NO_TIME
    return nanos


# -- entity rows --------------------------------------------------------------------
def entity_frame(entity_df: Any, timestamp: str, keys: Sequence[str]) -> pd.DataFrame:
    """The caller's rows with UTC timestamps plus ``__row`` (order) and ``__ts`` (ns)."""
    if isinstance(entity_df, pa.Table):
        entity_df = entity_df.to_pandas()
    if not isinstance(entity_df, pd.DataFrame):
        raise InvalidInput(
            f"entity_df must be a pandas DataFrame or a pyarrow Table, got "
            f"{type(entity_df).__name__}.",
            field="entity_df",
        )
    for column, role in [(timestamp, "timestamp"), *((k, "join key") for k in keys)]:
        if column not in entity_df.columns:
            raise InvalidInput(
                f"entity_df has no {role} column '{column}' (columns: "
                f"{list(entity_df.columns)}). Add it"
                + (" or pass timestamp='…'." if role == "timestamp" else "."),
                field=column,
            )
    frame = entity_df.reset_index(drop=True)
    frame[timestamp] = utc_timestamps(frame[timestamp], timestamp)
    frame["__ts"] = utc_nanos(frame[timestamp], timestamp)
    frame["__row"] = np.arange(len(frame), dtype=np.int64)
    return frame


# -- feature relations ------------------------------------------------------------------
def _describe(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    rows = con.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _base_type(duck_type: str) -> str:
    return duck_type.split("(")[0].strip()


def check_columns(view: FeatureView, columns: Mapping[str, str]) -> None:
    """Keys, timestamps and features exist with the declared types, or an error says which."""
    needed = [*view.entity.join_keys, view.timestamp]
    if view.created_timestamp:
        needed.append(view.created_timestamp)
    missing = [c for c in [*needed, *view.columns] if c not in columns]
    if missing:
        raise InvalidInput(
            f"Feature view '{view.name}': its source has no column(s) {missing} "
            f"(it has {sorted(columns)}). Fix the source or the definition.",
            field=missing[0],
        )
    for column in [view.timestamp, *([view.created_timestamp] if view.created_timestamp else [])]:
        kind = _base_type(columns[column])
        if kind not in _TIMESTAMP_TYPES | _CASTABLE_TIMESTAMPS:
            raise InvalidInput(
                f"Feature view '{view.name}': timestamp column '{column}' is {columns[column]}, "
                "not a timestamp. Cast it in the source or a transform.",
                field=column,
            )
    for name, declared in view.columns.items():
        found = _base_type(columns[name])
        if found not in DTYPES[declared]:
            raise InvalidInput(
                f"Feature view '{view.name}': feature '{name}' is declared {declared} but "
                f"the source column is {columns[name]}. Change the declared type or cast "
                "the column in the source.",
                field=name,
            )


def _epoch(column: str, duck_type: str) -> str:
    if _base_type(duck_type) in _TIMESTAMP_TYPES:
        return f"epoch_ns({quote(column)})"
    return f"epoch_ns(CAST({quote(column)} AS TIMESTAMP))"


def source_relation(
    con: duckdb.DuckDBPyConnection, view: FeatureView, alias: str, workspace: Workspace
) -> str:
    """Register the view's transformed source rows under ``alias``; return its SQL name."""
    raw = view.source.relation(workspace)  # type: ignore[union-attr]
    try:
        if isinstance(view.transform, str):
            con.execute(
                f"CREATE TEMP VIEW {alias} AS WITH source AS (SELECT * FROM {raw}) {view.transform}"
            )
        elif view.transform is not None:
            frame = view.transform(to_pandas(con.sql(f"SELECT * FROM {raw}")))
            if not isinstance(frame, pd.DataFrame):
                raise InvalidInput(
                    f"Feature view '{view.name}': transform returned "
                    f"{type(frame).__name__}, not a DataFrame.",
                    field="transform",
                )
            con.register(alias, frame)
        else:
            con.execute(f"CREATE TEMP VIEW {alias} AS SELECT * FROM {raw}")
    except duckdb.Error as exc:
        raise InvalidInput(
            f"Feature view '{view.name}': cannot read its source: {exc}", field="source"
        ) from exc
    return alias


def feature_relation(
    con: duckdb.DuckDBPyConnection,
    view: FeatureView,
    features: Sequence[str],
    alias: str,
    workspace: Workspace,
    *,
    ties: bool = True,
) -> None:
    """Register ``alias``: keys, ``__ts`` (event ns), ``__created`` (ns) and features.

    With ``ties`` and a created timestamp, also ``<alias>_ties``: for each key and
    event time held by more than one row, the features of the latest created one
    (``__s``, a struct). Ties are rare, so resolving them after the ASOF join is
    cheaper than reducing every row with a window.
    """
    src = source_relation(con, view, f"{alias}_src", workspace)
    columns = _describe(con, src)
    check_columns(view, columns)
    keys = ", ".join(quote(k) for k in view.entity.join_keys)
    values = ", ".join(quote(f) for f in features)
    ts = _epoch(view.timestamp, columns[view.timestamp])
    created = (
        # NO_TIME written as (min + 1) - 1: DuckDB reads the literal before the minus sign.
        f"coalesce({_epoch(view.created_timestamp, columns[view.created_timestamp])}, "
        f"CAST({NO_TIME + 1} AS BIGINT) - 1)"
        if view.created_timestamp
        else "0"
    )
    con.execute(
        f"CREATE TEMP VIEW {alias} AS SELECT {keys}, {ts} AS __ts, {created} AS __created, "
        f"{values} FROM {src} WHERE {quote(view.timestamp)} IS NOT NULL"
    )
    if view.created_timestamp and ties:
        packed = ", ".join(f"{quote(f)} := s.{quote(f)}" for f in features)
        tied_keys = ", ".join(f"s.{quote(k)}" for k in view.entity.join_keys)
        con.execute(
            f"CREATE TEMP VIEW {alias}_ties AS WITH d AS (SELECT {keys}, __ts FROM {alias} "
            f"GROUP BY ALL HAVING count(*) > 1) SELECT {tied_keys}, "
            f"s.__ts, arg_max(struct_pack({packed}), s.__created) AS __s "
            f"FROM {alias} s SEMI JOIN d USING ({keys}, __ts) GROUP BY ALL"
        )


# -- the join ------------------------------------------------------------------------
_STATUSES = [PRESENT, NOT_FOUND, OUTSIDE_LOOKBACK]  # codes 0, 1, 2


def sorted_rows(view: FeatureView, workspace: Workspace) -> SortedRows:
    """The view's rows sorted for as-of matching, cached on the workspace per source version."""

    def make() -> SortedRows:
        con = connect(workspace)
        try:
            feature_relation(con, view, list(view.columns), "__fv", workspace, ties=False)
            return build(con, view, "__fv")
        finally:
            con.close()

    cache = workspace.service("features.sorted_rows", SortedCache)
    return cache.get(view, workspace, make)


def pit_join(
    entity: pd.DataFrame,
    views: Sequence[tuple[FeatureView, Sequence[str]]],
    workspace: Workspace,
) -> pd.DataFrame:
    """Per view, each entity row's latest feature row (see ``asof``), in the input order."""
    stamps = entity["__ts"].to_numpy().astype(np.int64)
    values: dict[str, pa.ChunkedArray] = {}
    statuses: dict[str, np.ndarray[Any, np.dtype[np.int8]]] = {}
    for view, features in views:
        rows = sorted_rows(view, workspace)
        keys = {k: pa.array(entity[k]) for k in view.entity.join_keys}
        at = latest(rows, entity_codes(rows, keys), stamps)
        status = np.where(at < 0, 1, 0).astype(np.int8)  # codes of _STATUSES
        if view.lookback_seconds is not None:
            oldest = stamps - int(view.lookback_seconds * 1e9)
            status[(at >= 0) & (rows.stamps[np.maximum(at, 0)] < oldest)] = 2
        taken = rows.table.select(list(features)).take(pa.array(at, mask=status != 0))
        for feature, column in zip(features, taken.columns, strict=True):
            values[f"{view.name}__{feature}"] = column
        statuses[f"{view.name}__status"] = status
    added = pa.table(values).to_pandas() if values else pd.DataFrame(index=entity.index)
    for name, codes in statuses.items():
        added[name] = pd.Categorical.from_codes(codes, categories=_STATUSES)
    return pd.concat([entity.drop(columns=["__ts"]), added], axis=1)


# -- on-demand features --------------------------------------------------------------
def apply_on_demand(frame: pd.DataFrame, request: Request, defs: Definitions) -> None:
    """Add each requested on-demand view's outputs (and status) to ``frame`` in place."""
    for name, wanted in request.on_demand.items():
        odfv = defs.on_demand[name]
        inputs = pd.DataFrame(index=frame.index)
        statuses = []
        for view in odfv.inputs:
            for feature in view.columns:
                inputs[feature] = frame[f"{view.name}__{feature}"]
            statuses.append(frame[f"{view.name}__status"])
        for column in odfv.request:
            if column not in frame.columns:
                raise InvalidInput(
                    f"On-demand view '{name}' needs request column '{column}'; add it to "
                    "the entity rows.",
                    field=column,
                )
            inputs[column] = frame[column]
        outputs = run_on_demand(odfv.fn, inputs, name, list(odfv.columns))
        for feature in wanted:
            frame[f"{name}__{feature}"] = outputs[feature].to_numpy()
        frame[f"{name}__status"] = pd.Categorical(_worst(statuses, len(frame)), _STATUSES)


def run_on_demand(fn: Any, inputs: pd.DataFrame, name: str, columns: list[str]) -> pd.DataFrame:
    outputs = fn(inputs)
    if not isinstance(outputs, pd.DataFrame) or len(outputs) != len(inputs):
        raise InvalidInput(
            f"On-demand view '{name}': its function must return a DataFrame with one row per "
            f"input row, got {type(outputs).__name__}.",
            field="fn",
        )
    missing = [c for c in columns if c not in outputs.columns]
    if missing:
        raise InvalidInput(
            f"On-demand view '{name}': its function did not return {missing}.", field="fn"
        )
    return outputs.reset_index(drop=True)


def _worst(statuses: Sequence[pd.Series], rows: int) -> np.ndarray[Any, Any]:
    out = np.full(rows, PRESENT, dtype=object)
    for status in statuses:
        values = status.to_numpy()
        out = np.where((out == PRESENT) & (values != PRESENT), values, out)
    return out


# -- the public call ------------------------------------------------------------------
def get_historical(
    entity_df: Any,
    features: Sequence[str] | None = None,
    *,
    service: str | FeatureService | None = None,
    timestamp: str = "event_timestamp",
    run: Run | str | None = None,
    full_names: bool = False,
    status: bool = True,
    output: str = "pandas",
    workspace: Workspace | None = None,
) -> Any:
    """Point-in-time-correct features for every row of ``entity_df``.

    ``entity_df`` holds the join keys and ``timestamp``; the result keeps its rows,
    order and columns and adds the features (and ``<view>__status`` columns unless
    ``status=False``). ``run`` records the view versions as inputs of that run.
    """
    workspace = workspace or current()
    if output not in ("pandas", "arrow"):
        raise InvalidInput(f"output must be 'pandas' or 'arrow', got {output!r}.", field="output")
    defs = registry(workspace).current()
    request = resolve(refs_of(features, service, defs), defs, full_names=full_names)
    keys = sorted({k for v in request.views for k in defs.views[v].entity.join_keys})
    entity = entity_frame(entity_df, timestamp, keys)
    _check_output_names(entity, request)
    views = [(defs.views[name], wanted) for name, wanted in request.views.items()]
    frame = pit_join(entity, views, workspace)
    apply_on_demand(frame, request, defs)
    frame = _final_columns(frame, entity, request, status)
    if isinstance(entity_df, pd.DataFrame):
        frame.index = entity_df.index
    if run is not None:
        _record_lineage(workspace, defs, request, run)
    return pa.Table.from_pandas(frame, preserve_index=False) if output == "arrow" else frame


def _check_output_names(entity: pd.DataFrame, request: Request) -> None:
    clash = [c for c in request.columns.values() if c in entity.columns]
    if clash:
        raise InvalidInput(
            f"entity_df already has column(s) {clash}, which are also requested features. "
            "Rename them or pass full_names=True.",
            field=clash[0],
        )


def _final_columns(
    frame: pd.DataFrame, entity: pd.DataFrame, request: Request, status: bool
) -> pd.DataFrame:
    base = [c for c in entity.columns if c not in ("__row", "__ts")]
    renames = {f"{v}__{f}": column for (v, f), column in request.columns.items()}
    statuses = [f"{v}__status" for v in dict.fromkeys(v for v, _ in request.columns)]
    statuses = statuses if status else []
    out = frame[[*base, *renames, *statuses]]
    return out.rename(columns=renames)


def _record_lineage(workspace: Workspace, defs: Definitions, request: Request, run: Any) -> None:
    run_id = run if isinstance(run, str) else run.id
    names = sorted({*request.views, *request.on_demand})
    add_edges(workspace.store, [Edge(defs.node(n), ("run", run_id), "input") for n in names])
