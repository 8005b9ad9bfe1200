"""The generic "python function" flavor: any object with ``predict`` (and ``predict_proba``).

Stored with cloudpickle, so classes defined in a notebook travel with the
model. Pickle runs code on load: the artifact's SHA-256 is checked against
the metadata store first, and only stores you trust should be loaded from.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from shipyard.registry.flavors.base import Serialized, distributions_of, module_roots


class PythonFunctionFlavor:
    name = "python_function"

    def matches(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any) -> Serialized:
        import cloudpickle

        cls = type(model)
        return Serialized(
            cloudpickle.dumps(model),
            {"format": "cloudpickle", "class": f"{cls.__module__}.{cls.__qualname__}"},
        )

    def load(self, data: bytes, meta: Mapping[str, Any]) -> Any:
        return pickle.loads(data)

    def packages(self, model: Any) -> list[str]:
        return ["cloudpickle", "numpy", "pandas", *distributions_of(module_roots(model))]
