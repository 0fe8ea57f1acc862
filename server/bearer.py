"""``Authorization: Bearer <credential>``: the one reader of every caller's credential.

Admin tokens, station credentials and clerks' link tokens all arrive here. A credential is
RFC 6750's ``b64token`` (letters, digits and ``-._~+/``, then ``=`` padding): aiohttp hands
header bytes that are not UTF-8 over as surrogate escapes, which no hash, database or JWT
library can encode, so anything else is refused before it reaches them.
"""

from __future__ import annotations

import re

from signaling.errors import NotAuthenticated

# Longer than any credential Qashyq issues (a clerk's link token is about 400 characters).
MAX_CREDENTIAL_CHARS = 4096
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*", re.ASCII)


def bearer_credential(authorization: str | None, *, missing: str) -> str:
    """The credential of an ``Authorization`` header; ``NotAuthenticated`` if it has none.

    ``missing`` is the message for a request without the header (it says what to send).
    """
    if not authorization:
        raise NotAuthenticated(missing)
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise NotAuthenticated("send 'Authorization: Bearer <credential>'")
    if len(credential) > MAX_CREDENTIAL_CHARS or not _B64TOKEN.fullmatch(credential):
        raise NotAuthenticated("the credential is malformed: it has characters no "
                               "credential has")
    return credential
