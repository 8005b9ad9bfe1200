"""Everything a monitor computes for one window of one deployment, without storing it.

``evaluate_window(deployment, start, end)`` runs, in order:

1. count the window's predictions per version (DuckDB over the log); with
   none, the result says "no predictions between START and END" and stops;
2. the **targets** of the version that served most of the window (its top-k
   features, reference data and reference predictions; see ``targets``);
3. **feature drift** of those features, window vs reference, with the drift
   engine;
4. **prediction drift**: that version's logged outputs vs its reference
   predictions (class shares, positive-class probability or every class's
   probability, regression values);
5. **data quality** of the monitored inputs (null rates, out-of-range values
   and unseen categories against the reference), and the requests the server
   rejected in the window per column and reason (``rejected``; also when the
   window has no prediction);
6. **performance** per version and route from the ground truth known now,
   plus the proxy metrics.

Steps 3–5 take one of two paths by the window's size. Up to ``chunk_rows``
predictions, the window's inputs and outputs are extracted to a temporary
Parquet file and compared in memory (exact small-sample p-values). Above, they
are never materialized: ``windowscan`` counts the log in one bounded pass
(DuckDB parses each row's JSON once and streams Arrow batches into mergeable
counters), in-process or, with the ``dask_scheduler`` setting, on a Dask
cluster; quality is then exact over every row too.

Per-feature drift thresholds come from ``[monitoring.thresholds]`` (same
shape as ``thresholds=`` of ``sy.monitor.drift``: ``"*"`` or a column name to
a table of overrides).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from shipyard.monitoring import current as cur
from shipyard.monitoring import logs, windowscan
from shipyard.monitoring.drift import drift
from shipyard.monitoring.performance import PerformanceReport, performance
from shipyard.monitoring.quality import QualityReport, quality
from shipyard.monitoring.rejected import rejected_requests
from shipyard.monitoring.results import DriftReport
from shipyard.monitoring.scan import DEFAULT_CHUNK_ROWS, ChunkedDrift
from shipyard.monitoring.targets import (
    MonitorTargets,
    get_targets,
    proba_columns,
    reference_data,
    reference_predictions,
)
from shipyard.workspace import Workspace


@dataclass
class WindowSummary:
    """The results of one window; ``None`` where a part could not be computed (see notes)."""

    deployment: str
    start: datetime
    end: datetime
    n_predictions: int = 0
    versions: dict[str, int] = field(default_factory=dict)
    model_version: str | None = None
    targets: MonitorTargets | None = None
    reference: str = ""
    drift: DriftReport | None = None
    prediction_drift: DriftReport | None = None
    quality: QualityReport | None = None
    performance: PerformanceReport | None = None
    performance_over_time: PerformanceReport | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.n_predictions == 0:
            return (
                f"no predictions between {self.start.isoformat()} and {self.end.isoformat()} "
                f"for deployment '{self.deployment}'"
            )
        return f"{self.n_predictions} predictions between {self.start.isoformat()} and " + (
            f"{self.end.isoformat()}"
        )

    @property
    def n_labelled(self) -> int:
        return self.performance.labelled if self.performance is not None else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "message": self.message,
            "n_predictions": self.n_predictions,
            "n_labelled": self.n_labelled,
            "versions": self.versions,
            "model_version": self.model_version,
            "features": self.targets.features if self.targets else [],
            "reference": self.reference,
            "drift": self.drift.to_dict() if self.drift else None,
            "prediction_drift": self.prediction_drift.to_dict() if self.prediction_drift else None,
            "quality": self.quality.to_dict() if self.quality else None,
            "performance": self.performance.to_dict() if self.performance else None,
            "performance_over_time": (
                self.performance_over_time.to_dict() if self.performance_over_time else None
            ),
            "notes": list(self.notes),
        }


def evaluate_window(
    workspace: Workspace,
    deployment: str,
    start: datetime,
    end: datetime,
    *,
    bucket: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> WindowSummary:
    """Drift, prediction drift, quality and performance of ``[start, end)``.

    A window of more than ``chunk_rows`` predictions is counted in one bounded
    pass (on Dask when the ``dask_scheduler`` setting is set); see the module
    docstring.
    """
    from shipyard.serving.deployments import get_deployment

    spec = get_deployment(deployment, workspace=workspace)
    summary = WindowSummary(deployment, start, end)
    rejected = rejected_requests(workspace.settings.data_dir, deployment, start, end)
    connection = logs.open_logs(workspace, deployment, start, end)
    try:
        rows = connection.execute(
            "SELECT model_version, count(*) FROM predictions WHERE route <> 'shadow' "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        summary.versions = {str(version): int(count) for version, count in rows}
        summary.n_predictions = sum(summary.versions.values())
        if summary.n_predictions > 0:
            summary.model_version = next(iter(summary.versions))
            targets = get_targets(f"{spec.model}/{summary.model_version}", workspace=workspace)
            summary.targets = targets
            if summary.n_predictions > chunk_rows:
                _scan(workspace, summary, targets)
            else:
                with tempfile.TemporaryDirectory(prefix="shipyard-monitor-") as folder:
                    _inputs(workspace, connection, summary, targets, Path(folder))
                    _outputs(workspace, connection, summary, targets, Path(folder))
    finally:
        connection.close()
    summary.quality = replace(summary.quality or QualityReport((), 0), rejected=rejected)
    if summary.n_predictions == 0:
        if len(rejected):
            summary.notes.append(
                "no prediction was logged, but the server rejected requests in this window "
                "(see data quality)"
            )
        return summary
    summary.performance = performance(deployment, start, end, workspace=workspace)
    if bucket is not None:
        summary.performance_over_time = performance(
            deployment, start, end, bucket=bucket, proxies={}, workspace=workspace
        )
    return summary


def _monitored(
    workspace: Workspace, summary: WindowSummary, targets: MonitorTargets
) -> tuple[dict[str, str], Any]:
    """The monitored inputs' kinds, and the reference data (``None`` when there is none)."""
    from shipyard.registry.catalog import get_version

    signature = get_version(targets.model_version, workspace=workspace).signature
    kinds = cur.kinds_from_signature(signature, targets.features)
    if not kinds:
        summary.notes.append("no monitored feature can be compared (datetime inputs only)")
        return kinds, None
    reference, summary.reference = reference_data(workspace, targets, summary.deployment, kinds)
    if reference is None or len(reference) == 0:
        summary.notes.append(f"feature drift skipped: reference is {summary.reference}")
        return kinds, None
    return kinds, reference


