"""Admin tokens: shown once when created, kept only as a SHA-256 hash, named, expiring,
revocable.

A token's name is the actor the audit timeline records for what was done with it. Creating
and revoking tokens enters the court-wide timeline (``COURT_TIMELINE``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from aiohttp import web

from signaling.admin_token import LEGACY_NAME, AdminToken, check_token_name
from signaling.audit import AuditTrail
from signaling.errors import (
    AdminTokenExpired,
    AdminTokenRevoked,
    Conflict,
    NotAuthenticated,
    NotFound,
    WrongCredentialKind,
)
from signaling.model import utc_now
from signaling.station import CREDENTIAL_PREFIX as STATION_CREDENTIAL_PREFIX
from signaling.store import COURT_TIMELINE, HearingStore

from .bearer import bearer_credential

TOKEN_PREFIX = "qa_"
# The actor of what the command line does to tokens (it has no token of its own).
CLI_ACTOR = "command-line"

ADMIN_TOKEN_KEY = web.RequestKey("qashyq_admin_token", AdminToken)


def default_token_name() -> str:
    """A name for a token created without one."""
    return f"clerk-{secrets.token_hex(3)}"


def token_hash(token: str) -> str:
    """The stored form of a token (tokens are random, so a plain hash is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_admin_token(
    store: HearingStore,
    name: str | None = None,
    expires_in: timedelta | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> str:
    """Create, store (hashed) and return a new admin token.

    Without a name the token gets ``clerk-<random>``. A name held by a token that still
    works is refused (``Conflict``): revoking by name must mean one token.
    """
    now = clock()
    name = check_token_name(name) if name is not None else default_token_name()
    for other in await store.list_admin_tokens():
        if other.name == name and not other.revoked and not other.expired(now):
            raise Conflict(f"an admin token named {name} already exists; revoke it first")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await store.add_admin_token(AdminToken(
        token_hash=token_hash(token), name=name, created_at=now,
        expires_at=now + expires_in if expires_in is not None else None,
    ))
    await AuditTrail(store, clock).record(
        COURT_TIMELINE, "admin_token_created", CLI_ACTOR, name=name,
        expires_at=(now + expires_in).isoformat() if expires_in is not None else None,
    )
    return token


async def revoke_admin_tokens(
    store: HearingStore, name: str, clock: Callable[[], datetime] = utc_now
) -> list[AdminToken]:
    """Revoke every token with this name (tokens from before names existed all share
    ``admin``); the revoked tokens. ``NotFound`` if no working token has the name."""
    now = clock()
    revoked = []
    for token in await store.list_admin_tokens():
        if token.name == name and not token.revoked:
            token = token.revoked_now(now)
            await store.save_admin_token(token)
            revoked.append(token)
    if not revoked:
        raise NotFound(f"no admin token named {name} is in use")
    await AuditTrail(store, clock).record(
        COURT_TIMELINE, "admin_token_revoked", CLI_ACTOR, name=name, tokens=len(revoked)
    )
    return revoked


async def check_bearer(
    store: HearingStore, authorization: str | None, now: datetime | None = None
) -> AdminToken:
    """The admin token the header carries; ``NotAuthenticated`` (or a subclass saying it
    expired or was revoked) unless it works."""
    token = bearer_credential(
        authorization, missing="sign in: send 'Authorization: Bearer <admin token>'"
    )
    if token.startswith(STATION_CREDENTIAL_PREFIX):
        raise WrongCredentialKind("a station credential cannot be used on admin endpoints")
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise NotAuthenticated("the admin token is malformed")
    stored = await store.get_admin_token(token_hash(token))
    if stored is None:
        raise NotAuthenticated("the admin token is not known to this server")
    if stored.revoked:
        raise AdminTokenRevoked(f"the admin token {stored.name} was revoked")
    if stored.expired(now or utc_now()):
        raise AdminTokenExpired(f"the admin token {stored.name} has expired")
    return stored


def admin_actor(request: web.Request) -> str:
    """Who the audit timeline says acted: the name of the request's admin token."""
    token = request.get(ADMIN_TOKEN_KEY)
    return token.name if token is not None else LEGACY_NAME
