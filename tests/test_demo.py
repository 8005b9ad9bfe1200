"""`make demo` runs the whole lifecycle on a fresh home and ends with a summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard.cli import app


@pytest.mark.slow
def test_demo_runs_end_to_end_on_a_fresh_home(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "demo"), "demo"])
    assert result.exit_code == 0, result.output
    assert "Summary" in result.output
    assert "canary → production" in result.output
    assert "blocked:" in result.output  # the worse model is stopped by the golden gate
    assert "point-in-time training rows" in result.output
    output = " ".join(result.output.split())  # rich wraps long lines
    # serving: a real server process, canary share, swap and rollback without a failure
    assert "routes canary" in output
    assert "during the swap and the rollback, 0 failed" in output
    assert "rejected with 422" in output and "'mean radius': missing column" in output
    assert "server stopped cleanly" in output
    # the feature-store model is served by customer id, features looked up by the server
    assert "same as the model on get_online's values: True" in output
    # monitoring: the shifted day raises a drift alert and labels give real accuracy
    assert "ALERT" in output and "delayed ground truth: 1200 labels" in output
    # retraining: approved candidate waits in canary; production is refused to a developer
    assert "waits in canary for a person" in output
    assert "production refused for a developer" in output
    assert (tmp_path / "demo" / "shipyard.db").exists()
