"""scikit-learn estimators and Pipelines: pickle by default, skops on request.

- ``pickle`` (default): fast to write and load, but unpickling runs code. It is
  safe here only because every load first checks the artifact's SHA-256
  against the metadata store, so bytes that were not registered never reach
  ``pickle.loads``; whoever may write the metadata store is trusted.
- ``skops`` (``log_model(..., serialization="skops")``): the object graph is
  stored as data and loading refuses any type not trusted. The trusted types
  are computed at registration and kept in the metadata store beside the
  hash. It costs several seconds of ``import skops.io`` per process, which
  is why it is not the default (see docs/registry.md).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from shipyard.registry.flavors.base import Serialized, distributions_of, is_from, module_roots

SERIALIZATIONS = ("pickle", "skops")


class SklearnFlavor:
    name = "sklearn"

    def __init__(self, serialization: str = "pickle") -> None:
        self.serialization = serialization

    def matches(self, model: Any) -> bool:
        return is_from(model, "sklearn") and callable(getattr(model, "predict", None))

    def save(self, model: Any) -> Serialized:
        if self.serialization == "skops":
            import skops.io as sio

            data = sio.dumps(model)
            trusted = sio.get_untrusted_types(data=data)
            return Serialized(data, {"format": "skops", "trusted_types": sorted(trusted)})
        import cloudpickle

        # cloudpickle: custom transformers defined in a notebook travel with the model.
        return Serialized(cloudpickle.dumps(model, protocol=5), {"format": "pickle"})

    def load(self, data: bytes, meta: Mapping[str, Any]) -> Any:
        if meta.get("format") == "skops":
            import skops.io as sio

            return sio.loads(data, trusted=list(meta.get("trusted_types", [])))
        return pickle.loads(data)  # the SHA-256 was checked first (see above)

    def packages(self, model: Any) -> list[str]:
        base = ["scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl", "cloudpickle"]
        if self.serialization == "skops":
            base.append("skops")
        extra = distributions_of(r for r in module_roots(model) if r != "sklearn")
        return [*base, *(d for d in extra if d not in base)]
