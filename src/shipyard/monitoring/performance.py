"""Real model performance: logged predictions joined to their ground truth, in DuckDB.

``performance(deployment, start, end)`` joins the prediction log of the window
(by prediction time) to the latest label of each prediction and computes, per
model version and route (and per time bucket when ``bucket`` is given), in one
SQL statement per metric family — no Python loop over rows:

- classification: accuracy; precision, recall and F1 of the positive class
  for a binary model (the second of the signature's classes, as
  ``predict_proba[:, 1]``; ``[models.NAME.monitoring] positive`` overrides),
  macro-averaged over every class seen otherwise (a class never predicted
  has precision 0, as scikit-learn's ``zero_division=0``); ROC AUC for a
  binary model with logged probabilities (the Mann–Whitney rank formula,
  ties ranked by their average);
- regression: RMSE, MAE, and MAPE over the rows whose label is not 0;
- ``predictions`` and ``labelled``: the rows in the group, and those with a label.

Labels are compared as text after ``norm_label`` (``"1.0"`` equals ``1``).
Proxy metrics (``[monitoring.proxy_metrics]`` or ``proxies=``) are computed
per version and route over the logged predictions alone, for labels that
come too late to wait for: a SQL query over a view ``predictions``, or a
Python function taking the group's rows as a DataFrame.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shipyard.errors import ConfigError, InvalidInput, NotFound
from shipyard.monitoring import logs
from shipyard.monitoring.config import model_options, proxy_metrics
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("rmse", "mae", "mape")
GROUPS = ("model_version", "route")
Proxy = str | Callable[["pd.DataFrame"], float]


@dataclass(frozen=True)
class Task:
    """What kind of model a deployment serves, and its positive class when binary."""

    kind: str
    classes: tuple[str, ...] = ()
    positive: str | None = None

    @property
    def positive_index(self) -> int | None:
        if self.positive is None or self.positive not in self.classes:
            return None
        return self.classes.index(self.positive)


@dataclass(frozen=True)
class PerformanceRow:
    """The metrics of one group (version, route, and bucket when asked)."""

    model_version: str
    route: str
    predictions: int
    labelled: int
    metrics: dict[str, float | None]
    bucket: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "route": self.route,
            "bucket": self.bucket.isoformat() if self.bucket else None,
            "predictions": self.predictions,
            "labelled": self.labelled,
            **self.metrics,
        }


@dataclass(frozen=True)
class PerformanceReport:
    """Performance per version and route over a window."""

    deployment: str
    task: Task
    start: datetime | None
    end: datetime | None
    rows: tuple[PerformanceRow, ...] = field(default=())

    @property
    def labelled(self) -> int:
        return sum(r.labelled for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "task": self.task.kind,
            "positive": self.task.positive,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "rows": [r.to_dict() for r in self.rows],
        }

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.rows])


def performance(
    deployment: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    bucket: str | None = None,
    proxies: Mapping[str, Proxy] | None = None,
    workspace: Workspace | None = None,
) -> PerformanceReport:
    """Metrics of ``deployment``'s predictions made in ``[start, end)`` that have a label.

    ``bucket`` (``"1 day"``, ``"6 hours"``…) also splits the window into time
    buckets, for performance over time.
    """
    from shipyard.serving.deployments import get_deployment

    workspace = workspace or current()
    spec = get_deployment(deployment, workspace=workspace)
    task = model_task(workspace, spec.model)
    found = {**proxy_metrics(workspace), **(proxies or {})}
    connection = logs.open_logs(workspace, deployment, start, end)
    try:
        groups = list(GROUPS) + (["bucket"] if bucket else [])
        _joined_view(connection, task, bucket)
        counts = _rows(connection, _counts_sql(groups))
        metrics = _rows(connection, _metrics_sql(task, groups))
        proxy_values = _proxies(connection, found) if found else {}
    finally:
        connection.close()
    return PerformanceReport(
        deployment, task, start, end, _assemble(counts, metrics, proxy_values, task, bucket)
    )


def model_task(workspace: Workspace, model: str) -> Task:
    """Classification or regression, from ``[models.NAME.monitoring]`` or the signature."""
    from shipyard.registry.catalog import get_version

    options = model_options(workspace, model)
    signature = None
    for ref in (f"{model}@production", f"{model}@latest"):
        try:
            signature = get_version(ref, workspace=workspace).signature
            break
        except NotFound:
            continue
    output = signature.output if signature is not None else None
    classes = tuple(_label_text(c) for c in (output.classes or ())) if output else ()
    kind = options.task or (
        "classification"
        if classes or (output is not None and output.dtype.startswith(("int", "bool", "object")))
        else "regression"
    )
    positive = options.positive
    if positive is None and len(classes) == 2:
        positive = classes[1]
    return Task(kind, classes, positive)


def _label_text(value: Any) -> str:
    """A class label as ``norm_label`` writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _joined_view(connection: duckdb.DuckDBPyConnection, task: Task, bucket: str | None) -> None:
    index = task.positive_index
    score = (
        f"TRY_CAST(json_extract(p.outputs, '$.predict_proba[{index}]') AS DOUBLE)"
        if index is not None
        else "NULL::DOUBLE"
    )
    # A plain TIMESTAMP (UTC: the session's zone) reads back without pytz.
    when = (
        f"CAST(time_bucket(INTERVAL '{_interval(bucket)}', p.timestamp) AS TIMESTAMP)"
        if bucket
        else "NULL"
    )
    connection.execute(
        "CREATE TEMP VIEW scored AS SELECT p.model_version, p.route, "
        f"{when} AS bucket, p.prediction_id, "
        "norm_label(json_extract_string(p.outputs, '$.predict')) AS pred_text, "
        "TRY_CAST(json_extract_string(p.outputs, '$.predict') AS DOUBLE) AS pred_value, "
        f"{score} AS score, norm_label(l.label) AS label_text, l.label_value "
        "FROM predictions p LEFT JOIN labels l USING (prediction_id)"
    )


