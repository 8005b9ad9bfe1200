"""``shipyard server``: bad flags exit 2 before anything listens."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from shipyard.cli import app
from shipyard.cli.server_cmd import _is_loopback


def test_bad_port_exits_2_naming_the_flag(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "server", "--port", "70000"])
    assert result.exit_code == 2
    assert "--port" in result.stderr


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["server", "--help"])
    assert result.exit_code == 0 and "Example: shipyard server" in result.stdout


def test_loopback_detection() -> None:
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("example.com")
