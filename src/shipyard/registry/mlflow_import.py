"""Importing an MLflow model directory (``MLmodel`` + files) as a new version.

- ``sklearn`` flavor: the estimator is read (skops, or pickle/cloudpickle as
  MLflow wrote it) and stored again in shipyard's sklearn flavor (skops), so
  loading it later needs no MLflow;
- ``python_function`` only: the directory is stored as is (flavor
  ``mlflow``) and loaded with ``mlflow.pyfunc``.

The MLflow signature becomes a shipyard ``Signature`` (column-based or
tensor-based), ``requirements.txt`` the version's requirements, and
``input_example.json`` its stored example. Reading a pickle runs code:
import only directories you trust.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.access import authenticate, require
from shipyard.errors import InvalidInput, NotFound
from shipyard.registry import flavors
from shipyard.registry.catalog import ModelVersionInfo
from shipyard.registry.refs import check_model_name
from shipyard.registry.signature import ColumnSpec, OutputSpec, Signature
from shipyard.registry.versions import Candidate, prepare, store_candidate
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    pass

_TYPES = {
    "double": ("float", "float64"),
    "float": ("float", "float32"),
    "long": ("integer", "int64"),
    "integer": ("integer", "int32"),
    "boolean": ("boolean", "bool"),
    "string": ("string", "str"),
    "datetime": ("datetime", "datetime64[ns]"),
}
_SAFE_MODULES = ("sklearn.", "numpy.", "scipy.", "builtins.")


def import_mlflow(
    path: str | Path, name: str, *, token: str | None = None, workspace: Workspace | None = None
) -> ModelVersionInfo:
    """Register the MLflow model in folder ``path`` as the next version of ``name``."""
    import pandas as pd

    workspace = workspace or current()
    check_model_name(name)
    folder = Path(path)
    mlmodel = read_mlmodel(folder)
    principal = require(
        authenticate(token or workspace.settings.token or None, workspace=workspace),
        "developer",
        f"Importing an MLflow model as '{name}'",
    )
    found = mlmodel.get("flavors") or {}
    example = _example(folder, mlmodel)
    signature = mlflow_signature(mlmodel.get("signature"))
    if "sklearn" in found:
        model = _sklearn_model(folder, found["sklearn"])
        candidate = prepare(model, example if example is not None else _dummy(signature))
        if signature is not None:
            signature = Signature(
                signature.inputs, candidate.signature.output, signature.input_format
            )
    elif "python_function" in found:
        if signature is None:
            raise InvalidInput(
                f"{folder}/MLmodel has no signature; a python_function model "
                "needs one to be imported.",
                field="signature",
            )
        data = flavors.get("mlflow").save(folder)
        candidate = Candidate("mlflow", data.data, data.meta, signature, {}, None)
    else:
        raise InvalidInput(
            f"{folder}/MLmodel has flavors {sorted(found)}; import supports "
            "sklearn and python_function.",
            field="flavors",
        )
    meta = {
        **candidate.meta,
        "mlflow": {k: mlmodel.get(k) for k in ("mlflow_version", "model_uuid", "utc_time_created")},
    }
    final = Candidate(
        candidate.flavor,
        candidate.data,
        meta,
        signature or candidate.signature,
        _requirements(folder, found) or candidate.requirements,
        example if isinstance(example, pd.DataFrame) else candidate.example,
    )
    return store_candidate(
        workspace,
        name,
        final,
        who=principal.name,
        description=f"imported from MLflow model {mlmodel.get('model_uuid')}",
    )


def read_mlmodel(folder: Path) -> dict[str, Any]:
    import yaml

    file = folder / "MLmodel"
    if not file.is_file():
        raise NotFound(
            f"No MLmodel file in {folder}: pass the folder MLflow saved the model "
            "to (the one holding MLmodel).",
            kind="file",
            name=str(file),
        )
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{file} is not valid YAML: {exc}", field="MLmodel") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{file} is not an MLmodel mapping.", field="MLmodel")
    return data


def mlflow_signature(raw: Any) -> Signature | None:
    """A shipyard signature from MLflow's ``signature`` block (JSON strings inside YAML)."""
    if not raw or not raw.get("inputs"):
        return None
    inputs = json.loads(raw["inputs"])
    if inputs and inputs[0].get("type") == "tensor":
        spec = inputs[0]["tensor-spec"]
        width = int(spec["shape"][-1])
        kind = "float" if "float" in spec["dtype"] else "integer"
        columns = tuple(ColumnSpec(f"f{i}", kind, spec["dtype"]) for i in range(width))
        return Signature(columns, _output(raw.get("outputs")), "ndarray")
    columns = tuple(
        ColumnSpec(
            str(c["name"]),
            *_TYPES.get(c["type"], ("string", "str")),
            nullable=not c.get("required", True),
        )
        for c in inputs
    )
    return Signature(columns, _output(raw.get("outputs")), "dataframe")


def _output(raw: Any) -> OutputSpec | None:
    if not raw:
        return None
    first = json.loads(raw)[0]
    if first.get("type") == "tensor":
        spec = first["tensor-spec"]
        return OutputSpec(str(spec["dtype"]), tuple(int(n) for n in spec["shape"]))
    return OutputSpec(_TYPES.get(first["type"], ("string", "object"))[1], (-1,))


def _sklearn_model(folder: Path, flavor: dict[str, Any]) -> Any:
    file = folder / str(flavor.get("pickled_model", "model.pkl"))
    if flavor.get("serialization_format") == "skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=file)
        allowed = set(flavor.get("skops_trusted_types") or [])
        unsafe = [t for t in untrusted if t not in allowed and not t.startswith(_SAFE_MODULES)]
        if unsafe:
            raise InvalidInput(
                f"{file} contains types outside scikit-learn/NumPy/SciPy that "
                f"MLflow did not mark trusted: {unsafe}.",
                field="model",
            )
        return sio.load(file, trusted=untrusted)
    with file.open("rb") as handle:
        return pickle.load(handle)


def _example(folder: Path, mlmodel: dict[str, Any]) -> Any:
    import pandas as pd

    info = mlmodel.get("saved_input_example_info") or {}
    file = folder / str(info.get("artifact_path", "input_example.json"))
    if not file.is_file():
        return None
    data = json.loads(file.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "columns" in data:
        return pd.DataFrame(data["data"], columns=data["columns"])
    if isinstance(data, dict) and "inputs" in data:
        data = data["inputs"]
    return np.asarray(data)


def _dummy(signature: Signature | None) -> Any:
    import pandas as pd

    if signature is None:
        raise InvalidInput(
            "The MLflow model has neither a signature nor an input example; "
            "shipyard needs one to check inputs.",
            field="signature",
        )
    row = {c.name: [0 if c.type in ("integer", "float") else ""] for c in signature.inputs}
    frame = pd.DataFrame(row)
    return frame.to_numpy(dtype=float) if signature.input_format == "ndarray" else frame


def _requirements(folder: Path, found: dict[str, Any]) -> dict[str, str]:
    file = folder / "requirements.txt"
    out: dict[str, str] = {}
    if file.is_file():
        for line in file.read_text(encoding="utf-8").splitlines():
            line = line.split("#")[0].strip()
            if line and "==" in line:
                package, _, version = line.partition("==")
                out[package.strip().lower()] = version.strip()
            elif line:
                out[line] = ""
    python = (found.get("python_function") or {}).get("python_version")
    if python and out:
        out["python"] = str(python)
    return out
