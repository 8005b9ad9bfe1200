"""The BentoML peer: the same scikit-learn model behind a BentoML 1.4 service.

    bentoml serve bento_service:Cancer --working-dir bench/serving --port PORT

Runs in BentoML's throwaway virtualenv (``bench/.venvs/bentoml``); the model is
the joblib file named by ``BENCH_MODEL``. One worker, access log and metrics off
(its fastest configuration); the API is synchronous, so BentoML runs it in its
thread pool like a typical service. Request: ``{"inputs": [[30 floats]]}``.
"""

from __future__ import annotations

import os

import bentoml
import joblib
import numpy as np


@bentoml.service(
    workers=1,
    logging={"access": {"enabled": False}},
    metrics={"enabled": False},
)
class Cancer:
    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    @bentoml.api
    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(inputs))
