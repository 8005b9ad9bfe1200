"""Small seeded data and fitted models shared by the registry tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler


def make_data(rows: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows).astype("int64"),
            "income": rng.normal(50.0, 10.0, rows),
            "score": rng.normal(0.0, 1.0, rows),
            "group": rng.integers(0, 2, rows).astype("int64"),
        }
    )
    y = pd.Series(((x["income"] - 50) / 10 + x["score"] > 0).astype("int64"), name="label")
    return x, y


@pytest.fixture(scope="session")
def data() -> tuple[pd.DataFrame, pd.Series]:
    return make_data()


@pytest.fixture(scope="session")
def pipeline(data: tuple[pd.DataFrame, pd.Series]) -> Pipeline:
    x, y = data
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)


@pytest.fixture(scope="session")
def dummy(data: tuple[pd.DataFrame, pd.Series]) -> DummyClassifier:
    x, y = data
    return DummyClassifier(strategy="most_frequent").fit(x, y)
