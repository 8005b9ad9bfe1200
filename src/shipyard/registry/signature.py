"""Model signatures: what a model takes and returns, and the check every input passes.

A ``Signature`` is inferred from the input example given to ``log_model``:

- ``inputs``: one ``ColumnSpec`` per column (a NumPy array's columns are named
  ``f0``, ``f1``…) with its ``type`` (``integer``, ``float``, ``boolean``,
  ``string``, ``category``, ``datetime``), exact ``dtype``, ``nullable`` (the
  example had a null) and, for categorical columns, the closed set of
  ``categories``;
- ``output``: the dtype and shape of ``predict`` (``-1`` is the batch axis),
  and the class labels when the model has ``predict_proba``;
- ``input_format``: whether the model itself wants a ``dataframe`` or an
  ``ndarray``.

``Signature.validate(data)`` checks a batch column by column with vectorized
pandas/NumPy operations (no per-row Python) and raises ``ValidationFailed``
(an ``InvalidInput``) whose message and ``.report`` name every missing
column, wrong type, disallowed null and unknown category. The serving layer
uses the same object (``to_dict``/``from_dict``) for its metadata and edge
validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import InvalidInput, ValidationFailed

if TYPE_CHECKING:
    import pandas as pd

TYPES = ("integer", "float", "boolean", "string", "category", "datetime")
MAX_CATEGORIES = 20
"""A text column with at most this many distinct values is treated as categorical…"""
MIN_ROWS_FOR_TEXT_CATEGORIES = 50
"""…when the example is at least this long (a 5-row example cannot reveal a closed set)."""


@dataclass(frozen=True)
class ColumnSpec:
    """One input column: name, type, exact dtype, nullability and allowed categories."""

    name: str
    type: str
    dtype: str
    nullable: bool = False
    categories: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "dtype": self.dtype,
            "nullable": self.nullable,
        }
        if self.categories is not None:
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        categories = data.get("categories")
        return cls(
            str(data["name"]),
            str(data["type"]),
            str(data["dtype"]),
            bool(data.get("nullable", False)),
            tuple(categories) if categories is not None else None,
        )


@dataclass(frozen=True)
class OutputSpec:
    """What ``predict`` returns: dtype and shape (``-1`` = batch), and class labels if any."""

    dtype: str
    shape: tuple[int, ...]
    classes: tuple[Any, ...] | None = None
    has_proba: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "shape": list(self.shape),
            "classes": list(self.classes) if self.classes is not None else None,
            "has_proba": self.has_proba,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputSpec:
        classes = data.get("classes")
        return cls(
            str(data["dtype"]),
            tuple(int(n) for n in data["shape"]),
            tuple(classes) if classes is not None else None,
            bool(data.get("has_proba")),
        )


@dataclass(frozen=True)
class Signature:
    """Input columns, output description, and the input format the model wants."""

    inputs: tuple[ColumnSpec, ...]
    output: OutputSpec | None = None
    input_format: str = "dataframe"
    _by_name: dict[str, ColumnSpec] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.inputs})

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.inputs]

    def column(self, name: str) -> ColumnSpec:
        return self._by_name[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "output": self.output.to_dict() if self.output else None,
            "input_format": self.input_format,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        output = data.get("output")
        return cls(
            tuple(ColumnSpec.from_dict(c) for c in data["inputs"]),
            OutputSpec.from_dict(output) if output else None,
            str(data.get("input_format", "dataframe")),
        )

    def validate(self, data: Any) -> pd.DataFrame:
        """``data`` as a DataFrame in signature order and dtypes, or ``ValidationFailed``."""
        import pandas as pd

        frame = self._as_frame(data)
        missing = [c for c in self.inputs if c.name not in frame.columns]
        problems: list[dict[str, Any]] = [
            {
                "column": c.name,
                "problem": "missing",
                "message": f"column '{c.name}' ({c.type}) is missing",
            }
            for c in missing
        ]
        present = [c for c in self.inputs if c.name in frame.columns]
        nulls = frame[[c.name for c in present]].isna().sum().to_dict() if present else {}
        columns: dict[str, Any] = {}
        for spec in present:
            series = frame[spec.name]
            count = int(nulls[spec.name])
            if str(series.dtype) == spec.dtype and spec.categories is None:
                columns[spec.name] = series  # the common case: nothing to check but nulls
                if count and not spec.nullable:
                    problems.append(_null_problem(spec, count))
                continue
            converted, found = _check_column(spec, series, count)
            problems.extend(found)
            columns[spec.name] = converted
        if problems:
            raise _failure(problems)
        if all(columns[c] is frame[c] for c in columns) and len(columns) == frame.shape[1]:
            return frame[self.columns]
        return pd.DataFrame(columns, index=frame.index)

    def model_input(self, frame: pd.DataFrame) -> Any:
        """A validated frame in the form the model was trained on (DataFrame or ndarray)."""
        if self.input_format == "ndarray":
            return frame.to_numpy()
        return frame

    def _as_frame(self, data: Any) -> pd.DataFrame:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return data
        if isinstance(data, np.ndarray) or (
            isinstance(data, list) and data and isinstance(data[0], list | tuple)
        ):
            array = np.asarray(data) if not isinstance(data, np.ndarray) else data
            if array.ndim == 1 and len(self.inputs) == array.shape[0]:
                array = array.reshape(1, -1)
            if array.ndim != 2 or array.shape[1] != len(self.inputs):
                raise InvalidInput(
                    f"Input array has shape {array.shape}; the model takes "
                    f"{len(self.inputs)} columns ({', '.join(self.columns[:8])}…). Pass a "
                    "2-D array of that width or a DataFrame with those columns.",
                    field="input",
                )
            return pd.DataFrame(array, columns=self.columns)
        if isinstance(data, Mapping | list):
            try:
                return pd.DataFrame(data)
            except ValueError as exc:
                raise InvalidInput(
                    f"Cannot read the input as a table: {exc}", field="input"
                ) from exc
        raise InvalidInput(
            f"Input of type {type(data).__name__} is not supported; pass a pandas DataFrame, "
            "a 2-D NumPy array, a dict of columns or a list of row dicts.",
            field="input",
        )


def _failure(problems: list[dict[str, Any]]) -> ValidationFailed:
    shown = "; ".join(p["message"] for p in problems[:10])
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    return ValidationFailed(
        f"Input does not match the model signature: {shown}{more}. See the model's "
        "signature with `shipyard models show NAME/VERSION`.",
        report=problems,
        field=problems[0]["column"],
    )


def _problem(spec: ColumnSpec, kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"column": spec.name, "problem": kind, "message": message, **extra}


def _null_problem(spec: ColumnSpec, count: int) -> dict[str, Any]:
    return _problem(
        spec,
        "null",
        f"column '{spec.name}' has {count} null value(s) but the signature does not allow nulls",
        count=count,
    )


def _check_column(
    spec: ColumnSpec, series: pd.Series, nulls: int
) -> tuple[Any, list[dict[str, Any]]]:
    found = column_type(series)
    problems: list[dict[str, Any]] = []
    if nulls and not spec.nullable:
        problems.append(_null_problem(spec, nulls))
    if not _compatible(spec, found, series):
        problems.append(
            _problem(
                spec,
                "type",
                f"column '{spec.name}' should be {spec.type} "
                f"({spec.dtype}), got {found} ({series.dtype})",
                found=found,
            )
        )
        return series, problems
    if spec.categories is not None:
        unknown = _unknown_categories(spec, series)
        if unknown:
            shown = ", ".join(repr(v) for v in unknown[:5])
            problems.append(
                _problem(
                    spec,
                    "category",
                    f"column '{spec.name}' has unknown "
                    f"categor{'y' if len(unknown) == 1 else 'ies'} {shown}; "
                    f"allowed: {', '.join(map(repr, spec.categories[:10]))}",
                    values=[str(v) for v in unknown[:20]],
                )
            )
    return _convert(spec, series, nulls), problems


def _compatible(spec: ColumnSpec, found: str, series: pd.Series) -> bool:
    if found == "empty" or found == spec.type:
        return True
    if spec.type == "float":
        return found in ("integer", "boolean")
    if spec.type == "integer" and found == "float":
        values = series.dropna().to_numpy(dtype=float)
        return bool(np.all(np.mod(values, 1) == 0))
    if spec.type in ("string", "category"):
        return found in ("string", "category")
    return False


def _unknown_categories(spec: ColumnSpec, series: pd.Series) -> list[Any]:
    import pandas as pd

    assert spec.categories is not None
    values = pd.unique(series.dropna().to_numpy(dtype=object))
    allowed = np.asarray(spec.categories, dtype=object)
    return [v for v in values[~np.isin(values, allowed)].tolist()]


def _convert(spec: ColumnSpec, series: pd.Series, nulls: int) -> Any:
    import pandas as pd

    if column_type(series) == "empty" and len(series) == 0:
        return series.astype(_empty_dtype(spec))
    if spec.type == "category" and spec.dtype == "category":
        return pd.Categorical(series, categories=list(spec.categories or ()))
    if spec.type in ("integer", "float", "boolean") and not nulls:
        try:
            return series.astype(spec.dtype)
        except (TypeError, ValueError):
            return series
    if spec.type in ("integer", "float") and nulls:
        return series.astype("float64")
    return series


def _empty_dtype(spec: ColumnSpec) -> Any:
    import pandas as pd

    if spec.dtype == "category":
        return pd.CategoricalDtype(list(spec.categories or ()))
    try:
        return np.dtype(spec.dtype)
    except TypeError:
        return object


def column_type(series: pd.Series) -> str:
    """The signature type of a pandas column (``empty`` for an all-null object column)."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    mapping = {
        "string": "string",
        "empty": "empty",
        "boolean": "boolean",
        "integer": "integer",
        "floating": "float",
        "mixed-integer-float": "float",
        "datetime64": "datetime",
        "datetime": "datetime",
    }
    return mapping.get(inferred, "object")


