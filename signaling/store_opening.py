"""Choose and open the hearing store from the configuration."""

from __future__ import annotations

from pathlib import Path

from .store import HearingStore
from .store_embedded import EmbeddedStore
from .store_redis import RedisStore


async def open_store(data_dir: Path, redis_url: str | None) -> HearingStore:
    """Open Redis at ``redis_url`` when it is set, else SQLite under ``data_dir``.

    An empty ``redis_url`` (e.g. ``REDIS_URL=`` in an environment file) counts as unset.
    """
    if redis_url:
        return await RedisStore.open(redis_url)
    return await EmbeddedStore.open(data_dir)
