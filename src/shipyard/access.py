"""Who may do what: API tokens and the roles ``viewer`` < ``developer`` < ``approver``.

- ``viewer`` reads; ``developer`` also registers models and promotes to
  staging and canary; ``approver`` also promotes to production and rolls back.
- A token is shown once at creation and stored only as its SHA-256.
- Laptop mode: while a store has no tokens at all, the local user is
  ``Principal("local", "approver")`` — one person, full rights, no ceremony.
  Creating the first token turns authorization on: from then on every
  registry write needs a token with a sufficient role.
"""

from __future__ import annotations

import getpass
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import exists, select, update

from shipyard.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from shipyard.store.schema.access import ApiToken
from shipyard.workspace import Workspace, current

ROLES = ("viewer", "developer", "approver")
TOKEN_PREFIX = "sy_"
PREFIX_CHARS = 7  # random characters kept in the clear after TOKEN_PREFIX
MIN_PREFIX = 6


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a name and a role."""

    name: str
    role: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(check_role(role))


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.", field="role")
    return role


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(name: str, role: str, *, workspace: Workspace | None = None) -> str:
    """A new token for ``name`` with ``role``; returned once, stored hashed."""
    workspace = workspace or current()
    check_role(role)
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("Token name must be a non-empty string (who it is for).", field="name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with workspace.store.write() as session:
        session.add(
            ApiToken(
                token_hash=_hash(token),
                prefix=token[: len(TOKEN_PREFIX) + PREFIX_CHARS],
                name=name.strip(),
                role=role,
            )
        )
    return token


def revoke_token(prefix: str, *, workspace: Workspace | None = None) -> None:
    """Revoke the token starting with ``prefix`` (as shown by ``list_tokens``, or whole)."""
    workspace = workspace or current()
    if not isinstance(prefix, str) or len(prefix.strip()) < MIN_PREFIX:
        raise InvalidInput(
            f"Token prefix {prefix!r} is too short; give at least {MIN_PREFIX} characters "
            "as `shipyard tokens list` shows them.",
            field="prefix",
        )
    prefix = prefix.strip()
    with workspace.store.write() as session:
        # A whole token is matched by its hash; a prefix by the stored prefix.
        matches = session.scalars(
            select(ApiToken.id).where(
                (ApiToken.token_hash == _hash(prefix))
                | ApiToken.prefix.startswith(
                    prefix[: len(TOKEN_PREFIX) + PREFIX_CHARS], autoescape=True
                )
            )
        ).all()
        if len(matches) > 1:
            raise InvalidInput(
                f"Token prefix {prefix!r} matches {len(matches)} tokens; give the whole "
                "prefix as `shipyard tokens list` shows it.",
                field="prefix",
            )
        if matches:
            session.execute(update(ApiToken).where(ApiToken.id == matches[0]).values(revoked=True))
    if not matches:
        raise NotFound(
            f"No token starting with {prefix!r}. See `shipyard tokens list`.",
            kind="token",
            name=prefix,
        )


def list_tokens(*, workspace: Workspace | None = None) -> list[dict[str, object]]:
    workspace = workspace or current()
    with workspace.store.read() as session:
        rows = session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
        return [
            {
                "prefix": r.prefix,
                "name": r.name,
                "role": r.role,
                "revoked": r.revoked,
                "created_at": r.created_at,
            }
            for r in rows
        ]


def auth_enabled(workspace: Workspace) -> bool:
    """True once any token exists in the store."""
    with workspace.store.read() as session:
        return bool(session.scalar(select(exists().where(ApiToken.id.is_not(None)))))


def authenticate(token: str | None, *, workspace: Workspace | None = None) -> Principal:
    """The caller behind ``token``; the local user when the store has no tokens."""
    workspace = workspace or current()
    if not token:
        if not auth_enabled(workspace):
            return Principal(_local_user(), "approver")
        raise Unauthenticated(
            "This store has API tokens, so writes need one. Pass token=… or set "
            "SHIPYARD_TOKEN (create one with `shipyard tokens create --role developer`)."
        )
    with workspace.store.read() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(token)))
    if row is None or row.revoked:
        raise Unauthenticated("The API token is unknown or revoked. Ask an approver for a new one.")
    return Principal(row.name, row.role)


def require(principal: Principal, role: str, action: str) -> Principal:
    """Raise ``PermissionDenied`` unless ``principal`` has at least ``role``."""
    if not principal.can(role):
        raise PermissionDenied(
            f"{action} needs the '{role}' role; {principal.name} has '{principal.role}'. "
            f"Use a token with the '{role}' role.",
            required_role=role,
        )
    return principal


def _local_user() -> str:
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):
        return "local"
