"""The ``shipyard`` command: a thin shell over the Python API.

Each command parses its arguments, calls one library function and prints the
result (a Rich table, or JSON with ``--json``). Errors become exit codes by
class in ``EXIT_CODES``: 0 ok, 1 a check failed, 2 bad usage or input.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from shipyard import errors
from shipyard.cli.output import console_err

# Most specific first: the first class an error is an instance of decides.
EXIT_CODES: tuple[tuple[type[errors.ShipyardError], int], ...] = (
    (errors.ValidationFailed, 1),
    (errors.GateFailed, 1),
    (errors.BackendUnavailable, 1),
    (errors.IntegrityError, 1),
    (errors.NotebookFailed, 1),
    (errors.ShipyardError, 2),
)


def exit_code_for(error: errors.ShipyardError) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return 2


class _Root(TyperGroup):
    """Turns ``ShipyardError`` into a message on stderr and its exit code."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except errors.ShipyardError as error:
            # Escaped: messages quote user text and TOML tables like [datasets.schemas].
            console_err.print(f"[bold red]Error:[/] {escape(error.message)}", highlight=False)
            raise typer.Exit(exit_code_for(error)) from error


app = typer.Typer(
    cls=_Root,
    name="shipyard",
    help="shipyard: track, register, serve and watch ML models on one lineage graph.\n\n"
    "Example: shipyard runs list --experiment churn",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root(
    ctx: typer.Context,
    home: str = typer.Option(None, "--home", help="SHIPYARD_HOME for this call."),
    db_url: str = typer.Option(None, "--db-url", help="Metadata store URL for this call."),
    artifacts_url: str = typer.Option(
        None, "--artifacts-url", help="Artifact store URL for this call."
    ),
) -> None:
    """Settings given here win over the environment and shipyard.toml."""
    ctx.obj = {"home": home, "db_url": db_url, "artifacts_url": artifacts_url}


def _register() -> None:
    from shipyard.cli import config_cmd, datasets_cmd, demo_cmd, tracking_cmd

    config_cmd.register(app)
    tracking_cmd.register(app)
    datasets_cmd.register(app)
    demo_cmd.register(app)
    from shipyard.cli import features_cmd

    features_cmd.register(app)
    from shipyard.cli import models_cmd

    models_cmd.register(app)
    from shipyard.cli import server_cmd, tokens_cmd

    tokens_cmd.register(app)
    server_cmd.register(app)
    from shipyard.cli import serving_cmd

    serving_cmd.register(app)
    from shipyard.cli import pipelines_cmd

    pipelines_cmd.register(app)
    from shipyard.cli import monitor_cmd

    monitor_cmd.register(app)
    from shipyard.cli import retrain_cmd

    retrain_cmd.register(app)


_register()


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        console_err.print("Interrupted.")
        sys.exit(130)
