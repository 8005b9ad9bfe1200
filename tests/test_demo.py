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
    assert (tmp_path / "demo" / "shipyard.db").exists()
