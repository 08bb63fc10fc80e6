"""The lean heartbeat path of `sigma serve` (DESIGN.md, performance budgets).

Heartbeats are the hottest route: every agent of the fleet, every interval. The ORM path
(select, modify a JSON attribute, commit) manages ~200/s on the 2-core machine; this path
manages well over 3,000/s on PostgreSQL:

- the route is answered by the gateway middleware (server.middleware.Gateway) before
  FastAPI: routing, dependency solving and Request/Response objects cost more CPU than
  the heartbeat itself;

- credentials are resolved once and cached for CACHE_SECONDS (the sync authenticate() runs
  in a thread on a miss), so a heartbeat costs no query for authentication;
- each heartbeat joins a queue; the queue is written by one statement per flush
  (`UPDATE vps ... FROM jsonb_to_recordset(batch)`) on an async psycopg pool, as a
  group commit: a flush starts at once when fewer than MAX_INFLIGHT flushes run, otherwise
  the heartbeats arriving meanwhile wait for the next one and go in together;
- the rules are those of services.agents.heartbeat: the live VPS with that hostname is
  preferred over retired ones, a hostname whose VPS are all retired is refused (409), an
  unknown one gets 404; only extra.system_info and extra.last_heartbeat change (other keys
  of extra kept when it is an object); no version bump, no audit row.

A database outage makes the waiting heartbeats fail with 503 (Unavailable), never hang:
the pool waits at most POOL_TIMEOUT for a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from sigma.errors import InvalidInput, SigmaError, Unavailable
from sigma.services import agents
from sigma.services.actor import Actor
from sigma.services.agents import AGENTS, retired_refusal, stamp, unknown_host

log = logging.getLogger("sigma.server.heartbeats")

CACHE_SECONDS = 10.0
CACHE_MAX = 20_000
MAX_BATCH = 1000
MAX_INFLIGHT = 2
POOL_SIZE = 4
POOL_TIMEOUT = 5.0

UPDATE_SQL = """
WITH u AS (
    SELECT u.h, u.si, u.n
    FROM ROWS FROM (jsonb_to_recordset(%(batch)s::jsonb) AS (h text, si jsonb)) WITH ORDINALITY AS u(h, si, n)
), pick AS (
    SELECT DISTINCT ON (u.h) u.h, u.si, v.id, v.status
    FROM u JOIN vps v ON v.hostname = u.h
    ORDER BY u.h, (v.status = 'retired'), v.created_at DESC, u.n DESC
)
UPDATE vps SET extra =
    (CASE WHEN jsonb_typeof(vps.extra) = 'object' THEN vps.extra ELSE '{}'::jsonb END)
    || jsonb_build_object('system_info', pick.si, 'last_heartbeat', %(at)s::text)
FROM pick
WHERE vps.id = pick.id AND pick.status <> 'retired'
RETURNING vps.*
"""

MISSING_SQL = """
SELECT DISTINCT ON (hostname) hostname, id, status FROM vps WHERE hostname = ANY(%(hosts)s::text[])
ORDER BY hostname, (status = 'retired'), created_at DESC
"""


# ---------------------------------------------------------------- who is calling


async def cached_actor(scope: dict) -> Actor:
    """current_actor() with a short cache keyed by a hash of the credential: agents send
    the same key every interval. A revoked key stops working within CACHE_SECONDS."""
    from starlette.requests import Request

    from sigma.server.deps import current_actor

    cred = b"\n".join(name + b":" + value for name, value in scope["headers"]
                       if name in (b"authorization", b"x-api-key") and value)
    if not cred:
        return await run_in_threadpool(current_actor, Request(scope))
    key = hashlib.sha256(cred).digest()
    state = scope["app"].state
    cache: dict[bytes, tuple[float, Actor]] | None = getattr(state, "actor_cache", None)
    if cache is None:
        cache = state.actor_cache = {}
    now = time.monotonic()
    hit = cache.get(key)
    if hit and hit[0] > now:
        return hit[1]
    actor = await run_in_threadpool(current_actor, Request(scope))
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[key] = (now + CACHE_SECONDS, actor)
    return actor


async def lean_heartbeat(scope: dict, body: bytes) -> bytes:
    """POST /api/agent/heartbeat, served by the gateway (server.middleware) before FastAPI:
    record the agent's system_info and the time; the Vps JSON back."""
    from pydantic import ValidationError

    from sigma.schemas import AgentHeartbeat, invalid_from

    actor = await cached_actor(scope)
    actor.require(AGENTS)
    try:
        data = AgentHeartbeat.model_validate_json(body or b"null")
    except ValidationError as exc:
        if any(e["type"] in ("json_invalid", "model_type") for e in exc.errors()):
            raise InvalidInput("body: expected a JSON object {hostname, system_info}", field="body") from None
        raise invalid_from(exc) from None
    app = scope["app"]
    writer = writer_for(app)
    if writer is None:  # SQLite: the service function, in a thread
        vps = await run_in_threadpool(_simple_heartbeat, app.state.sessions, actor, data)
        return vps.model_dump_json().encode()
    row = await writer.submit(data.hostname, data.system_info)
    return vps_json(row)


