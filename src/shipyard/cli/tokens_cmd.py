"""``shipyard tokens create|list|revoke``: API tokens and their roles."""

from __future__ import annotations

import typer

from shipyard.access import ROLES, create_token, list_tokens, revoke_token
from shipyard.cli.output import JSON_OPTION, console, console_err, print_json, table, workspace_from

tokens_app = typer.Typer(
    help="API tokens: who may read, register, promote and roll back. The first token "
    "turns authorization on (until then the local user may do everything).",
    no_args_is_help=True,
)


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Who the token is for (a person or a bot)."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(ROLES)}."),
) -> None:
    """Create a token and print it once; only its hash is stored.

    Example: shipyard tokens create --name ci-bot --role developer
    """
    workspace = workspace_from(ctx)
    first = not list_tokens(workspace=workspace)
    token = create_token(name, role, workspace=workspace)
    # The token alone on stdout, so that `TOKEN=$(shipyard tokens create …)` works.
    typer.echo(token)
    console_err.print(
        f"Created a '{role}' token for {name}. It is shown only now; store it as "
        "SHIPYARD_TOKEN where it is used."
    )
    if first:
        console_err.print(
            "This is the store's first token: authorization is now on, and every API "
            "call and registry write needs a token."
        )


@tokens_app.command("list")
def tokens_list(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List tokens (prefix, name, role, revoked); never the tokens themselves.

    Example: shipyard tokens list --json
    """
    found = list_tokens(workspace=workspace_from(ctx))
    if as_json:
        print_json(found)
        return
    table(
        f"Tokens ({len(found)})",
        ["prefix", "name", "role", "revoked", "created"],
        [(t["prefix"], t["name"], t["role"], t["revoked"], t["created_at"]) for t in found],
    )


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    prefix: str = typer.Argument(..., help="The token's prefix as `tokens list` shows it."),
) -> None:
    """Revoke a token: it stops working at once.

    Example: shipyard tokens revoke sy_Ab3dE9x
    """
    revoke_token(prefix, workspace=workspace_from(ctx))
    console.print(f"Revoked the token starting with {prefix}.")


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")
