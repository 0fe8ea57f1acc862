"""Server settings, read from ``QASHYQ_*`` environment variables (and ``REDIS_URL``).

A bad value raises ``ConfigError`` naming the variable, before anything starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from signaling.message_rates import DEFAULT_MESSAGE_RATES, MessageRates


class ConfigError(ValueError):
    """A setting has a value the server cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    redis_url: str | None = None
    link_opens_minutes: int = 30
    link_closes_minutes: int = 120
    max_body_bytes: int = 64 * 1024
    heartbeat_s: float = 20.0
    hello_timeout_s: float = 10.0
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl_s: int = 4 * 3600
    ice_transport_policy: str = "all"
    reconnect_grace_s: float = 60.0
    recording_segment_s: int = 60
    recording_stall_s: int = 10
    recording_min_free_mb: int = 100
    recordings_dir: Path | None = None
    log_level: str = "INFO"
    # Fixed in production (docs/protocol.md); a test may lift one to fill a page's outbox.
    message_rates: MessageRates = DEFAULT_MESSAGE_RATES
    # Hearings (and their recordings) are deleted this many days after they end; None: kept.
    retention_days: int | None = None

    @property
    def base_url(self) -> str:
        """The public base URL that links point at."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> Settings:
        """Settings from the environment; ``host``/``port`` from the command line win."""
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            data_dir=Path(env.get("QASHYQ_DATA_DIR") or "./qashyq-data"),
            host=host or env.get("QASHYQ_HOST") or "127.0.0.1",
            port=port if port is not None else reader.integer("QASHYQ_PORT", 8080, 0, 65535),
            public_url=reader.url("QASHYQ_PUBLIC_URL", ("http", "https")),
            redis_url=reader.url("REDIS_URL", ("redis", "rediss", "unix")),
            link_opens_minutes=reader.integer("QASHYQ_LINK_OPENS_MINUTES", 30, 0, 24 * 60),
            link_closes_minutes=reader.integer("QASHYQ_LINK_CLOSES_MINUTES", 120, 0, 24 * 60),
            max_body_bytes=reader.integer("QASHYQ_MAX_BODY_BYTES", 64 * 1024, 1024, 10 << 20),
            heartbeat_s=float(reader.integer("QASHYQ_HEARTBEAT_S", 20, 2, 300)),
            hello_timeout_s=float(reader.integer("QASHYQ_HELLO_TIMEOUT_S", 10, 1, 120)),
            stun_urls=reader.url_list("QASHYQ_STUN_URLS", ("stun", "stuns")),
            turn_urls=reader.url_list("QASHYQ_TURN_URLS", ("turn", "turns")),
            turn_secret=env.get("QASHYQ_TURN_SECRET", "").strip() or None,
            turn_ttl_s=reader.integer("QASHYQ_TURN_TTL_S", 4 * 3600, 60, 7 * 24 * 3600),
            ice_transport_policy=reader.choice(
                "QASHYQ_ICE_TRANSPORT_POLICY", "ALL", ("ALL", "RELAY")
            ).lower(),
            reconnect_grace_s=float(reader.integer("QASHYQ_RECONNECT_GRACE_S", 60, 0, 3600)),
            recording_segment_s=reader.integer("QASHYQ_RECORDING_SEGMENT_S", 60, 1, 600),
            recording_stall_s=reader.integer("QASHYQ_RECORDING_STALL_S", 10, 2, 600),
            recording_min_free_mb=reader.integer(
                "QASHYQ_RECORDING_MIN_FREE_MB", 100, 0, 1 << 20
            ),
            recordings_dir=Path(env["QASHYQ_RECORDINGS_DIR"])
            if env.get("QASHYQ_RECORDINGS_DIR", "").strip() else None,
            log_level=reader.choice(
                "QASHYQ_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")
            ),
            retention_days=reader.integer("QASHYQ_RETENTION_DAYS", 0, 1, 100 * 366)
            if env.get("QASHYQ_RETENTION_DAYS", "").strip() else None,
        )
        if settings.turn_urls and not settings.turn_secret:
            raise ConfigError("QASHYQ_TURN_SECRET must be set when QASHYQ_TURN_URLS is")
        if settings.turn_secret and not settings.turn_urls:
            raise ConfigError("QASHYQ_TURN_URLS must be set when QASHYQ_TURN_SECRET is")
        if settings.ice_transport_policy == "relay" and not settings.turn_urls:
            raise ConfigError("QASHYQ_ICE_TRANSPORT_POLICY=relay needs QASHYQ_TURN_URLS")
        if not 0 <= settings.port <= 65535:
            raise ConfigError(f"--port must be from 0 to 65535, not {settings.port}")
        return settings


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be from {low} to {high}, not {value}")
        return value

    def url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        raw = self._env.get(name, "").strip()
        if not raw:
            return None
        parts = urlsplit(raw)
        if parts.scheme not in schemes or (parts.scheme != "unix" and not parts.netloc):
            raise ConfigError(
                f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return raw

    def url_list(self, name: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
        raw = self._env.get(name, "").strip()
        if not raw:
            return ()
        urls = tuple(u.strip() for u in raw.split(",") if u.strip())
        for url in urls:
            if url.split(":", 1)[0] not in schemes or ":" not in url:
                raise ConfigError(
                    f"{name} must list URLs starting with {' or '.join(s + ':' for s in schemes)}"
                    f"; {url!r} does not"
                )
        return urls

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = self._env.get(name, "").strip().upper()
        if not raw:
            return default
        if raw not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
        return raw
