"""How a step's output becomes the bytes of a content-addressed artifact.

Two formats, recorded with each step run (``output_format``):

* ``parquet`` for a pandas ``DataFrame`` (written by PyArrow, index kept), so
  that a table result is readable by any tool;
* ``pickle`` (protocol 5) for everything else; values the standard pickler
  refuses (lambdas, local classes) are written with cloudpickle, which the
  same ``pickle.loads`` reads back.

Equal values give equal bytes for the usual types, so equal outputs share
one blob in the artifact store.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from shipyard.errors import InvalidInput

PICKLE = "pickle"
PARQUET = "parquet"


def dumps(value: Any, step: str = "step") -> tuple[bytes, str]:
    """(bytes, format) of a step output."""
    kind = type(value)
    if kind.__module__.startswith("pandas") and kind.__name__ == "DataFrame":
        buffer = io.BytesIO()
        value.to_parquet(buffer, index=True)
        return buffer.getvalue(), PARQUET
    try:
        return pickle.dumps(value, protocol=5), PICKLE
    except (pickle.PicklingError, TypeError, AttributeError):
        pass
    import cloudpickle

    try:
        return cloudpickle.dumps(value, protocol=5), PICKLE
    except Exception as exc:
        raise InvalidInput(
            f"The output of step '{step}' ({kind.__qualname__}) cannot be serialized: {exc}. "
            "Return plain data (numbers, arrays, frames, fitted models), not live objects.",
            field=step,
        ) from exc


def loads(data: bytes, fmt: str) -> Any:
    """The value back from ``dumps``' bytes."""
    if fmt == PARQUET:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data))
    if fmt == PICKLE:
        return pickle.loads(data)
    raise InvalidInput(f"Unknown step output format {fmt!r}.", field="output_format")


__all__ = ["PARQUET", "PICKLE", "dumps", "loads"]