def infer_signature(
    example: Any, output: Any = None, *, model: Any = None, extra_rows: pd.DataFrame | None = None
) -> Signature:
    """The signature of a model from an input example and (optionally) its predictions."""
    import pandas as pd

    frame, input_format = example_frame(example)
    seen = frame if extra_rows is None else pd.concat([frame, extra_rows], ignore_index=True)
    inputs = tuple(_infer_column(str(name), seen[name]) for name in frame.columns)
    return Signature(inputs, _infer_output(output, model), input_format)


def example_frame(example: Any) -> tuple[pd.DataFrame, str]:
    """An input example as a DataFrame, and whether the model takes a DataFrame or ndarray."""
    import pandas as pd

    if isinstance(example, pd.DataFrame):
        frame, input_format = example, "dataframe"
    elif isinstance(example, np.ndarray):
        if example.ndim != 2:
            raise InvalidInput(
                f"input_example must be 2-D (rows × columns), got shape "
                f"{example.shape}. Reshape it, e.g. X[:5].",
                field="input_example",
            )
        frame = pd.DataFrame(example, columns=[f"f{i}" for i in range(example.shape[1])])
        input_format = "ndarray"
    else:
        raise InvalidInput(
            f"input_example must be a pandas DataFrame or a 2-D NumPy array, got "
            f"{type(example).__name__}. Pass a few training rows, e.g. X[:5].",
            field="input_example",
        )
    if frame.shape[1] == 0:
        raise InvalidInput(
            "input_example has no columns; pass a few training rows with all "
            "their feature columns, e.g. X[:5].",
            field="input_example",
        )
    if frame.shape[0] == 0:
        raise InvalidInput(
            "input_example has no rows; pass a few training rows, e.g. X[:5].",
            field="input_example",
        )
    bad = [c for c in frame.columns if not isinstance(c, str) or not c]
    if bad:
        raise InvalidInput(
            f"input_example column names must be non-empty strings; got {bad[:5]}."
            " Rename the columns.",
            field="input_example",
        )
    return frame, input_format