def _reference_outputs(
    workspace: Workspace, summary: WindowSummary, targets: MonitorTargets
) -> tuple[Any, dict[str, int]]:
    """The version's reference predictions (``None`` without) and its probability columns."""
    reference = reference_predictions(workspace, targets)
    if reference is None or reference.empty:
        summary.notes.append("prediction drift skipped: the version has no reference predictions")
        return None, {}
    proba = {
        name: index
        for name, index in _proba_indices(workspace, targets, reference).items()
        if name in reference.columns
    }
    if targets.task == "classification":
        from shipyard.monitoring.performance import _label_text

        reference = reference.assign(prediction=reference["prediction"].map(_label_text))
    return reference, proba


# --- a window of at most chunk_rows predictions: extracted, compared in memory -----------------


def _inputs(
    workspace: Workspace,
    connection: Any,
    summary: WindowSummary,
    targets: MonitorTargets,
    folder: Path,
) -> None:
    kinds, reference = _monitored(workspace, summary, targets)
    if not kinds:
        return
    path = folder / "inputs.parquet"
    cur.export_inputs(connection, kinds, path)
    current = connection.sql(f"SELECT * FROM read_parquet('{logs._quote(path.as_posix())}')")
    window = current.to_arrow_table()
    if reference is None:
        summary.quality = quality(window, columns=list(kinds))
        return
    thresholds = _thresholds(workspace, [c for c in kinds if c in reference.columns])
    summary.drift = drift(reference, window, columns=list(kinds), thresholds=thresholds)
    summary.quality = quality(window, reference=reference, columns=list(kinds))


