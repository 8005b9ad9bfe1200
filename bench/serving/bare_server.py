"""The ceiling: a bare Starlette endpoint on uvicorn that parses the same V2 JSON and
calls the same model's ``predict_proba`` on the row (no validation, no logging,
no routing, no metrics).

    python bare_server.py HOME PORT
"""

from __future__ import annotations

import json
import sys

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import shipyard as sy


def make_app(home: str) -> Starlette:
    workspace = sy.connect(home=home)
    model = sy.load_model("cancer/1", workspace=workspace).model

    async def infer(request: Request) -> Response:
        body = json.loads(await request.body())
        tensor = body["inputs"][0]
        x = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
        proba = model.predict_proba(x)
        out = {
            "model_name": "cancer",
            "model_version": "1",
            "outputs": [
                {
                    "name": "predict_proba",
                    "datatype": "FP64",
                    "shape": list(proba.shape),
                    "data": proba.ravel().tolist(),
                }
            ],
        }
        return Response(json.dumps(out), media_type="application/json")

    return Starlette(routes=[Route("/v2/models/cancer/infer", infer, methods=["POST"])])


if __name__ == "__main__":
    home, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(make_app(home), host="127.0.0.1", port=port, access_log=False, log_level="warning")
