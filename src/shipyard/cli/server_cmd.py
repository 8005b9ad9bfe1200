"""``shipyard server``: run the management API (FastAPI under uvicorn)."""

from __future__ import annotations

import ipaddress

import typer

from shipyard.access import auth_enabled
from shipyard.cli.output import console_err, workspace_from
from shipyard.errors import InvalidInput


def server(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
    access_log: bool = typer.Option(
        False, "--access-log/--no-access-log", help="Log every request (off by default)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the management API (/api/…, /docs, /healthz, /readyz) until Ctrl-C.

    Example: shipyard server --host 127.0.0.1 --port 8000
    """
    import uvicorn

    from shipyard.server import create_app

    if not 0 < port < 65536:
        raise InvalidInput(f"--port must be between 1 and 65535, got {port}.", field="port")
    workspace = workspace_from(ctx)
    if not _is_loopback(host) and not auth_enabled(workspace):
        console_err.print(
            f"[bold yellow]Warning:[/] listening on {host} in laptop mode (no API tokens): "
            "anyone who can reach this port has full rights. Create a token first with "
            "`shipyard tokens create --name NAME --role approver`."
        )
    app = create_app(workspace.settings, workspace)
    console_err.print(f"shipyard server on http://{host}:{port} (API docs at /docs)")
    try:
        uvicorn.run(app, host=host, port=port, access_log=access_log, log_level=log_level)
    finally:
        workspace.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    app.command("server")(server)
