"""Datasets over HTTP: upload CSV/JSON, list, versions, profile, diff, validate."""

from __future__ import annotations

from typing import Any

import pandas as pd

from shipyard import data
from shipyard.access import create_token
from shipyard.workspace import Workspace

CSV_V1 = b"age,plan\n31,basic\n45,pro\n22,basic\n"
CSV_V2 = b"age,plan\n31,basic\n45,pro\n22,basic\n67,pro\n"


def test_upload_csv_then_read_everything_back(api: Any) -> None:
    first = api.post(
        "/api/datasets/customers", content=CSV_V1, headers={"content-type": "text/csv"}
    )
    assert first.status_code == 201, first.text
    assert first.json()["ref"] == "customers/v1" and first.json()["row_count"] == 3
    again = api.post(
        "/api/datasets/customers", content=CSV_V1, headers={"content-type": "text/csv"}
    )
    assert again.json()["version"] == 1  # identical content is not a new version
    api.post("/api/datasets/customers", content=CSV_V2, headers={"content-type": "text/csv"})

    assert [s["ref"] for s in api.get("/api/datasets").json()] == ["customers/v2"]
    assert [s["version"] for s in api.get("/api/datasets/customers/versions").json()] == [1, 2]
    assert api.get("/api/datasets/customers").json()["version"] == 2
    assert api.get("/api/datasets/customers/versions/1").json()["row_count"] == 3
    profile = api.get("/api/datasets/customers/versions/1/profile").json()
    assert "age" in str(profile)
    diff = api.get("/api/datasets/customers/versions/1/diff", params={"against": "2"}).json()
    assert (diff["a"], diff["b"], diff["rows_b"]) == ("customers/v1", "customers/v2", 4)


def test_json_records_upload_and_validation(api: Any, workspace: Workspace) -> None:
    records = [{"age": 30, "plan": "basic"}, {"age": 40, "plan": "pro"}]
    created = api.post("/api/datasets/people", json={"records": records})
    assert created.status_code == 201, created.text
    stored = data.load("people/v1", workspace=workspace)
    pd.testing.assert_frame_equal(stored, pd.DataFrame.from_records(records), check_dtype=False)
    good = api.post("/api/datasets/people/versions/1/validate", json={"records": records})
    assert good.json()["ok"] is True
    bad = api.post(
        "/api/datasets/people/versions/1/validate",
        json={"records": [{"age": "old", "plan": "basic"}]},
    ).json()
    assert bad["ok"] is False and bad["failures"][0]["column"] == "age"


def test_unknown_dataset_and_version_are_404(api: Any) -> None:
    body = api.error(api.get("/api/datasets/nothing"), 404, "NotFound")
    assert body["name"] == "nothing"
    api.post("/api/datasets/customers", content=CSV_V1, headers={"content-type": "text/csv"})
    body = api.error(api.get("/api/datasets/customers/versions/7"), 404, "NotFound")
    assert "latest is v1" in body["message"]


def test_bad_uploads_are_refused_and_store_nothing(api: Any) -> None:
    headers = {"content-type": "application/xml"}
    body = api.error(
        api.post("/api/datasets/x", content=b"<a/>", headers=headers), 422, "InvalidInput"
    )
    assert body["field"] == "content-type"
    csv = {"content-type": "text/csv"}
    api.error(api.post("/api/datasets/bad name!", content=CSV_V1, headers=csv), 422, "InvalidInput")
    api.error(api.post("/api/datasets/x", json={"rows": []}), 422, "InvalidInput")
    api.error(
        api.post("/api/datasets/x", content=b"{oops", headers={"content-type": "application/json"}),
        422,
        "InvalidInput",
    )
    assert api.get("/api/datasets").json() == []


def test_upload_needs_developer_once_tokens_exist(api: Any, workspace: Workspace) -> None:
    api.token = create_token("ana", "viewer", workspace=workspace)
    response = api.post(
        "/api/datasets/customers", content=CSV_V1, headers={"content-type": "text/csv"}
    )
    body = api.error(response, 403, "PermissionDenied")
    assert body["required_role"] == "developer"
    api.token = create_token("dev", "developer", workspace=workspace)
    response = api.post(
        "/api/datasets/customers", content=CSV_V1, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 201