def _outputs(
    workspace: Workspace,
    connection: Any,
    summary: WindowSummary,
    targets: MonitorTargets,
    folder: Path,
) -> None:
    reference, proba = _reference_outputs(workspace, summary, targets)
    if reference is None:
        return
    path = folder / "outputs.parquet"
    assert summary.model_version is not None
    cur.export_outputs(connection, targets.task, proba, summary.model_version, path)
    summary.prediction_drift = drift(reference, path, columns=["prediction", *proba])


# --- a larger window: one bounded pass over the log (in-process or on Dask) ---------------------


def _scan(workspace: Workspace, summary: WindowSummary, targets: MonitorTargets) -> None:
    kinds, reference = _monitored(workspace, summary, targets)
    inputs = None
    if reference is not None:
        types = {n: pa.float64() if k == "numeric" else pa.string() for n, k in kinds.items()}
        thresholds = _thresholds(workspace, [c for c in kinds if c in reference.columns])
        inputs = ChunkedDrift.prepare(reference, _schema(types), list(kinds), thresholds)
    predicted, columns = _output_plan(workspace, summary, targets)
    if not kinds and predicted is None:
        return
    plan = windowscan.ScanPlan(
        start=logs.utc(summary.start, "start"),
        end=logs.utc(summary.end, "end"),
        inputs=dict(kinds),
        input_spec=windowscan.input_spec(inputs, kinds),
        version=summary.model_version or "",
        outputs=columns or None,
        output_spec=predicted.spec if predicted is not None else None,
    )
    data_dir = workspace.settings.data_dir
    files = windowscan.window_files(data_dir, summary.deployment, plan.start, plan.end)
    counts = windowscan.scan_window(plan, files, workspace.settings.dask_scheduler)
    if kinds:
        summary.quality = windowscan.window_quality(counts.inputs, kinds, reference, inputs)
    if inputs is not None:
        summary.drift = inputs.report(counts.inputs)
    if predicted is not None and counts.outputs is not None:
        summary.prediction_drift = predicted.report(counts.outputs)


def _output_plan(
    workspace: Workspace, summary: WindowSummary, targets: MonitorTargets
) -> tuple[ChunkedDrift | None, dict[str, windowscan.OutputColumn]]:
    """Prediction drift's side of the scan: the logged outputs to count, and how."""
    reference, proba = _reference_outputs(workspace, summary, targets)
    if reference is None:
        return None, {}
    label = targets.task == "classification"
    columns = {"prediction": windowscan.OutputColumn("$.predict", "label" if label else "number")}
    for name, index in proba.items():
        columns[name] = windowscan.OutputColumn(f"$.predict_proba[{index}]", "number")
    types = {name: pa.float64() for name in columns}
    types["prediction"] = pa.string() if label else pa.float64()
    return ChunkedDrift.prepare(reference, _schema(types), list(columns)), columns


def _schema(types: dict[str, Any]) -> Any:
    return pa.schema(list(types.items()))


def _proba_indices(workspace: Workspace, targets: MonitorTargets, reference: Any) -> dict[str, int]:
    from shipyard.registry.catalog import get_version

    signature = get_version(targets.model_version, workspace=workspace).signature
    width = sum(1 for c in reference.columns if c.startswith("proba_"))
    if width == 0:
        return {}
    classes = signature.output.classes if signature.output else None
    return proba_columns(signature, len(classes) if classes else max(width, 2))


def _thresholds(workspace: Workspace, compared: list[str]) -> dict[str, Any] | None:
    table = workspace.settings.section("monitoring", "thresholds")
    if not table:
        return None
    return {key: dict(value) for key, value in table.items() if key == "*" or key in compared}
