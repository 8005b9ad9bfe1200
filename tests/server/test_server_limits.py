"""Request bodies over ``max_body_bytes`` get 413 with a JSON body naming the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from shipyard.config import load_settings
from shipyard.server import create_app
from shipyard.workspace import Workspace


@pytest.fixture
def small_api(tmp_path: Path, make_api: Callable[[FastAPI], Any]) -> Any:
    settings = load_settings({"home": str(tmp_path), "max_body_bytes": 1000}, environ={})
    workspace = Workspace(settings)
    yield make_api(create_app(settings, workspace))
    workspace.close()


def test_default_limit_is_ten_mebibytes(tmp_path: Path) -> None:
    assert load_settings({"home": str(tmp_path)}, environ={}).max_body_bytes == 10 * 1024 * 1024


def test_declared_length_over_the_limit_is_413(small_api: Any) -> None:
    response = small_api.post("/api/runs/search", json={"filter": "x" * 2000})
    body = small_api.error(response, 413, "RequestTooLarge")
    assert body["limit"] == 1000
    assert "max_body_bytes" in body["message"]


def test_streamed_body_over_the_limit_is_413(small_api: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 100

    response = small_api.post(
        "/api/runs/search", content=chunks(), headers={"content-type": "application/json"}
    )
    body = small_api.error(response, 413, "RequestTooLarge")
    assert "1000" in body["message"]


def test_body_under_the_limit_passes(small_api: Any) -> None:
    assert small_api.post("/api/runs/search", json={"filter": ""}).status_code == 200
