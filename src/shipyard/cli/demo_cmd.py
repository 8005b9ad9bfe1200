"""``shipyard demo``: the whole lifecycle on a bundled dataset."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from shipyard.cli.output import console, workspace_from
from shipyard.config import load_settings

DEMO_HOME = ".shipyard-demo"


def demo(ctx: typer.Context) -> None:
    """Run the demo: train, track and show the summary.

    Uses SHIPYARD_HOME (or --home) when given; otherwise a fresh ./.shipyard-demo
    folder, emptied first.

    Example: shipyard demo
    """
    from shipyard.demo import run_demo

    root = ctx.find_root()
    overrides = {k: v for k, v in (root.obj or {}).items() if v is not None}
    if load_settings(overrides).sources.get("home") == "default":
        fresh = Path.cwd() / DEMO_HOME
        shutil.rmtree(fresh, ignore_errors=True)
        root.obj = {**(root.obj or {}), "home": str(fresh)}
    with workspace_from(ctx) as workspace:
        run_demo(workspace, console)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
