"""``shipyard tokens create|list|revoke``: shown once, stored hashed, revocable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard.access import authenticate
from shipyard.cli import app
from shipyard.config import load_settings
from shipyard.errors import Unauthenticated
from shipyard.workspace import Workspace


def _run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    return result.exit_code, result.stdout, result.stderr


def test_create_prints_the_token_once_and_list_never_shows_it(tmp_path: Path) -> None:
    code, out, err = _run(tmp_path, "tokens", "create", "--name", "ci-bot", "--role", "developer")
    assert code == 0, err
    token = out.strip()
    assert token.startswith("sy_") and "shown only now" in err
    assert "first token" in err
    with Workspace(load_settings({"home": str(tmp_path)}, environ={})) as workspace:
        principal = authenticate(token, workspace=workspace)
    assert (principal.name, principal.role) == ("ci-bot", "developer")

    code, out, _ = _run(tmp_path, "tokens", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [(t["name"], t["role"], t["revoked"]) for t in listed] == [
        ("ci-bot", "developer", False)
    ]
    assert token not in out and listed[0]["prefix"] == token[:10]
    code, out, _ = _run(tmp_path, "tokens", "list")
    assert "ci-bot" in out and token not in out


def test_revoke_by_prefix_stops_the_token(tmp_path: Path) -> None:
    _, out, _ = _run(tmp_path, "tokens", "create", "--name", "ana", "--role", "viewer")
    token = out.strip()
    code, _, err = _run(tmp_path, "tokens", "revoke", token[:10])
    assert code == 0, err
    with (
        Workspace(load_settings({"home": str(tmp_path)}, environ={})) as workspace,
        pytest.raises(Unauthenticated, match="revoked"),
    ):
        authenticate(token, workspace=workspace)


def test_bad_inputs_exit_2_with_the_fix(tmp_path: Path) -> None:
    code, out, err = _run(tmp_path, "tokens", "create", "--name", "x", "--role", "root")
    assert code == 2 and "viewer, developer, approver" in err and not out.strip()
    code, _, err = _run(tmp_path, "tokens", "create", "--name", " ", "--role", "viewer")
    assert code == 2 and "name" in err
    code, _, err = _run(tmp_path, "tokens", "revoke", "sy")
    assert code == 2 and "too short" in err
    code, _, err = _run(tmp_path, "tokens", "revoke", "sy_nothing")
    assert code == 2 and "tokens list" in err
    # Nothing was stored by the refused calls.
    _, out, _ = _run(tmp_path, "tokens", "list", "--json")
    assert json.loads(out) == []
