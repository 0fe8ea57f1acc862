"""Who may call a route, decided by the route that matched, never by the request's path.

A path is text a client chooses: ``/api/hearings/h_x%2Frecording`` decodes to a path that
looks like a recording download but is routed to ``get_hearing``. So each handler carries
its requirement (``@access(...)``), and the default for a route registered under ``/api/``
or at ``/metrics`` is an admin token. Requests that match no route (404, 405) under those
prefixes need one too, so probing without a token learns nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from aiohttp import web


class Access(StrEnum):
    """What a route asks of its caller."""

    ADMIN = "admin"  # an admin token
    PUBLIC = "public"  # nothing
    STATION = "station"  # a station credential (and never an admin token)
    OWN_CHECK = "own_check"  # the handler checks credentials itself (recording downloads)


_ATTRIBUTE = "qashyq_access"
_H = TypeVar("_H", bound=Callable[..., object])


def access(level: Access) -> Callable[[_H], _H]:
    """Mark a handler with what it asks of callers (put it below ``@routes.get``)."""

    def mark(handler: _H) -> _H:
        setattr(handler, _ATTRIBUTE, level)
        return handler

    return mark


def _admin_by_default(path: str) -> bool:
    return path.startswith("/api/") or path == "/metrics"


def required_access(request: web.Request) -> Access:
    """What the route this request matched asks of its caller."""
    route = request.match_info.route
    marked = getattr(route.handler, _ATTRIBUTE, None)
    if isinstance(marked, Access):
        return marked
    resource = route.resource
    if resource is None:  # no route matched: the answer is a 404 or 405
        return Access.ADMIN if _admin_by_default(request.path) else Access.PUBLIC
    return Access.ADMIN if _admin_by_default(resource.canonical) else Access.PUBLIC