def _infer_column(name: str, series: pd.Series) -> ColumnSpec:
    kind = column_type(series)
    nullable = bool(series.isna().any())
    if kind == "category":
        cats = series.dtype.categories.tolist()
        return ColumnSpec(name, "category", "category", nullable, tuple(cats))
    if kind in ("string", "object", "empty"):
        distinct = series.dropna().unique()
        closed = len(series) >= MIN_ROWS_FOR_TEXT_CATEGORIES and len(distinct) <= MAX_CATEGORIES
        cats = tuple(sorted(str(v) for v in distinct)) if closed else None
        return ColumnSpec(name, "category" if closed else "string", "str", nullable, cats)
    dtype = str(series.dtype)
    if kind in ("integer", "boolean") and nullable and not dtype[0].isupper():
        dtype = "float64"  # NaN turned the column into floats already
    return ColumnSpec(name, kind, dtype, nullable)


def _infer_output(output: Any, model: Any) -> OutputSpec | None:
    if output is None:
        return None
    array = np.asarray(output)
    classes = getattr(model, "classes_", None)
    has_proba = callable(getattr(model, "predict_proba", None))
    return OutputSpec(
        str(array.dtype),
        (-1, *array.shape[1:]),
        tuple(np.asarray(classes).tolist()) if classes is not None and has_proba else None,
        has_proba,
    )


def describe(signature: Signature) -> Sequence[tuple[str, str, str, str]]:
    """Rows (column, type, nullable, categories) for printing."""
    return [
        (
            c.name,
            f"{c.type} ({c.dtype})",
            "yes" if c.nullable else "no",
            ", ".join(map(str, c.categories[:8])) + ("…" if len(c.categories) > 8 else "")
            if c.categories is not None
            else "-",
        )
        for c in signature.inputs
    ]
