"""Imported MLflow ``python_function`` models that have no native flavor here.

The whole MLflow model directory is stored as one tar blob and loaded with
``mlflow.pyfunc.load_model`` (so ``mlflow`` must be installed where it is
loaded). MLflow pickles such models: loading runs code, see docs/registry.md.
Never picked by ``detect``: only ``import_mlflow`` creates this flavor.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shipyard.errors import InvalidInput
from shipyard.registry.flavors.base import Serialized


class MlflowFlavor:
    name = "mlflow"

    def matches(self, model: Any) -> bool:
        return False

    def save(self, model: Any) -> Serialized:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(str(model), arcname="model")
        return Serialized(buffer.getvalue(), {"format": "mlflow-directory"})

    def load(self, data: bytes, meta: Mapping[str, Any]) -> Any:
        try:
            import mlflow.pyfunc
        except ImportError as exc:
            raise InvalidInput(
                "This version was imported from MLflow as a python_function "
                "model; loading it needs the mlflow package (pip install "
                "mlflow-skinny).",
                field="flavor",
            ) from exc
        folder = tempfile.mkdtemp(prefix="shipyard-mlflow-")
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(folder, filter="data")
        return _PyfuncModel(mlflow.pyfunc.load_model(str(Path(folder) / "model")))

    def packages(self, model: Any) -> list[str]:
        return []


class _PyfuncModel:
    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any) -> Any:
        return np.asarray(self.model.predict(data))
