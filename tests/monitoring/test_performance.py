"""Performance from ground truth: the same numbers as scikit-learn, per version and route."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from tests.monitoring.ops_support import (
    DEPLOYMENT,
    FEATURES,
    T0,
    configured_workspace,
    deploy,
    frame,
    hours,
    log_predictions,
    target,
)

from shipyard.errors import ConfigError, InvalidInput
from shipyard.monitoring.ground_truth import log_ground_truth
from shipyard.monitoring.performance import performance
from shipyard.workspace import Workspace


def _noisy(data: pd.DataFrame, seed: int) -> np.ndarray:
    truth = target(data)
    flip = np.random.default_rng(seed).random(len(truth)) < 0.25
    return np.where(flip, 1 - truth, truth)


def test_classification_metrics_match_sklearn_per_version_and_route(workspace: Workspace) -> None:
    setup = deploy(workspace)
    prod, canary = frame(150, seed=2), frame(60, seed=3)
    ids = log_predictions(setup, prod, T0 + hours(1))
    canary_ids = log_predictions(setup, canary, T0 + hours(2), version="2", route="canary")
    log_predictions(setup, frame(20, seed=4), T0 + hours(3))  # never labelled
    y, y_canary = _noisy(prod, 0), _noisy(canary, 1)
    labels = pd.DataFrame(
        {"prediction_id": ids + canary_ids, "label": np.concatenate([y, y_canary])}
    )
    log_ground_truth(DEPLOYMENT, labels, workspace=workspace)
    report = performance(DEPLOYMENT, T0, T0 + hours(24), workspace=workspace)
    rows = {(r.model_version, r.route): r for r in report.rows}
    assert report.task.kind == "classification" and report.task.positive == "1"
    production = rows[("1", "production")]
    assert (production.predictions, production.labelled) == (170, 150)
    for data, truth, row in ((prod, y, production), (canary, y_canary, rows[("2", "canary")])):
        predicted = setup.model.predict(data[FEATURES])
        score = setup.model.predict_proba(data[FEATURES])[:, 1]
        expected = {
            "accuracy": metrics.accuracy_score(truth, predicted),
            "precision": metrics.precision_score(truth, predicted),
            "recall": metrics.recall_score(truth, predicted),
            "f1": metrics.f1_score(truth, predicted),
            "roc_auc": metrics.roc_auc_score(truth, score),
        }
        assert row.metrics == pytest.approx(expected, abs=1e-12)


def test_regression_metrics_match_sklearn(sqlite_workspace: Workspace) -> None:
    setup = deploy(sqlite_workspace, task="regression")
    data = frame(120, seed=5)
    ids = log_predictions(setup, data, T0)
    truth = 2.0 * data["x1"].to_numpy() + data["x2"].to_numpy() + 0.3
    truth[0] = 0.0  # left out of MAPE
    log_ground_truth(
        DEPLOYMENT, pd.DataFrame({"prediction_id": ids, "label": truth}), workspace=sqlite_workspace
    )
    (row,) = performance(DEPLOYMENT, workspace=sqlite_workspace).rows
    predicted = setup.model.predict(data[FEATURES])
    assert row.metrics["rmse"] == pytest.approx(
        np.sqrt(metrics.mean_squared_error(truth, predicted)), rel=1e-12
    )
    assert row.metrics["mae"] == pytest.approx(metrics.mean_absolute_error(truth, predicted))
    assert row.metrics["mape"] == pytest.approx(
        metrics.mean_absolute_percentage_error(truth[1:], predicted[1:])
    )


def test_unlabelled_window_has_counts_and_no_metrics(sqlite_workspace: Workspace) -> None:
    setup = deploy(sqlite_workspace)
    log_predictions(setup, frame(10, seed=6), T0)
    (row,) = performance(DEPLOYMENT, workspace=sqlite_workspace).rows
    assert (row.predictions, row.labelled) == (10, 0)
    assert set(row.metrics.values()) == {None}
    assert (
        performance(DEPLOYMENT, T0 + hours(1), T0 + hours(2), workspace=sqlite_workspace).rows == ()
    )


def test_csv_labels_written_as_floats_match_integer_classes(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    setup = deploy(sqlite_workspace)
    data = frame(40, seed=7)
    ids = log_predictions(setup, data, T0)
    path = tmp_path / "labels.csv"
    predicted = setup.model.predict(data[FEATURES]).astype(float)
    pd.DataFrame({"prediction_id": ids, "label": predicted}).to_csv(path, index=False)
    log_ground_truth(DEPLOYMENT, path, workspace=sqlite_workspace)
    (row,) = performance(DEPLOYMENT, workspace=sqlite_workspace).rows
    assert row.metrics["accuracy"] == 1.0


def test_proxy_metrics_and_buckets(tmp_path: Path) -> None:
    toml = (
        "[monitoring.proxy_metrics]\n"
        "positive_rate = \"SELECT avg(CAST(json_extract(outputs, '$.predict') AS INT)) "
        'FROM predictions"\n'
    )
    with configured_workspace(tmp_path / "p", toml) as workspace:
        setup = deploy(workspace)
        first, second = frame(30, seed=8), frame(50, seed=9)
        log_predictions(setup, first, T0 + hours(1))
        log_predictions(setup, second, T0 + hours(30))
        report = performance(
            DEPLOYMENT, workspace=workspace, proxies={"rows": lambda df: float(len(df))}
        )
        (row,) = report.rows
        both = pd.concat([first, second])[FEATURES]
        assert row.metrics["positive_rate"] == pytest.approx(setup.model.predict(both).mean())
        assert row.metrics["rows"] == 80.0
        buckets = performance(DEPLOYMENT, bucket="1 day", workspace=workspace).rows
        assert [(b.bucket, b.predictions) for b in buckets] == [(T0, 30), (T0 + hours(24), 50)]
        with pytest.raises(InvalidInput, match="bucket must look like"):
            performance(DEPLOYMENT, bucket="daily", workspace=workspace)
        with pytest.raises(ConfigError, match="Proxy metric 'bad' failed"):
            performance(
                DEPLOYMENT, proxies={"bad": "SELECT nope FROM predictions"}, workspace=workspace
            )
        with pytest.raises(ConfigError, match="cannot import"):
            performance(DEPLOYMENT, proxies={"bad": "no.such.module:fn"}, workspace=workspace)
