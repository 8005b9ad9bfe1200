"""``/predict`` bodies to columns: ``{"records": [...]}`` or ``{"columns": [...], "data": [...]}``.

Both shapes become a mapping of column name -> 1-D NumPy array with the
values' natural dtype (NumPy infers it in C), which ``validation`` then
checks against the signature. A key absent from some records is a null in
those rows; a key absent from every record is a missing column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInput

Columns = dict[str, npt.NDArray[Any]]
_SHAPES = '{"records": [{"col": value, ...}, ...]} or {"columns": [...], "data": [[...], ...]}'


def records_to_columns(document: Any) -> Columns:
    """The columns of a ``/predict`` body, or ``InvalidInput`` naming what is wrong."""
    if not isinstance(document, dict):
        raise InvalidInput(f"The body must be a JSON object: {_SHAPES}.", field="body")
    if "records" in document:
        return _from_records(document["records"])
    if "columns" in document or "data" in document:
        return _from_split(document.get("columns"), document.get("data"))
    raise InvalidInput(
        f"The body has neither 'records' nor 'columns'/'data'; send {_SHAPES}.", field="body"
    )


def _from_records(records: Any) -> Columns:
    if not isinstance(records, list):
        raise InvalidInput(f"'records' must be a list of objects: {_SHAPES}.", field="records")
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise InvalidInput(
            f"records[{bad}] is {records[bad]!r}, not an object of column: value.",
            field="records",
        )
    names = dict.fromkeys(key for record in records for key in record)
    return {name: _column([record.get(name) for record in records]) for name in names}


def _from_split(columns: Any, data: Any) -> Columns:
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidInput("'columns' must be a list of column names.", field="columns")
    if len(set(columns)) != len(columns):
        raise InvalidInput(f"'columns' repeats a name: {columns}.", field="columns")
    if not isinstance(data, list):
        raise InvalidInput("'data' must be a list of rows (lists of values).", field="data")
    if not data:
        return {name: np.array([], dtype=object) for name in columns}
    table = np.empty((len(data), len(columns)), dtype=object)
    try:
        table[:] = data
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"Every row of 'data' must be a list of {len(columns)} values (one per column "
            f"in 'columns'): {exc}.",
            field="data",
        ) from exc
    return {name: table[:, j] for j, name in enumerate(columns)}


def _column(values: list[Any]) -> npt.NDArray[Any]:
    try:
        array = np.asarray(values)
    except ValueError:  # nested lists of different lengths
        array = np.empty(len(values), dtype=object)
        array[:] = values
    if array.ndim != 1:
        array = np.empty(len(values), dtype=object)
        array[:] = values
    return array
