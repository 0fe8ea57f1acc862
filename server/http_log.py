"""The log of aiohttp's HTTP layer: a malformed request is the caller's fault, not ours.

aiohttp logs every request its parser refuses (a non-ASCII byte in the path, a header line
over 8 KB, a control character in a header) at ERROR with a traceback, about 1 KB each: a
log flood anyone can cause without a credential, which buries real failures. Here such a
refusal is one INFO line naming the kind of error, without the request's bytes (they may
hold a credential). aiohttp still answers 400; everything else it logs is unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

SERVER_LOGGER = "aiohttp.server"


class HttpServerLog(logging.Logger):
    """Stands in for aiohttp's ``aiohttp.server`` logger (its ``logger`` server option)."""

    def __init__(self) -> None:
        super().__init__(SERVER_LOGGER)
        # Not registered with logging's manager: records go up through the real logger of
        # that name, so its handlers and level apply as before.
        self.parent = logging.getLogger(SERVER_LOGGER)

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        """A refused request at INFO in one line; anything else as aiohttp logs it."""
        if isinstance(exc_info, HttpProcessingError):
            remote = args[0] if args else "?"
            self.info("malformed HTTP request from %s refused with %s: %s", remote,
                      exc_info.code, type(exc_info).__name__)
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)