def _interval(bucket: str) -> str:
    import re

    if not isinstance(bucket, str) or not re.fullmatch(
        r"\s*\d+\s*(minute|minutes|hour|hours|day|days|week|weeks)\s*", bucket
    ):
        raise InvalidInput(
            f"bucket must look like '1 day', '6 hours' or '15 minutes', got {bucket!r}.",
            field="bucket",
        )
    return bucket.strip()


def _counts_sql(groups: Sequence[str]) -> str:
    keys = ", ".join(groups)
    return (
        f"SELECT {keys}, count(*) AS predictions, count(label_text) AS labelled "
        f"FROM scored GROUP BY {keys}"
    )


def _metrics_sql(task: Task, groups: Sequence[str]) -> str:
    keys = ", ".join(groups)
    if task.kind == "regression":
        return (
            f"SELECT {keys}, sqrt(avg((pred_value - label_value) ^ 2)) AS rmse, "
            "avg(abs(pred_value - label_value)) AS mae, "
            "avg(abs((label_value - pred_value) / label_value)) "
            "FILTER (WHERE label_value <> 0) AS mape "
            f"FROM scored WHERE label_value IS NOT NULL AND pred_value IS NOT NULL GROUP BY {keys}"
        )
    on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in groups)
    positive = task.positive
    if positive is not None:
        literal = positive.replace("'", "''")
        class_filter = f"WHERE c = '{literal}'"
    else:
        class_filter = ""
    return f"""
    WITH labelled AS (SELECT * FROM scored WHERE label_text IS NOT NULL),
    per_class AS (
        SELECT {keys}, c, sum(tp) AS tp, sum(is_pred) AS n_pred, sum(is_true) AS n_true FROM (
            SELECT {keys}, pred_text AS c, CAST(pred_text = label_text AS INTEGER) AS tp,
                   1 AS is_pred, 0 AS is_true FROM labelled
            UNION ALL
            SELECT {keys}, label_text AS c, 0, 0, 1 FROM labelled
        ) GROUP BY {keys}, c
    ),
    prf AS (
        SELECT {keys},
            avg(CASE WHEN n_pred > 0 THEN tp / n_pred ELSE 0 END) AS precision,
            avg(CASE WHEN n_true > 0 THEN tp / n_true ELSE 0 END) AS recall,
            avg(CASE WHEN n_pred + n_true > 0 THEN 2 * tp / (n_pred + n_true) ELSE 0 END) AS f1
        FROM per_class {class_filter} GROUP BY {keys}
    ),
    ranked AS (
        SELECT {keys}, CAST(label_text = '{(positive or "").replace("'", "''")}' AS INTEGER) AS y,
            rank() OVER (PARTITION BY {keys} ORDER BY score)
              + (count(*) OVER (PARTITION BY {keys}, score) - 1) / 2.0 AS r
        FROM labelled WHERE score IS NOT NULL
    ),
    auc AS (
        SELECT {keys},
            CASE WHEN sum(y) > 0 AND count(*) - sum(y) > 0 THEN
              (sum(r) FILTER (WHERE y = 1) - sum(y) * (sum(y) + 1) / 2.0)
              / (sum(y) * (count(*) - sum(y))) END AS roc_auc
        FROM ranked GROUP BY {keys}
    ),
    acc AS (
        SELECT {keys}, avg(CAST(pred_text = label_text AS DOUBLE)) AS accuracy
        FROM labelled GROUP BY {keys}
    )
    SELECT a.*, b.precision, b.recall, b.f1, c.roc_auc FROM acc a
    LEFT JOIN prf b ON {on}
    LEFT JOIN auc c ON {on.replace("b.", "c.")}
    """


