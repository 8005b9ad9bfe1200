"""Small fixed frames shared by the data-layer tests."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture
def customers() -> pd.DataFrame:
    """A fixed small table with every canonical type and some nulls."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "age": [34.0, None, 51.5, 23.0, 45.0, 29.0],
            "plan": ["free", "pro", None, "free", "free", "pro"],
            "active": [True, False, True, True, False, True],
            "signup": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-02-01", None, "2024-03-05", "2024-03-06"]
            ),
        }
    )
