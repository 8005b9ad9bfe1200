"""Importing a model folder written by the real mlflow package (a test-only dependency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shipyard import errors
from shipyard.registry import load_model
from shipyard.registry.models import import_mlflow
from shipyard.workspace import Workspace

mlflow_sklearn = pytest.importorskip("mlflow.sklearn")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_sklearn_model_imports_with_signature_and_requirements(
    sqlite_workspace: Workspace, tmp_path: Path, data: Any, pipeline: Any
) -> None:
    x, _ = data
    folder = tmp_path / "mlflow-model"
    # Explicit requirements: inferring them runs a subprocess for ~40 s.
    mlflow_sklearn.save_model(
        pipeline,
        str(folder),
        input_example=x[:5],
        pip_requirements=["scikit-learn==1.9.1", "numpy==2.4.6"],
    )
    info = import_mlflow(folder, "churn", workspace=sqlite_workspace)
    assert info.flavor == "sklearn"
    assert info.signature.columns == list(x.columns)
    assert info.requirements["scikit-learn"] == "1.9.1"
    loaded = load_model("churn/1", workspace=sqlite_workspace)
    np.testing.assert_array_equal(loaded.predict(x), pipeline.predict(x))
    with pytest.raises(errors.InvalidInput):
        loaded.predict(x.drop(columns=["income"]))


def test_a_folder_without_mlmodel_is_refused(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(errors.NotFound, match="No MLmodel file"):
        import_mlflow(tmp_path, "churn", workspace=sqlite_workspace)
