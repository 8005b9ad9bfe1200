"""Model flavors: how each kind of model object is stored and loaded.

``detect(model)`` picks the first flavor that matches, most specific first
(ONNX, XGBoost, LightGBM, scikit-learn, then any object with ``predict``).
"""

from __future__ import annotations

from typing import Any

from shipyard.errors import InvalidInput
from shipyard.registry.flavors.base import Flavor, Serialized, exact_versions
from shipyard.registry.flavors.gbm import LightGBMFlavor, XGBoostFlavor
from shipyard.registry.flavors.mlflow import MlflowFlavor
from shipyard.registry.flavors.onnx import OnnxFlavor
from shipyard.registry.flavors.pyfunc import PythonFunctionFlavor
from shipyard.registry.flavors.sklearn import SERIALIZATIONS, SklearnFlavor

FLAVORS: tuple[Flavor, ...] = (
    OnnxFlavor(),
    XGBoostFlavor(),
    LightGBMFlavor(),
    SklearnFlavor(),
    PythonFunctionFlavor(),
)
FLAVOR_NAMES = tuple(f.name for f in FLAVORS)
_BY_NAME: dict[str, Flavor] = {f.name: f for f in (*FLAVORS, MlflowFlavor())}


def detect(model: Any, serialization: str | None = None) -> Flavor:
    """The flavor that stores ``model``, or ``InvalidInput`` naming the supported ones."""
    if serialization is not None and serialization not in SERIALIZATIONS:
        raise InvalidInput(
            f"serialization {serialization!r} is unknown; use one of "
            f"{', '.join(SERIALIZATIONS)} (scikit-learn models only).",
            field="serialization",
        )
    for flavor in FLAVORS:
        if flavor.matches(model):
            if serialization is not None and isinstance(flavor, SklearnFlavor):
                return SklearnFlavor(serialization)
            return flavor
    cls = type(model)
    raise InvalidInput(
        f"Cannot log a model of type {cls.__module__}.{cls.__qualname__}: it matches no "
        "supported flavor. Supported: scikit-learn estimators and Pipelines, XGBoost, LightGBM, "
        "ONNX (onnx.ModelProto or a .onnx file), and any object with a predict() method "
        "(python_function).",
        field="model",
    )


def get(name: str) -> Flavor:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise InvalidInput(
            f"Unknown flavor {name!r}; known: {', '.join(FLAVOR_NAMES)}.", field="flavor"
        ) from None


__all__ = ["FLAVORS", "FLAVOR_NAMES", "Flavor", "Serialized", "detect", "exact_versions", "get"]
