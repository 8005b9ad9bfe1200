"""Column-wise validation: every failing column reported at once, values cast."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shipyard.errors import ValidationFailed
from shipyard.serving.validation import ColumnSpec, InputSchema, validate

SCHEMA = InputSchema(
    (
        ColumnSpec("age", "int64"),
        ColumnSpec("income", "float64", nullable=True),
        ColumnSpec("score", "float32"),
        ColumnSpec("plan", "category", categories=("basic", "pro")),
        ColumnSpec("active", "bool"),
    )
)


def _good() -> dict[str, Any]:
    return {
        "age": np.array([30, 41]),
        "income": np.array([1000.0, None], dtype=object),
        "score": np.array([0.5, 0.25]),
        "plan": np.array(["basic", "pro"]),
        "active": np.array([True, False]),
    }


def _problems(columns: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(columns, SCHEMA)
    return {p["column"]: p["reason"] for p in caught.value.report}


def test_valid_batch_is_cast_to_declared_dtypes() -> None:
    out = validate(_good(), SCHEMA)
    assert out["age"].dtype == np.int64
    assert out["score"].dtype == np.float32
    assert np.isnan(out["income"][1])
    assert list(out) == SCHEMA.names


def test_every_bad_column_is_reported_at_once() -> None:
    columns = _good()
    columns["age"] = np.array(["thirty", "x"])
    columns["score"] = np.array([np.nan, 1.0])
    columns["plan"] = np.array(["basic", "gold"])
    columns["active"] = np.array([2.5, 1.0])
    del columns["income"]
    columns["colour"] = np.array([1, 2])
    problems = _problems(columns)
    assert set(problems) == {"age", "score", "plan", "active", "income", "colour"}
    assert "expected int64" in problems["age"]
    assert "not nullable" in problems["score"]
    assert "gold" in problems["plan"]
    assert problems["income"] == "missing column"
    assert "unexpected column" in problems["colour"]


def test_infinity_and_fractional_ints_are_rejected() -> None:
    columns = _good()
    columns["score"] = np.array([np.inf, 1.0])
    columns["age"] = np.array([30.5, 2.0])
    problems = _problems(columns)
    assert "infinite" in problems["score"]
    assert "non-integer" in problems["age"]


def test_empty_batch_is_rejected() -> None:
    columns = {name: np.array([]) for name in SCHEMA.names}
    assert "empty" in _problems(columns)["*"]


def test_bytes_categories_from_binary_tensors_are_decoded() -> None:
    columns = _good()
    columns["plan"] = np.array([b"basic", b"pro"], dtype=object)
    assert list(validate(columns, SCHEMA)["plan"]) == ["basic", "pro"]


def test_signature_objects_and_dicts_map_onto_a_schema() -> None:
    schema = InputSchema.from_signature(
        {"inputs": None}.get("inputs")
        or [{"name": "a", "dtype": "float64", "nullable": True}, {"name": "b", "dtype": "str"}]
    )
    assert schema.get("a") == ColumnSpec("a", "float64", True, None)
    assert schema.get("b") is not None
