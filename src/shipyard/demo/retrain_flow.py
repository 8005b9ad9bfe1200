"""The demo's training as a pipeline: split → fit → check → package (a retrain candidate).

The same data, split and model as the tracked training stage, so a rerun
with unchanged parameters is served from the step cache, and the candidate
it packages passes the golden-set gate against the production version.
"""

from __future__ import annotations

from typing import Any

from shipyard.pipelines import Skipped, pipeline, step

SEED = 7
EPOCHS = 30
SEGMENT_FEATURE = "mean radius"


@step
def split(seed: int) -> dict[str, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=seed, stratify=data.target
    )
    return {"x_train": x_train, "x_test": x_test, "y_train": y_train, "y_test": y_test}


@step
def fit(data: dict[str, Any], alpha: float, epochs: int, seed: int) -> Any:
    import numpy as np
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(data["x_train"])
    model = SGDClassifier(loss="log_loss", alpha=alpha, random_state=seed)
    x, y = scaler.transform(data["x_train"]), data["y_train"]
    for _ in range(epochs):
        model.partial_fit(x, y, classes=np.unique(y))
    return Pipeline([("scaler", scaler), ("model", model)])


@step
def check(model: Any, data: dict[str, Any], floor: float) -> Any:
    accuracy = float((model.predict(data["x_test"]) == data["y_test"]).mean())
    if accuracy < floor:
        return Skipped(f"accuracy {accuracy:.3f} below the floor {floor:.3f}")
    return model


@step
def package(model: Any, data: dict[str, Any], window_start: str) -> dict[str, Any]:
    x_test, y_test = data["x_test"], data["y_test"]
    # The drifted segment: the large tumours the monitoring stage's day 2 over-samples.
    segment = x_test[SEGMENT_FEATURE] > x_test[SEGMENT_FEATURE].quantile(0.5)
    return {
        "model": model,
        "input_example": data["x_train"][:5],
        "golden": (x_test, y_test),
        "evaluation": (x_test[segment], y_test[segment]),
        "window_start": window_start,
    }


@pipeline(experiment="breast-cancer-pipeline")  # type: ignore[untyped-decorator]
def train(
    alpha: float = 1e-4,
    epochs: int = EPOCHS,
    seed: int = SEED,
    floor: float = 0.9,
    window_start: str = "",
) -> Any:
    data = split(seed)
    return package(check(fit(data, alpha, epochs, seed), data, floor), data, window_start)
