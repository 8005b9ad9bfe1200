"""Save the benchmark's joblib model as an MLflow model directory (run in MLflow's venv).

    python mlflow_save.py MODEL.joblib OUT_DIR

``pyfunc_predict_fn="predict_proba"`` so that ``mlflow models serve`` makes the
same model call as every other server in the benchmark. Prints one JSON line.
"""

from __future__ import annotations

import json
import logging
import sys

import joblib
import mlflow.sklearn


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.sklearn.save_model(
        joblib.load(source),
        target,
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        pyfunc_predict_fn="predict_proba",
    )
    print(json.dumps({"path": target}))


if __name__ == "__main__":
    main()
