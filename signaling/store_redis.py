"""``RedisStore``: the hearing store in Redis, used when ``REDIS_URL`` is set.

Keys (``P`` is the prefix, ``qashyq:`` by default)::

    P hearings                      hash   hearing id -> hearing JSON
    P hearings:by_start             zset   hearing id, scored by start (epoch microseconds)
    P hearing:<id>:participants     list   participant ids in the order added
    P hearing:<id>:participant      hash   participant id -> participant JSON
    P hearing:<id>:events           list   event JSON in the order appended
    P stations                      hash   station id -> station JSON
    P stations:order                list   station ids in the order added
    P legal_holds                   hash   hearing id -> legal hold JSON
    P admin_tokens                  hash   token hash -> admin token JSON (before names
                                           existed: the creation time, ISO 8601)
    P live_hearings                 hash   hearing id -> live state JSON (hearings in progress)
    P secret:<name>                 string the secret's bytes

Writes that must check one key and change another run as Lua scripts, which Redis executes
atomically: a reader never sees a hearing in the hash but not in the start index, nor a
participant's JSON without its place in the order list, and a check such as "the hearing
exists" cannot be invalidated between the check and the write.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from .admin_token import AdminToken
from .errors import Conflict, NotFound
from .live_hearing import LiveHearing
from .model import AuditEvent, Hearing, Participant
from .retention import LegalHold
from .station import Station
from .store_embedded import epoch_microseconds

DEFAULT_PREFIX = "qashyq:"
# Compare-and-set retries while other stations change at the same moment.
REPLACE_ATTEMPTS = 20

# Script replies: 0 done, 1 the thing to check is absent, 2 it already exists.
_OK, _ABSENT, _EXISTS = 0, 1, 2

# KEYS: hearings hash, start index. ARGV: id, json, start score.
_ADD_HEARING = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 2 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 0
"""

# KEYS: hearings hash, start index. ARGV: id, json, start score.
_SAVE_HEARING = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 0
"""

# KEYS: hearings hash, order list, participant hash. ARGV: hearing id, participant id, json.
_ADD_PARTICIPANT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 1 end
if redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[3]) == 0 then return 2 end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 0
"""

# KEYS: participant hash. ARGV: participant id, json.
_SAVE_PARTICIPANT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 0
"""

# KEYS: stations hash, order list. ARGV: station id, json.
_ADD_STATION = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 2 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 0
"""

# KEYS: hearings hash, start index, order list, participant hash, events list, the record's
# events list, legal holds hash, live hearings hash. ARGV: hearing id, record JSON.
_DELETE_HEARING = """
if redis.call('HEXISTS', KEYS[7], ARGV[1]) == 1 then return 2 end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 1 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('HDEL', KEYS[8], ARGV[1])
redis.call('RPUSH', KEYS[6], ARGV[2])
return 0
"""

