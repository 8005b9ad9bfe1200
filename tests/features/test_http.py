"""``POST /api/features/online`` on the management server, in process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
from tests.features.conftest import T0, events, spend_view, write

from shipyard import features
from shipyard.server.app import create_app
from shipyard.workspace import Workspace


def test_online_features_over_http(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    source = write(events(), tmp_path / "e.parquet")
    features.apply([spend_view(source)], workspace=sqlite_workspace)
    features.materialize("spend", None, T0 + timedelta(days=30), workspace=sqlite_workspace)
    app = create_app(workspace=sqlite_workspace)

    def post(body: dict[str, Any]) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.post("/api/features/online", json=body)

        return anyio.run(call)

    entities = [{"customer_id": 1}, {"customer_id": 999}]
    ok = post({"features": ["spend:count"], "entities": entities})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert isinstance(body["rows"][0]["count"], int)
    assert body["rows"][1] == {"count": None}
    assert body["status"] == [{"count": "present"}, {"count": "missing"}]

    unknown = post({"features": ["spend:cont"], "entities": [{"customer_id": 1}]})
    assert unknown.status_code == 404
    assert "Did you mean 'spend:count'" in unknown.json()["message"]

    no_key = post({"features": ["spend:count"], "entities": [{"id": 1}]})
    assert no_key.status_code == 422 and no_key.json()["field"] == "customer_id"