def _rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    relation = connection.sql(sql)
    names = relation.columns
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def _proxies(
    connection: duckdb.DuckDBPyConnection, found: Mapping[str, Proxy]
) -> dict[tuple[str, str], dict[str, float | None]]:
    """Each proxy metric per (version, route), over the window's logged predictions."""
    groups = connection.sql(
        "SELECT DISTINCT model_version, route FROM window_predictions ORDER BY 1, 2"
    ).fetchall()
    values: dict[tuple[str, str], dict[str, float | None]] = {}
    for version, route in groups:
        connection.execute(
            "CREATE OR REPLACE TEMP VIEW predictions AS SELECT * FROM window_predictions "
            f"WHERE model_version = '{_q(version)}' AND route = '{_q(route)}'"
        )
        values[(version, route)] = {
            name: _proxy_value(connection, name, proxy) for name, proxy in found.items()
        }
    return values


def _proxy_value(connection: duckdb.DuckDBPyConnection, name: str, proxy: Proxy) -> float | None:
    import duckdb

    if callable(proxy):
        return _number(
            name, proxy(connection.sql("SELECT * FROM predictions").to_arrow_table().to_pandas())
        )
    if proxy.lstrip().lower().startswith(("select", "with")):
        try:
            rows = connection.execute(proxy).fetchall()
        except duckdb.Error as exc:
            raise ConfigError(
                f"Proxy metric {name!r} failed: {exc}. It must be a query over the view "
                "'predictions' returning one number.",
                field=name,
            ) from exc
        return _number(name, rows[0][0] if rows and rows[0] else None)
    return _proxy_value(connection, name, _import(name, proxy))


def _import(name: str, target: str) -> Callable[[pd.DataFrame], float]:
    module_name, _, attribute = target.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"Proxy metric {name!r}: cannot import {target!r} ({exc}). Use 'module:function' "
            "for a function of the predictions DataFrame, or a SELECT over 'predictions'.",
            field=name,
        ) from exc
    if not callable(function):
        raise ConfigError(f"Proxy metric {name!r}: {target!r} is not callable.", field=name)
    result: Callable[[pd.DataFrame], float] = function
    return result


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Proxy metric {name!r} returned {value!r}, not a number.", field=name
        ) from exc
    return number if math.isfinite(number) else None


def _q(text: str) -> str:
    return str(text).replace("'", "''")


def _assemble(
    counts: list[dict[str, Any]],
    metrics: list[dict[str, Any]],
    proxies: dict[tuple[str, str], dict[str, float | None]],
    task: Task,
    bucket: str | None,
) -> tuple[PerformanceRow, ...]:
    names = CLASSIFICATION_METRICS if task.kind == "classification" else REGRESSION_METRICS

    def key(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return (row["model_version"], row["route"], row.get("bucket"))

    by_key = {key(row): row for row in metrics}
    rows = []
    for count in sorted(counts, key=lambda r: tuple(str(v) for v in key(r))):
        found = by_key.get(key(count), {})
        values: dict[str, float | None] = {name: _finite(found.get(name)) for name in names}
        values.update(proxies.get((count["model_version"], count["route"]), {}))
        rows.append(
            PerformanceRow(
                model_version=str(count["model_version"]),
                route=str(count["route"]),
                predictions=int(count["predictions"]),
                labelled=int(count["labelled"]),
                metrics=values,
                bucket=count["bucket"].replace(tzinfo=UTC) if bucket else None,
            )
        )
    return tuple(rows)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
