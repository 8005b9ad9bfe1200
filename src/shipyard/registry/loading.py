"""Loading a version as a uniform predictor that checks every input against its signature.

``load_model("churn@production")`` resolves the reference, reads the blob
(its SHA-256 is verified on every load; a mismatch raises ``IntegrityError``
naming both hashes and nothing is deserialized), rebuilds the model with its
flavor and wraps it in a ``LoadedModel``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shipyard.errors import InvalidInput
from shipyard.registry import flavors
from shipyard.registry.catalog import ModelVersionInfo, get_version
from shipyard.registry.signature import Signature
from shipyard.workspace import Workspace, current


class LoadedModel:
    """A registered version ready to predict; inputs are validated column-wise first."""

    def __init__(self, model: Any, info: ModelVersionInfo) -> None:
        self.model = model
        self.info = info

    @property
    def signature(self) -> Signature:
        return self.info.signature

    @property
    def ref(self) -> str:
        return self.info.ref

    @property
    def flavor(self) -> str:
        return self.info.flavor

    @property
    def has_proba(self) -> bool:
        return callable(getattr(self.model, "predict_proba", None))

    def predict(self, data: Any) -> np.ndarray:
        """Predictions for ``data`` (DataFrame, 2-D array, dict of columns or list of rows)."""
        frame = self.signature.validate(data)
        if len(frame) == 0:
            return self._empty(proba=False)
        return np.asarray(self.model.predict(self.signature.model_input(frame)))

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities, one column per class (see ``signature.output.classes``)."""
        if not self.has_proba:
            raise InvalidInput(
                f"{self.ref} ({self.flavor}) has no predict_proba; use predict.", field="method"
            )
        frame = self.signature.validate(data)
        if len(frame) == 0:
            return self._empty(proba=True)
        return np.asarray(self.model.predict_proba(self.signature.model_input(frame)))

    def _empty(self, *, proba: bool) -> np.ndarray:
        output = self.signature.output
        if proba:
            width = len(output.classes) if output and output.classes else 0
            return np.empty((0, width), dtype="float64")
        shape = (0, *output.shape[1:]) if output else (0,)
        return np.empty(shape, dtype=output.dtype if output else "float64")

    def __repr__(self) -> str:
        return f"LoadedModel({self.ref!r}, flavor={self.flavor!r})"


def load_model(ref: str, *, workspace: Workspace | None = None) -> LoadedModel:
    """The version ``ref`` points at (``churn/3``, ``churn@production``, ``churn@champion``)."""
    workspace = workspace or current()
    info = get_version(ref, workspace=workspace)
    return load_info(info, workspace)


def load_info(info: ModelVersionInfo, workspace: Workspace) -> LoadedModel:
    data = workspace.artifacts.get_bytes(info.sha256)  # raises IntegrityError on a mismatch
    model = flavors.get(info.flavor).load(data, info.flavor_meta)
    return LoadedModel(model, info)
