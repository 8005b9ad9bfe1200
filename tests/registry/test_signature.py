"""Signatures: inferred from the example, checked column-wise, serialized cleanly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard import errors
from shipyard.registry.signature import Signature, infer_signature


def _frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows).astype("int64"),
            "income": np.where(np.arange(rows) % 7 == 0, np.nan, rng.normal(50, 5, rows)),
            "plan": pd.Categorical(rng.choice(["basic", "pro"], rows)),
            "region": rng.choice(["north", "south", "east"], rows),
            "note": [f"free text {i}" for i in range(rows)],
        }
    )


def test_inference_records_types_nulls_and_categories() -> None:
    signature = infer_signature(_frame(), np.zeros(60, dtype="int64"))
    cols = {c.name: c for c in signature.inputs}
    assert (cols["age"].type, cols["age"].nullable) == ("integer", False)
    assert (cols["income"].type, cols["income"].nullable) == ("float", True)
    assert cols["plan"].categories == ("basic", "pro")
    assert cols["region"].categories == ("east", "north", "south")
    assert cols["note"].type == "string" and cols["note"].categories is None
    assert signature.output is not None and signature.output.shape == (-1,)
    assert Signature.from_dict(signature.to_dict()) == signature


def test_validation_names_every_problem() -> None:
    signature = infer_signature(_frame(), np.zeros(60))
    bad = (
        _frame(3)
        .drop(columns=["age"])
        .assign(region=["north", "west", None], income=["a", "b", "c"])
    )
    with pytest.raises(errors.InvalidInput) as caught:
        signature.validate(bad)
    message = caught.value.message
    assert "'age' (integer) is missing" in message
    assert "'income' should be float" in message
    assert "unknown category 'west'" in message
    assert "'region' has 1 null" in message
    assert {p["column"] for p in caught.value.report} == {"age", "income", "region"}


def test_valid_input_comes_back_in_signature_order_and_types() -> None:
    signature = infer_signature(_frame(), np.zeros(60))
    good = _frame(4)[["note", "region", "plan", "income", "age"]].assign(age=[20.0, 30, 40, 50])
    out = signature.validate(good)
    assert list(out.columns) == signature.columns
    assert out["age"].dtype == "int64"


def test_arrays_and_row_dicts_are_accepted() -> None:
    signature = infer_signature(np.ones((5, 3)), np.zeros(5))
    assert signature.validate(np.ones((2, 3))).shape == (2, 3)
    assert signature.validate([{"f0": 1, "f1": 2, "f2": 3}]).shape == (1, 3)
    with pytest.raises(errors.InvalidInput, match="takes 3 columns"):
        signature.validate(np.ones((2, 4)))
