"""Admin tokens: shown once when created, kept only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from signaling.errors import NotAuthenticated, WrongCredentialKind
from signaling.model import utc_now
from signaling.station import CREDENTIAL_PREFIX as STATION_CREDENTIAL_PREFIX
from signaling.store import HearingStore

TOKEN_PREFIX = "qa_"


def token_hash(token: str) -> str:
    """The stored form of a token (tokens are random, so a plain hash is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_admin_token(store: HearingStore) -> str:
    """Create, store (hashed) and return a new admin token."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await store.add_admin_token(token_hash(token), utc_now())
    return token


async def check_bearer(store: HearingStore, authorization: str | None) -> None:
    """Raise ``NotAuthenticated`` unless the header carries a known admin token."""
    if not authorization:
        raise NotAuthenticated("sign in: send 'Authorization: Bearer <admin token>'")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if token.startswith(STATION_CREDENTIAL_PREFIX):
        raise WrongCredentialKind("a station credential cannot be used on admin endpoints")
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise NotAuthenticated("the admin token is malformed")
    if not await store.has_admin_token(token_hash(token)):
        raise NotAuthenticated("the admin token is not known to this server")
