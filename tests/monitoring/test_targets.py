"""What is monitored: top-k features by importance, the reference data and predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from tests.monitoring.ops_support import FEATURES, configured_workspace, deploy

from shipyard.errors import ConfigError
from shipyard.monitoring.targets import get_targets, reference_predictions
from shipyard.registry import register_model
from shipyard.store.lineage import downstream
from shipyard.workspace import Workspace


def test_permutation_ranking_training_snapshot_and_reference_predictions(
    workspace: Workspace,
) -> None:
    setup = deploy(workspace)
    targets = get_targets("churn@latest", workspace=workspace)
    assert targets.method == "permutation" and targets.task == "classification"
    assert targets.features[0] == "x1"  # the label depends most on x1
    assert targets.reference == {"kind": "snapshot", "ref": "customers-train/v1"}
    predictions = reference_predictions(workspace, targets)
    assert predictions is not None and list(predictions.columns) == ["prediction", "proba_1"]
    golden = setup.train[FEATURES].iloc[:200]
    assert (predictions["prediction"].to_numpy() == setup.model.predict(golden)).all()
    assert get_targets("churn/1", workspace=workspace).created_at == targets.created_at
    edges = downstream(workspace.store, ("model_version", "churn/1"))
    assert ("monitor_target", "churn/1") in [e.dst for e in edges]


def test_native_importances_and_top_k(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(300, 20)), columns=[f"f{i:02d}" for i in range(20)])
    y = 3 * x["f07"] + x["f03"] + 0.1 * rng.normal(size=300)
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(x, y)
    toml = "[models.rf.monitoring]\ntop_k = 5\n"
    with configured_workspace(tmp_path / "p", toml) as workspace:
        register_model(model, "rf", input_example=x.iloc[:5], workspace=workspace)
        targets = get_targets("rf/1", workspace=workspace)
    assert targets.method == "feature_importances_" and targets.task == "regression"
    assert targets.features[:2] == ["f07", "f03"] and len(targets.features) == 5
    assert len(targets.ranking) == 20
    assert reference_predictions(workspace, targets) is not None  # from the input example


def test_configured_features_override_and_are_checked(tmp_path: Path) -> None:
    toml = '[models.churn.monitoring]\nfeatures = ["plan"]\n'
    with configured_workspace(tmp_path / "a", toml) as workspace:
        deploy(workspace)
        targets = get_targets("churn/1", workspace=workspace)
        assert targets.features == ["plan"] and targets.to_dict()["method"] == "config"
    bad = '[models.churn.monitoring]\nfeatures = ["age"]\n'
    with configured_workspace(tmp_path / "b", bad) as workspace:
        deploy(workspace)
        with pytest.raises(ConfigError, match="'age', which is not an input of churn/1"):
            get_targets("churn/1", workspace=workspace)
    for text, message in (
        ("top_k = 0", "top_k must be an integer >= 1"),
        ('task = "ranking"', "task must be one of"),
        ("colour = 1", "unknown key 'colour'"),
    ):
        with configured_workspace(
            tmp_path / text[:4], f"[models.churn.monitoring]\n{text}\n"
        ) as ws:
            deploy(ws)
            with pytest.raises(ConfigError, match=message):
                get_targets("churn/1", workspace=ws)
