"""``shipyard init`` and ``shipyard config show``."""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard.cli.output import JSON_OPTION, console, print_json, table, workspace_from
from shipyard.config import CONFIG_FILE_NAME, SETTINGS

config_app = typer.Typer(help="Look at the effective settings.", no_args_is_help=True)

_TEMPLATE = """\
# shipyard project settings. Environment variables (SHIPYARD_*) and CLI flags win
# over this file. See docs/configuration.md for every setting.
[shipyard]
# home = ".shipyard"
# db_url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
"""


def init(ctx: typer.Context) -> None:
    """Create shipyard.toml here (if missing) and the stores it names.

    Example: shipyard init
    """
    path = Path.cwd() / CONFIG_FILE_NAME
    created = not path.exists()
    if created:
        path.write_text(_TEMPLATE, encoding="utf-8")
    workspace = workspace_from(ctx)
    workspace.store.ping()
    _ = workspace.artifacts
    console.print(f"{'Created' if created else 'Kept'} {path}")
    console.print(f"Metadata store: {workspace.store}")
    console.print(f"Artifacts:      {workspace.settings.artifacts_url}")


@config_app.command("show")
def show(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Print every setting, its value and where it came from.

    Example: SHIPYARD_HOME=/tmp/sy shipyard config show
    """
    settings = workspace_from(ctx).settings
    rows = [
        (s.name, str(getattr(settings, s.name)), settings.sources.get(s.name, "default"), s.help)
        for s in SETTINGS
    ]
    if as_json:
        print_json([{"name": n, "value": v, "source": src, "help": h} for n, v, src, h in rows])
        return
    table(
        f"Settings (file: {settings.config_file or 'none'})",
        ["name", "value", "source"],
        [r[:3] for r in rows],
    )


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(config_app, name="config")