def _simple_heartbeat(sessions, actor: Actor, data) -> Any:
    from sigma.db.engine import unit_of_work

    with unit_of_work(sessions) as session:
        return agents.heartbeat(session, actor, data)


# ---------------------------------------------------------------- the writer


class HeartbeatWriter:
    """Coalesces heartbeats into multi-row UPDATEs on an async psycopg pool."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.pool: Any = None
        self.pending: list[tuple[str, str, asyncio.Future]] = []
        self.inflight = 0
        self.scheduled = False
        self._opening: asyncio.Lock | None = None

    async def _pool(self) -> Any:
        if self.pool is None:
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if self.pool is None:
                    from psycopg_pool import AsyncConnectionPool

                    pool = AsyncConnectionPool(
                        self.dsn, min_size=1, max_size=POOL_SIZE, open=False, timeout=POOL_TIMEOUT,
                        kwargs={"autocommit": True, "connect_timeout": 5}, name="sigma-heartbeats",
                    )
                    await pool.open(wait=False)
                    self.pool = pool
        return self.pool

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def submit(self, hostname: str, system_info: Any) -> dict[str, Any]:
        fut = asyncio.get_running_loop().create_future()
        self.pending.append((hostname, system_info, fut))
        self._kick()
        return await fut

    def _kick(self) -> None:
        if self.pending and not self.scheduled and self.inflight < MAX_INFLIGHT:
            self.scheduled = True
            # one loop turn later, so that heartbeats parsed in the same turn go together
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self.scheduled = False
        if not self.pending or self.inflight >= MAX_INFLIGHT:
            return
        batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
        self.inflight += 1
        asyncio.get_running_loop().create_task(self._write(batch))

    async def _write(self, batch: list[tuple[str, str, asyncio.Future]]) -> None:
        try:
            rows, missing = await self._execute(batch)
        except SigmaError as exc:
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
        except Exception as exc:  # noqa: BLE001 - every waiter gets an answer
            log.exception("heartbeat flush failed")
            err = _db_error(exc)
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(err)
        else:
            for host, _, fut in batch:
                if fut.done():
                    continue
                if host in rows:
                    fut.set_result(rows[host])
                else:
                    fut.set_exception(missing.get(host) or unknown_host(host))
        finally:
            self.inflight -= 1
            self._kick()

    async def _execute(self, batch) -> tuple[dict[str, dict[str, Any]], dict[str, SigmaError]]:
        from psycopg.rows import dict_row

        from sigma.db.types import utcnow

        pool = await self._pool()
        hosts = [h for h, _, _ in batch]
        # one JSON parameter: psycopg's text[] adaptation escapes element by element
        payload = orjson.dumps([{"h": h, "si": si} for h, si, _ in batch]).decode()
        async with pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(UPDATE_SQL, {"batch": payload, "at": stamp(utcnow())})
            rows = {r["hostname"]: r for r in await cur.fetchall()}
            missing: dict[str, SigmaError] = {}
            unknown = sorted(set(hosts) - set(rows))
            if unknown:
                await cur.execute(MISSING_SQL, {"hosts": unknown})
                for r in await cur.fetchall():
                    if r["status"] == "retired":
                        missing[r["hostname"]] = retired_refusal(r["hostname"], r["id"])
        return rows, missing


def _db_error(exc: Exception) -> SigmaError:
    import psycopg
    from psycopg_pool import PoolTimeout

    if isinstance(exc, PoolTimeout | psycopg.OperationalError):
        return Unavailable("database unavailable, retry later")
    return SigmaError("Database error")


def writer_for(app: FastAPI) -> HeartbeatWriter | None:
    """The app's writer on PostgreSQL, None on SQLite (which takes the simple path)."""
    state = app.state
    writer = getattr(state, "heartbeat_writer", None)
    if writer is None:
        engine = state.engine
        writer = False  # SQLite: the simple path
        if engine.dialect.name == "postgresql":
            url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            writer = HeartbeatWriter(url)
        state.heartbeat_writer = writer
    return writer or None


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    """Merged into the app's lifespan by include_router: closes the pool on shutdown."""
    yield
    writer = getattr(app.state, "heartbeat_writer", None)
    if writer:
        await writer.close()


def vps_json(row: dict[str, Any]) -> bytes:
    """The Vps JSON of a RETURNING row, exactly as the ORM routes render it."""
    from sigma.schemas import Vps

    return Vps.model_validate(row).model_dump_json().encode()
