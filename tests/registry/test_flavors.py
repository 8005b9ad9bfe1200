"""Each flavor round-trips: the loaded model predicts what the original predicted."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from shipyard import errors
from shipyard.registry import load_model, register_model
from shipyard.workspace import Workspace


class Thresholder:
    """A hand-written model: any object with predict/predict_proba is a python_function."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def predict(self, x: Any) -> np.ndarray:
        return (np.asarray(x["score"]) > self.cut).astype("int64")

    def predict_proba(self, x: Any) -> np.ndarray:
        p = 1 / (1 + np.exp(-np.asarray(x["score"], dtype=float)))
        return np.column_stack([1 - p, p])


def _round_trip(ws: Workspace, model: Any, example: Any, x: Any, flavor: str, **kw: Any) -> Any:
    info = register_model(model, "m", input_example=example, workspace=ws, **kw)
    assert info.flavor == flavor
    loaded = load_model(info.ref, workspace=ws)
    if hasattr(model, "predict"):
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    return loaded


def test_sklearn_pickle_and_skops(sqlite_workspace: Workspace, data: Any) -> None:
    x, y = data
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    _round_trip(sqlite_workspace, forest, x[:5], x, "sklearn")
    loaded = _round_trip(sqlite_workspace, forest, x[:5], x, "sklearn", serialization="skops")
    assert loaded.info.flavor_meta["format"] == "skops"
    assert loaded.info.requirements["skops"]
    np.testing.assert_array_equal(loaded.predict_proba(x), forest.predict_proba(x))


def test_python_function(sqlite_workspace: Workspace, data: Any) -> None:
    x, _ = data
    loaded = _round_trip(sqlite_workspace, Thresholder(0.2), x[:5], x, "python_function")
    np.testing.assert_allclose(loaded.predict_proba(x), Thresholder(0.2).predict_proba(x))


def test_numpy_example_names_columns_f0_and_takes_arrays(
    sqlite_workspace: Workspace, data: Any
) -> None:
    x, y = data
    array = x.to_numpy(dtype=float)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(array, y)
    loaded = _round_trip(sqlite_workspace, forest, array[:5], array, "sklearn")
    assert loaded.signature.columns == ["f0", "f1", "f2", "f3"]
    assert loaded.signature.input_format == "ndarray"


def test_xgboost(sqlite_workspace: Workspace, data: Any) -> None:
    xgboost = pytest.importorskip("xgboost")
    x, y = data
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    loaded = _round_trip(sqlite_workspace, model, x[:5], x, "xgboost")
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x))
    assert "xgboost" in " ".join(loaded.info.requirements)


def test_lightgbm(sqlite_workspace: Workspace, data: Any) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    x, y = data
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(x, y)
    loaded = _round_trip(sqlite_workspace, model, x[:5], x, "lightgbm")
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x))


def test_onnx_model_and_file(
    sqlite_workspace: Workspace, data: Any, pipeline: Any, tmp_path: Any
) -> None:
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    x, _ = data
    array = x.to_numpy(dtype="float32")
    proto = skl2onnx.convert_sklearn(
        pipeline, initial_types=[("input", FloatTensorType([None, 4]))], options={"zipmap": False}
    )
    loaded = _round_trip(sqlite_workspace, proto, array[:5], array, "onnx")
    agree = np.mean(loaded.predict(array) == pipeline.predict(x))
    assert agree > 0.99  # float32 arithmetic may flip a borderline row
    file = tmp_path / "model.onnx"
    file.write_bytes(proto.SerializeToString())
    again = register_model(str(file), "m", input_example=array[:5], workspace=sqlite_workspace)
    assert again.sha256 == loaded.info.sha256
    np.testing.assert_allclose(
        loaded.predict_proba(array[:10]), pipeline.predict_proba(x[:10]), atol=1e-5
    )


def test_a_model_whose_predict_fails_on_the_example_is_refused(
    sqlite_workspace: Workspace, data: Any
) -> None:
    x, _ = data
    with pytest.raises(errors.InvalidInput, match="predict\\(\\) failed on input_example"):
        register_model(
            Thresholder(0.1), "m", input_example=x[["age"]][:5], workspace=sqlite_workspace
        )
