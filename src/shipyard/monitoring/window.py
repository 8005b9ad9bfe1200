"""Everything a monitor computes for one window of one deployment, without storing it.

``evaluate_window(deployment, start, end)`` runs, in order:

1. count the window's predictions per version (DuckDB over the log); with
   none, the result says "no predictions between START and END" and stops;
2. the **targets** of the version that served most of the window (its top-k
   features, reference data and reference predictions; see ``targets``);
3. **feature drift** of those features, window vs reference, with the drift
   engine (the window is streamed to a temporary Parquet file and scanned in
   chunks, so memory stays bounded);
4. **prediction drift**: that version's logged outputs vs its reference
   predictions (class shares, positive-class probability or every class's
   probability, regression values);
5. **data quality** of the monitored inputs (null rates, out-of-range values
   and unseen categories against the reference);
6. **performance** per version and route from the ground truth known now,
   plus the proxy metrics.

Per-feature drift thresholds come from ``[monitoring.thresholds]`` (same
shape as ``thresholds=`` of ``sy.monitor.drift``: ``"*"`` or a column name to
a table of overrides).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from shipyard.monitoring import current as cur
from shipyard.monitoring import logs
from shipyard.monitoring.drift import drift
from shipyard.monitoring.performance import PerformanceReport, performance
from shipyard.monitoring.quality import QualityReport, quality
from shipyard.monitoring.results import DriftReport
from shipyard.monitoring.targets import (
    MonitorTargets,
    get_targets,
    proba_columns,
    reference_data,
    reference_predictions,
)
from shipyard.workspace import Workspace

QUALITY_MAX_ROWS = 1_000_000


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
) -> WindowSummary:
    """Drift, prediction drift, quality and performance of ``[start, end)``."""
    from shipyard.serving.deployments import get_deployment

    spec = get_deployment(deployment, workspace=workspace)
    summary = WindowSummary(deployment, start, end)
    connection = logs.open_logs(workspace, deployment, start, end)
    try:
        rows = connection.execute(
            "SELECT model_version, count(*) FROM predictions WHERE route <> 'shadow' "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        summary.versions = {str(version): int(count) for version, count in rows}
        summary.n_predictions = sum(summary.versions.values())
        if summary.n_predictions == 0:
            return summary
        summary.model_version = next(iter(summary.versions))
        targets = get_targets(f"{spec.model}/{summary.model_version}", workspace=workspace)
        summary.targets = targets
        with tempfile.TemporaryDirectory(prefix="shipyard-monitor-") as folder:
            _inputs(workspace, connection, summary, targets, Path(folder))
            _outputs(workspace, connection, summary, targets, Path(folder))
    finally:
        connection.close()
    summary.performance = performance(deployment, start, end, workspace=workspace)
    if bucket is not None:
        summary.performance_over_time = performance(
            deployment, start, end, bucket=bucket, proxies={}, workspace=workspace
        )
    return summary


def _inputs(
    workspace: Workspace,
    connection: Any,
    summary: WindowSummary,
    targets: MonitorTargets,
    folder: Path,
) -> None:
    from shipyard.registry.catalog import get_version

    signature = get_version(targets.model_version, workspace=workspace).signature
    kinds = cur.kinds_from_signature(signature, targets.features)
    if not kinds:
        summary.notes.append("no monitored feature can be compared (datetime inputs only)")
        return
    path = folder / "inputs.parquet"
    cur.export_inputs(connection, kinds, path)
    reference, summary.reference = reference_data(workspace, targets, summary.deployment, kinds)
    current_frame = _quality_frame(connection, path)
    if reference is None or len(reference) == 0:
        summary.notes.append(f"feature drift skipped: reference is {summary.reference}")
        summary.quality = quality(current_frame, columns=list(kinds))
        return
    thresholds = _thresholds(workspace, [c for c in kinds if c in reference.columns])
    summary.drift = drift(reference, path, columns=list(kinds), thresholds=thresholds)
    summary.quality = quality(current_frame, reference=reference, columns=list(kinds))


def _quality_frame(connection: Any, path: Path) -> Any:
    """The window's inputs for the quality counters (a seeded sample above QUALITY_MAX_ROWS)."""
    source = f"read_parquet('{logs._quote(path.as_posix())}')"
    sample = f" USING SAMPLE reservoir({QUALITY_MAX_ROWS} ROWS) REPEATABLE (0)"
    total = connection.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
    sql = f"SELECT * FROM {source}" + (sample if total > QUALITY_MAX_ROWS else "")
    return connection.sql(sql).to_arrow_table()


def _outputs(
    workspace: Workspace,
    connection: Any,
    summary: WindowSummary,
    targets: MonitorTargets,
    folder: Path,
) -> None:
    reference = reference_predictions(workspace, targets)
    if reference is None or reference.empty:
        summary.notes.append("prediction drift skipped: the version has no reference predictions")
        return
    proba = {
        name: index
        for name, index in _proba_indices(workspace, targets, reference).items()
        if name in reference.columns
    }
    if targets.task == "classification":
        from shipyard.monitoring.performance import _label_text

        reference = reference.assign(prediction=reference["prediction"].map(_label_text))
    path = folder / "outputs.parquet"
    assert summary.model_version is not None
    cur.export_outputs(connection, targets.task, proba, summary.model_version, path)
    summary.prediction_drift = drift(reference, path, columns=["prediction", *proba])


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