# KEYS: hearings hash, legal holds hash. ARGV: hearing id, hold JSON.
_PLACE_HOLD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 1 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 0
"""


def _dumps(body: object) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _loads(raw: bytes | str) -> Any:
    return json.loads(raw)


def _admin_token(token_hash: str, raw: bytes) -> AdminToken:
    if not raw.startswith(b"{"):  # stored before tokens had names: the creation time
        return AdminToken.legacy(token_hash, datetime.fromisoformat(raw.decode()))
    return AdminToken.from_json(_loads(raw))


class RedisStore:
    """The ``HearingStore`` contract on Redis; open with :meth:`open`."""

    def __init__(self, client: Redis, prefix: str = DEFAULT_PREFIX) -> None:
        """Wrap a client that returns bytes (``decode_responses=False``); see :meth:`open`."""
        self._redis = client
        # redis-py types each command as "Awaitable[T] | T" (one signature for the sync and
        # async clients), which mypy refuses to await; commands go through this Any seam.
        self._commands: Any = client
        self._prefix = prefix
        self._closed = False
        self._add_hearing = client.register_script(_ADD_HEARING)
        self._save_hearing = client.register_script(_SAVE_HEARING)
        self._add_participant = client.register_script(_ADD_PARTICIPANT)
        self._save_participant = client.register_script(_SAVE_PARTICIPANT)
        self._add_station = client.register_script(_ADD_STATION)
        self._delete_hearing = client.register_script(_DELETE_HEARING)
        self._place_hold = client.register_script(_PLACE_HOLD)
        # Replacing needs only "exists, then set" on one hash: the participant script does it.
        self._save_station = self._save_participant
        self._save_admin_token = self._save_participant

    @classmethod
    async def open(cls, url: str, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        """Connect to ``url`` (e.g. ``redis://host:6379/0``) and check it answers."""
        # Bytes, not decoded text: secrets are arbitrary bytes.
        client = Redis.from_url(url, decode_responses=False)
        commands: Any = client  # the typing seam explained in __init__
        try:
            await commands.ping()
        except BaseException:
            await client.aclose()
            raise
        return cls(client, prefix)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _hearings(self) -> str:
        return self._key("hearings")

    def _by_start(self) -> str:
        return self._key("hearings", "by_start")

    def _order(self, hearing_id: str) -> str:
        return self._key("hearing", hearing_id, "participants")

    def _participants(self, hearing_id: str) -> str:
        return self._key("hearing", hearing_id, "participant")

    def _events(self, hearing_id: str) -> str:
        return self._key("hearing", hearing_id, "events")

    def _client(self) -> Any:
        if self._closed:
            raise RuntimeError("the store is closed")
        return self._commands

    async def add_hearing(self, hearing: Hearing) -> None:
        """Store a new hearing; raise ``Conflict`` if its id exists."""
        self._client()
        reply = await self._add_hearing(
            keys=[self._hearings(), self._by_start()],
            args=[hearing.id, _dumps(hearing.to_json()), epoch_microseconds(hearing.starts_at)],
        )
        if int(reply) == _EXISTS:
            raise Conflict(f"hearing {hearing.id} already exists", hearing_id=hearing.id)

    async def get_hearing(self, hearing_id: str) -> Hearing | None:
        """The hearing, or None."""
        raw = await self._client().hget(self._hearings(), hearing_id)
        return None if raw is None else Hearing.from_json(_loads(raw))

    async def list_hearings(
        self, starts_from: datetime | None = None, starts_before: datetime | None = None
    ) -> list[Hearing]:
        """Hearings whose start lies in ``[starts_from, starts_before)``, earliest first."""
        client = self._client()
        low = "-inf" if starts_from is None else str(epoch_microseconds(starts_from))
        # "(" makes the upper bound exclusive.
        high = "+inf" if starts_before is None else f"({epoch_microseconds(starts_before)}"
        # Equal scores come back ordered by member (the id), as in the embedded store.
        ids: list[bytes] = await client.zrangebyscore(self._by_start(), low, high)
        if not ids:
            return []
        bodies: list[bytes | None] = await client.hmget(self._hearings(), ids)
        # add_hearing and delete_hearing change the hash and the index atomically, so a
        # missing body cannot happen; skipping keeps a hand-edited database readable.
        return [Hearing.from_json(_loads(body)) for body in bodies if body is not None]

    async def save_hearing(self, hearing: Hearing) -> None:
        """Replace an existing hearing (e.g. when it ends); raise ``NotFound`` if absent."""
        self._client()
        reply = await self._save_hearing(
            keys=[self._hearings(), self._by_start()],
            args=[hearing.id, _dumps(hearing.to_json()), epoch_microseconds(hearing.starts_at)],
        )
        if int(reply) == _ABSENT:
            raise NotFound(f"no hearing {hearing.id}", hearing_id=hearing.id)

    async def delete_hearing(self, hearing_id: str, record: AuditEvent) -> bool:
        """Delete the hearing, its participants and its timeline, and append ``record``, in
        one script; False, and nothing appended, if there is no such hearing; ``Conflict``
        if it is under a legal hold."""
        self._client()
        reply = await self._delete_hearing(
            keys=[self._hearings(), self._by_start(), self._order(hearing_id),
                  self._participants(hearing_id), self._events(hearing_id),
                  self._events(record.hearing_id), self._key("legal_holds"),
                  self._key("live_hearings")],
            args=[hearing_id, _dumps(record.to_json())],
        )
        if int(reply) == _EXISTS:
            raise Conflict(f"hearing {hearing_id} is under a legal hold", hearing_id=hearing_id)
        return int(reply) == _OK

    async def place_legal_hold(self, hold: LegalHold) -> None:
        """Keep the hearing whatever its retention; raise ``NotFound`` if it is absent."""
        self._client()
        reply = await self._place_hold(
            keys=[self._hearings(), self._key("legal_holds")],
            args=[hold.hearing_id, _dumps(hold.to_json())],
        )
        if int(reply) == _ABSENT:
            raise NotFound(f"no hearing {hold.hearing_id}", hearing_id=hold.hearing_id)

    async def lift_legal_hold(self, hearing_id: str) -> bool:
        """Lift the hearing's legal hold; False if it had none."""
        return bool(await self._client().hdel(self._key("legal_holds"), hearing_id))

    async def get_legal_hold(self, hearing_id: str) -> LegalHold | None:
        """The hearing's legal hold, or None."""
        raw = await self._client().hget(self._key("legal_holds"), hearing_id)
        return None if raw is None else LegalHold.from_json(_loads(raw))

    async def list_legal_holds(self) -> list[LegalHold]:
        """Every legal hold in place."""
        raw: dict[bytes, bytes] = await self._client().hgetall(self._key("legal_holds"))
        return [LegalHold.from_json(_loads(body)) for body in raw.values()]

    async def add_participant(self, participant: Participant) -> None:
        """Store a new participant; raise ``NotFound`` if the hearing is absent.

        Raises ``Conflict`` if the hearing already has a participant with that id.
        """
        self._client()
        hearing_id = participant.hearing_id
        reply = int(
            await self._add_participant(
                keys=[self._hearings(), self._order(hearing_id), self._participants(hearing_id)],
                args=[hearing_id, participant.id, _dumps(participant.to_json())],
            )
        )
        if reply == _ABSENT:
            raise NotFound(f"no hearing {hearing_id}", hearing_id=hearing_id)
        if reply == _EXISTS:
            raise Conflict(
                f"participant {participant.id} already exists", participant_id=participant.id
            )

    async def get_participant(self, hearing_id: str, participant_id: str) -> Participant | None:
        """The participant of that hearing, or None."""
        raw = await self._client().hget(self._participants(hearing_id), participant_id)
        return None if raw is None else Participant.from_json(_loads(raw))

    async def list_participants(self, hearing_id: str) -> list[Participant]:
        """The hearing's participants in the order they were added."""
        client = self._client()
        ids: list[bytes] = await client.lrange(self._order(hearing_id), 0, -1)
        if not ids:
            return []
        bodies: list[bytes | None] = await client.hmget(self._participants(hearing_id), ids)
        return [Participant.from_json(_loads(body)) for body in bodies if body is not None]

    async def save_participant(self, participant: Participant) -> None:
        """Replace an existing participant (e.g. when revoked); raise ``NotFound`` if absent."""
        self._client()
        reply = await self._save_participant(
            keys=[self._participants(participant.hearing_id)],
            args=[participant.id, _dumps(participant.to_json())],
        )
        if int(reply) == _ABSENT:
            raise NotFound(
                f"no participant {participant.id} in hearing {participant.hearing_id}",
                participant_id=participant.id,
            )

    async def add_station(self, station: Station) -> None:
        """Store a new facility workstation; raise ``Conflict`` if its id exists."""
        self._client()
        reply = await self._add_station(
            keys=[self._key("stations"), self._key("stations", "order")],
            args=[station.id, _dumps(station.to_json())],
        )
        if int(reply) == _EXISTS:
            raise Conflict(f"station {station.id} already exists", station_id=station.id)

    async def get_station(self, station_id: str) -> Station | None:
        """The station, or None."""
        raw = await self._client().hget(self._key("stations"), station_id)
        return None if raw is None else Station.from_json(_loads(raw))

    async def list_stations(self) -> list[Station]:
        """Every station, revoked ones included, in the order they were added."""
        client = self._client()
        ids: list[bytes] = await client.lrange(self._key("stations", "order"), 0, -1)
        if not ids:
            return []
        bodies: list[bytes | None] = await client.hmget(self._key("stations"), ids)
        return [Station.from_json(_loads(body)) for body in bodies if body is not None]

    async def save_station(self, station: Station) -> None:
        """Replace an existing station (enrolled, revoked); raise ``NotFound`` if absent."""
        self._client()
        reply = await self._save_station(
            keys=[self._key("stations")], args=[station.id, _dumps(station.to_json())]
        )
        if int(reply) == _ABSENT:
            raise NotFound(f"no station {station.id}", station_id=station.id)

    async def replace_station(self, expected: Station, station: Station) -> bool:
        """Replace the stored station by ``station`` only if it is still ``expected``."""
        client = self._client()
        if expected.id != station.id:
            return False
        key = self._key("stations")
        # Optimistic: WATCH the hash, compare as stations (not as text: JSON an older
        # version wrote still matches), write in MULTI. Any change to the hash meanwhile
        # fails the EXEC; then compare again, as it may have been another station.
        for _attempt in range(REPLACE_ATTEMPTS):
            async with client.pipeline(transaction=True) as pipe:
                await pipe.watch(key)
                raw = await pipe.hget(key, expected.id)
                if raw is None or Station.from_json(_loads(raw)) != expected:
                    return False
                pipe.multi()
                pipe.hset(key, station.id, _dumps(station.to_json()))
                try:
                    await pipe.execute()
                except WatchError:
                    continue
                return True
        return False

    async def append_event(self, event: AuditEvent) -> None:
        """Append to the hearing's audit timeline; events are never changed or removed."""
        await self._client().rpush(self._events(event.hearing_id), _dumps(event.to_json()))

    async def list_events(
        self, hearing_id: str, start: int = 0, limit: int | None = None
    ) -> list[AuditEvent]:
        """The hearing's audit timeline in the order appended: at most ``limit`` events
        (None: all) from position ``start``."""
        start = max(0, start)
        if limit is not None and limit <= 0:
            return []
        stop = -1 if limit is None else start + limit - 1
        bodies: list[bytes] = await self._client().lrange(self._events(hearing_id), start, stop)
        return [AuditEvent.from_json(_loads(body)) for body in bodies]

    async def add_admin_token(self, token: AdminToken) -> None:
        """Remember an admin token by its hash (never the token itself); re-adding a known
        hash keeps the first."""
        await self._client().hsetnx(
            self._key("admin_tokens"), token.token_hash, _dumps(token.to_json())
        )

    async def get_admin_token(self, token_hash: str) -> AdminToken | None:
        """The admin token with this hash, or None."""
        raw = await self._client().hget(self._key("admin_tokens"), token_hash)
        return None if raw is None else _admin_token(token_hash, raw)

    async def list_admin_tokens(self) -> list[AdminToken]:
        """Every admin token ever issued, revoked and expired ones included, oldest first."""
        raw: dict[bytes, bytes] = await self._client().hgetall(self._key("admin_tokens"))
        tokens = [_admin_token(h.decode(), body) for h, body in raw.items()]
        return sorted(tokens, key=lambda t: (t.created_at, t.name, t.token_hash))

    async def save_admin_token(self, token: AdminToken) -> None:
        """Replace a known admin token (e.g. when revoked); raise ``NotFound`` if absent."""
        self._client()
        reply = await self._save_admin_token(
            keys=[self._key("admin_tokens")], args=[token.token_hash, _dumps(token.to_json())]
        )
        if int(reply) == _ABSENT:
            raise NotFound(f"no admin token named {token.name}")

    async def save_live_hearing(self, live: LiveHearing) -> None:
        """Keep (create or replace) the live state of an open hearing."""
        await self._client().hset(
            self._key("live_hearings"), live.hearing_id, _dumps(live.to_json())
        )

    async def list_live_hearings(self) -> list[LiveHearing]:
        """Every kept live state: the hearings a restarted server resumes."""
        bodies: dict[bytes, bytes] = await self._client().hgetall(self._key("live_hearings"))
        return sorted((LiveHearing.from_json(_loads(body)) for body in bodies.values()),
                      key=lambda live: live.hearing_id)

    async def delete_live_hearing(self, hearing_id: str) -> None:
        """Forget a hearing's live state (it ended); absent is fine."""
        await self._client().hdel(self._key("live_hearings"), hearing_id)

    async def secret(self, name: str, factory_bytes: int = 32) -> bytes:
        """The named server secret, created at random on first use and kept for ever."""
        client = self._client()
        key = self._key("secret", name)
        # SET NX then GET: whichever node sets first wins; everyone reads the winner's bytes.
        await client.set(key, os.urandom(factory_bytes), nx=True)
        value: bytes | None = await client.get(key)
        if value is None:
            raise RuntimeError(f"secret {name} vanished from Redis right after it was set")
        return bytes(value)

    async def close(self) -> None:
        """Close the connection pool; idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._redis.aclose()
