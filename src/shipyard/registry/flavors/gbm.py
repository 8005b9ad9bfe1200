"""Gradient-boosting libraries: XGBoost and LightGBM, in their own text/binary formats.

Both are stored without pickle: XGBoost as UBJSON (its native format, loaded
back into the same scikit-learn wrapper class or a ``Booster``), LightGBM as
its model text (loaded into a ``Booster`` behind a small adapter that keeps
the wrapper's classes, so ``predict`` returns the same labels).
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shipyard.registry.flavors.base import Serialized, distributions_of, is_from


class XGBoostFlavor:
    name = "xgboost"

    def matches(self, model: Any) -> bool:
        return is_from(model, "xgboost")

    def save(self, model: Any) -> Serialized:
        cls = type(model)
        meta = {"class": f"{cls.__module__}:{cls.__qualname__}"}
        if cls.__name__ == "Booster":
            return Serialized(bytes(model.save_raw(raw_format="ubj")), meta)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.ubj"
            model.save_model(str(path))
            return Serialized(path.read_bytes(), meta)

    def load(self, data: bytes, meta: Mapping[str, Any]) -> Any:
        module_name, _, qualname = str(meta["class"]).partition(":")
        cls = getattr(importlib.import_module(module_name), qualname)
        model = cls()
        model.load_model(bytearray(data))
        return _XGBoostBooster(model) if qualname == "Booster" else model

    def packages(self, model: Any) -> list[str]:
        return [*distributions_of(["xgboost"]), "numpy", "scipy", "scikit-learn"]


class _XGBoostBooster:
    """A raw ``xgboost.Booster`` with ``predict`` on arrays and frames."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, data: Any) -> Any:
        import xgboost

        return self.booster.predict(xgboost.DMatrix(data))


class LightGBMFlavor:
    name = "lightgbm"

    def matches(self, model: Any) -> bool:
        return is_from(model, "lightgbm")

    def save(self, model: Any) -> Serialized:
        booster = model if type(model).__name__ == "Booster" else model.booster_
        classes = getattr(model, "classes_", None)
        meta: dict[str, Any] = {"class": type(model).__name__}
        if classes is not None:
            meta["classes"] = np.asarray(classes).tolist()
        return Serialized(booster.model_to_string().encode("utf-8"), meta)

    def load(self, data: bytes, meta: Mapping[str, Any]) -> Any:
        import lightgbm

        booster = lightgbm.Booster(model_str=data.decode("utf-8"))
        classes = meta.get("classes")
        return _LightGBMModel(booster, np.asarray(classes) if classes is not None else None)

    def packages(self, model: Any) -> list[str]:
        return ["lightgbm", "numpy", "scipy", "scikit-learn"]


class _LightGBMModel:
    """A LightGBM booster that answers like the scikit-learn wrapper it came from."""

    def __init__(self, booster: Any, classes: np.ndarray | None) -> None:
        self.booster = booster
        self.classes_ = classes

    def predict(self, data: Any) -> Any:
        if self.classes_ is None:
            return self.booster.predict(data)
        return self.classes_[np.argmax(self.predict_proba(data), axis=1)]

    def predict_proba(self, data: Any) -> Any:
        raw = np.asarray(self.booster.predict(data))
        return np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw
