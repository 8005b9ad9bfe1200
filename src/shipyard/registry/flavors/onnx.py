"""ONNX models (an ``onnx.ModelProto`` or a ``.onnx`` file), run with onnxruntime.

The ONNX bytes are data, not code: loading them runs nothing but the
operators of the graph. The first output is the prediction; a second one,
when present, the class probabilities (a ZipMap list of dicts is turned into
an array in class order).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.registry.flavors.base import Serialized, is_from

if TYPE_CHECKING:
    pass

_NUMPY_OF_ONNX = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(string)": "object",
    "tensor(bool)": "bool",
}


def _is_onnx_file(model: Any) -> bool:
    return isinstance(model, str | Path) and str(model).endswith(".onnx") and Path(model).is_file()


class OnnxFlavor:
    name = "onnx"

    def matches(self, model: Any) -> bool:
        return _is_onnx_file(model) or (is_from(model, "onnx") and hasattr(model, "graph"))

    def save(self, model: Any) -> Serialized:
        data = Path(model).read_bytes() if _is_onnx_file(model) else model.SerializeToString()
        return Serialized(data, {"format": "onnx"})

    def load(self, data: bytes, meta: Mapping[str, Any]) -> Any:
        import onnxruntime

        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        return OnnxModel(session)

    def packages(self, model: Any) -> list[str]:
        return ["onnxruntime", "onnx", "numpy"]


class OnnxModel:
    """An onnxruntime session with ``predict`` and, for classifiers, ``predict_proba``."""

    def __init__(self, session: Any) -> None:
        self.session = session
        first = session.get_inputs()[0]
        self.input_name = first.name
        self.input_dtype = _NUMPY_OF_ONNX.get(first.type, "float32")
        self.output_names = [o.name for o in session.get_outputs()]

    def _run(self, data: Any) -> list[Any]:
        array = np.asarray(data, dtype=self.input_dtype)
        return list(self.session.run(None, {self.input_name: array}))

    def predict(self, data: Any) -> Any:
        return np.asarray(self._run(data)[0])

    def predict_proba(self, data: Any) -> Any:
        import pandas as pd

        outputs = self._run(data)
        if len(outputs) < 2:
            raise AttributeError("this ONNX model has no probability output")
        proba = outputs[1]
        if isinstance(proba, list):  # ZipMap: one dict per row, keyed by class
            return pd.DataFrame(proba).to_numpy()
        return np.asarray(proba)
