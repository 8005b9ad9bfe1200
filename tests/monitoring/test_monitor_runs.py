"""Monitor runs: a window evaluated, stored as time series on the lineage graph, alerts raised."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.monitoring.ops_support import (
    DEPLOYMENT,
    T0,
    configured_workspace,
    deploy,
    drifted,
    frame,
    hours,
    log_predictions,
    target,
)

from shipyard.errors import InvalidInput
from shipyard.monitoring.ground_truth import log_ground_truth
from shipyard.monitoring.runs import (
    get_result,
    list_results,
    metric_series,
    run_monitor,
    window_bounds,
)
from shipyard.store.lineage import downstream
from shipyard.workspace import Workspace


def test_quiet_then_drifted_windows_are_stored_and_alert(workspace: Workspace) -> None:
    setup = deploy(workspace)
    calm = frame(300, seed=20)
    ids = log_predictions(setup, calm, T0 + hours(2))
    log_ground_truth(
        DEPLOYMENT, pd.DataFrame({"prediction_id": ids, "label": target(calm)}), workspace=workspace
    )
    quiet = run_monitor(DEPLOYMENT, "1d", now=T0 + hours(24), workspace=workspace)
    assert (quiet.status, quiet.fired, quiet.n_predictions, quiet.n_labelled) == (
        "ok",
        False,
        300,
        300,
    )
    assert quiet.summary["drift"]["drifted"] == []
    assert quiet.summary["features"] == ["x1", "x2", "plan"]
    assert quiet.summary["reference"] == "snapshot customers-train/v1"
    assert quiet.summary["performance"]["rows"][0]["accuracy"] > 0.9

    log_predictions(setup, drifted(), T0 + hours(30))
    loud = run_monitor(DEPLOYMENT, "1d", now=T0 + hours(48), workspace=workspace)
    assert loud.status == "alert" and loud.fired
    assert set(loud.summary["drift"]["drifted"]) == {"x1", "plan"}
    plan = next(c for c in loud.summary["drift"]["columns"] if c["column"] == "plan")
    assert plan["new_categories"] == ["enterprise"]
    assert "prediction" in loud.summary["prediction_drift"]["drifted"]
    rules = {a.rule: a for a in loud.alerts}
    assert set(rules) == {"feature-drift", "prediction-drift"}
    feature = rules["feature-drift"]
    assert feature.severity == "critical" and feature.feature == "plan,x1"
    assert feature.evidence["window"]["end"] == (T0 + hours(48)).isoformat()
    assert feature.evidence["report"] == loud.report_path
    assert {p["feature"] for p in feature.evidence["points"]} == {"x1", "plan"}

    report = Path(str(loud.report_path))
    assert report.is_file() and report.stat().st_size < 200_000
    text = report.read_text()
    assert "Prediction drift" in text and "Performance" in text and "feature-drift" in text

    psi = metric_series(DEPLOYMENT, "psi", feature="x1", workspace=workspace)
    assert len(psi) == 2 and psi[0]["value"] < 0.1 < psi[1]["value"]
    assert [r.id for r in list_results(DEPLOYMENT, workspace=workspace)] == [loud.id, quiet.id]
    edges = downstream(workspace.store, ("deployment", DEPLOYMENT))
    assert ("monitor_result", loud.id) in [e.dst for e in edges]
    raised = downstream(workspace.store, ("monitor_result", loud.id))
    assert {e.dst for e in raised} == {("alert", a.id) for a in loud.alerts}


def test_window_without_predictions_is_a_clear_stored_result(sqlite_workspace: Workspace) -> None:
    deploy(sqlite_workspace)
    result = run_monitor(
        DEPLOYMENT, "6h", now=T0 + hours(6), report=False, workspace=sqlite_workspace
    )
    assert result.status == "no_data" and not result.fired
    assert result.message == (
        f"no predictions between {T0.isoformat()} and {(T0 + hours(6)).isoformat()} "
        f"for deployment '{DEPLOYMENT}'"
    )
    assert get_result(result.id, workspace=sqlite_workspace).status == "no_data"
    counts = metric_series(DEPLOYMENT, "prediction_count", workspace=sqlite_workspace)
    assert [p["value"] for p in counts] == [0.0]


def test_window_bounds_and_their_errors() -> None:
    assert window_bounds("6h", end=T0) == (T0 - hours(6), T0)
    assert window_bounds(None, start=T0, end=T0 + hours(1)) == (T0, T0 + hours(1))
    for window in ("", "1 day", "-1d", "0h", "soon"):
        with pytest.raises(InvalidInput, match="positive duration"):
            window_bounds(window, end=T0)
    with pytest.raises(InvalidInput, match="swap --from and --to"):
        window_bounds(None, start=T0 + hours(1), end=T0)
    with pytest.raises(InvalidInput, match="not both"):
        window_bounds("1d", start=T0, end=T0 + hours(1))


def test_configured_features_thresholds_and_window_reference(tmp_path: Path) -> None:
    toml = (
        "[models.churn.monitoring]\n"
        'features = ["x2", "plan"]\n'
        'reference = "window:2025-03-01/2025-03-02"\n'
        "[monitoring.thresholds.plan]\n"
        "new_category_share = 0.5\n"
        "psi_warning = 5.0\npsi_drift = 5.0\npsi_alert = 5.0\n"
        "jensen_shannon = 1.0\n"
    )
    with configured_workspace(tmp_path / "p", toml) as workspace:
        setup = deploy(workspace)
        log_predictions(setup, frame(300, seed=30), T0 + hours(1))
        log_predictions(setup, drifted(300, seed=31), T0 + hours(30))
        result = run_monitor(DEPLOYMENT, "1d", now=T0 + hours(48), workspace=workspace)
    assert result.summary["features"] == ["x2", "plan"]
    assert result.summary["reference"] == "window:2025-03-01/2025-03-02"
    assert result.summary["drift"]["drifted"] == []  # x1 is not monitored; plan's bar raised
    assert [a.rule for a in result.alerts] == ["prediction-drift"]
