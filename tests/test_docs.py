"""Docs are part of the product: every command and setting is documented."""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard.cli import app
from shipyard.config import SETTINGS

DOCS = Path(__file__).parents[1] / "docs"


def _commands(group: typer.Typer, prefix: str = "") -> list[str]:
    found = [f"{prefix}{c.name or c.callback.__name__}".strip() for c in group.registered_commands]  # type: ignore[union-attr]
    for sub in group.registered_groups:
        found += _commands(sub.typer_instance, f"{prefix}{sub.name} ")  # type: ignore[arg-type]
    return found


def test_every_command_appears_in_the_docs() -> None:
    text = "\n".join(p.read_text() for p in DOCS.glob("*.md"))
    missing = [c for c in _commands(app) if f"shipyard {c}" not in text]
    assert missing == [], f"undocumented commands: {missing}"


def test_every_command_help_has_an_example() -> None:
    from typer.main import get_command

    root = get_command(app)

    def walk(command: object, path: str) -> list[str]:
        subs = getattr(command, "commands", None)
        if subs:
            return [p for name, sub in subs.items() for p in walk(sub, f"{path} {name}")]
        help_text = getattr(command, "help", "") or ""
        return [] if "Example" in help_text else [path.strip()]

    assert walk(root, "") == []


def test_every_setting_is_in_the_configuration_reference() -> None:
    text = (DOCS / "configuration.md").read_text()
    assert [s.env_var for s in SETTINGS if f"`{s.env_var}`" not in text] == []
