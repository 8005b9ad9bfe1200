"""Demo stage: watch the deployed model — drifted traffic, an alert, a report, real accuracy.

Creates a deployment of the registered model, writes two days of predictions
to the prediction log (the serving layer's ``PredictionLog``, as the server
does): a normal day with a 10% canary on the deliberately worse version, then
a day whose most important features are shifted by one standard deviation.
The monitor run over the last day fires the drift alert and writes the HTML
report; then the delayed ground truth arrives and the real accuracy per
version is printed. (The breast-cancer data has no categorical input, so no
new category is sent.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from shipyard.monitoring.ground_truth import log_ground_truth
from shipyard.monitoring.performance import performance
from shipyard.monitoring.runs import run_monitor
from shipyard.monitoring.targets import get_targets
from shipyard.registry.loading import load_model
from shipyard.serving.deployments import create_deployment, list_deployments
from shipyard.serving.predlog import LoggedRequest, PredictionLog, new_ids
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace

if TYPE_CHECKING:
    from shipyard.demo.main import DemoResult

DEPLOYMENT = "breast-cancer-monitored"
SEED = 17
ROWS_PER_DAY = 600
CANARY_SHARE = 0.1
SHIFT_SIGMAS = 1.0
SHIFTED_FEATURES = 5


def monitoring_stage(workspace: Workspace, result: DemoResult, console: Console) -> None:
    extras = result.extras
    ref = str(extras.get("model_ref", "breast-cancer/1"))
    model_name, version = ref.split("/")
    if DEPLOYMENT not in {d.name for d in list_deployments(workspace=workspace)}:
        create_deployment(DEPLOYMENT, model_name, workspace=workspace)
    production = load_model(ref, workspace=workspace)
    worse = _worse_version(workspace, model_name, int(version))
    pool = pd.concat([extras["x_train"], extras["x_test"]]).reset_index(drop=True)
    truth = np.concatenate([np.asarray(extras["y_train"]), np.asarray(extras["y_test"])])
    rng = np.random.default_rng(SEED)
    now = utcnow()
    top = get_targets(ref, workspace=workspace).features[:SHIFTED_FEATURES]
    log = PredictionLog(workspace.settings.data_dir, flush_seconds=60)
    labels = []
    for day, shifted in ((now - timedelta(hours=36), False), (now - timedelta(hours=12), True)):
        rows = rng.integers(0, len(pool), ROWS_PER_DAY)
        batch = pool.iloc[rows].reset_index(drop=True)
        if shifted:
            batch[top] = batch[top] + SHIFT_SIGMAS * pool[top].std()
        canary = rng.random(ROWS_PER_DAY) < CANARY_SHARE
        for model, route, mask in ((production, "production", ~canary), (worse, "canary", canary)):
            if model is None or not mask.any():
                continue
            ids = _log(log, model, route, batch[mask], day, model_name)
            labels.append(pd.DataFrame({"prediction_id": ids, "label": truth[rows[mask]]}))
    log.close()
    console.print(
        f"logged {2 * ROWS_PER_DAY} predictions to {DEPLOYMENT} over two days; day 2 shifts "
        f"{', '.join(top)} by {SHIFT_SIGMAS:g}σ"
    )
    run = run_monitor(DEPLOYMENT, "1d", now=now, workspace=workspace)
    _print_run(run, console)
    batch_info = log_ground_truth(DEPLOYMENT, pd.concat(labels), source="demo", workspace=workspace)
    console.print(f"delayed ground truth: {batch_info.accepted} labels joined by prediction id")
    _print_accuracy(workspace, now, console)
    extras["monitor_report"] = run.report_path
    extras["alerts"] = [a.id for a in run.alerts]


def _worse_version(workspace: Workspace, model: str, version: int) -> Any:
    from shipyard.errors import NotFound

    try:
        return load_model(f"{model}/{version + 1}", workspace=workspace)
    except NotFound:
        return None


def _log(
    log: PredictionLog, model: Any, route: str, rows: pd.DataFrame, when: datetime, name: str
) -> list[str]:
    outputs = {"predict": np.asarray(model.predict(rows))}
    if model.has_proba:
        outputs["predict_proba"] = np.asarray(model.predict_proba(rows))
    ids = new_ids(len(rows))
    log.record(
        LoggedRequest(
            deployment=DEPLOYMENT,
            model=name,
            model_version=str(model.info.version),
            route=route,
            ids=ids,
            inputs={column: rows[column].to_numpy() for column in rows.columns},
            outputs=outputs,
            latency_ms=1.0,
            timestamp=when.timestamp(),
        )
    )
    return ids


def _print_run(run: Any, console: Console) -> None:
    drift = run.summary.get("drift") or {}
    console.print(
        f"monitor run over the last day: [bold]{run.status}[/] — {run.message}; drifted "
        f"features: {', '.join(drift.get('drifted', [])) or 'none'}"
    )
    for alert in run.alerts:
        console.print(f"[bold red]ALERT[/] {alert.summary}")
        console.print(f"        shipyard alerts show {alert.id[:12]}")
    console.print(f"report: {run.report_path}")


def _print_accuracy(workspace: Workspace, now: datetime, console: Console) -> None:
    report = performance(DEPLOYMENT, now - timedelta(days=2), now, workspace=workspace)
    table = Table(title="Real accuracy by version (from delayed ground truth)", header_style="bold")
    for column in ("version", "route", "predictions", "labelled", "accuracy", "f1", "ROC AUC"):
        table.add_column(column)
    for row in report.rows:
        table.add_row(
            row.model_version,
            row.route,
            str(row.predictions),
            str(row.labelled),
            *(_fmt(row.metrics.get(name)) for name in ("accuracy", "f1", "roc_auc")),
        )
    console.print(table)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
