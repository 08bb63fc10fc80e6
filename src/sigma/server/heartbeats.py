"""The heartbeat path of `sigma serve`: every agent of the fleet, every interval.

- the route is answered by the gateway middleware (server.middleware.Gateway) before
  FastAPI: routing, dependency solving and Request/Response objects cost more CPU than
  the heartbeat itself;
- credentials are resolved once and cached for CACHE_SECONDS (the sync authenticate() runs
  in a thread on a miss); the write re-checks them as they are now (services.agents), so a
  revoked key or a disabled user stops at once;
- on PostgreSQL each heartbeat joins a queue written by services.agents.HEARTBEAT_BATCH_SQL,
  one statement per flush on an async psycopg pool, as a group commit: a flush starts at once
  when fewer than MAX_INFLIGHT flushes run, otherwise the heartbeats arriving meanwhile wait
  for the next one and go in together. What the statement does not take goes through
  services.agents.heartbeat alone, which answers it precisely (404, 403, 409);
- on SQLite each heartbeat is services.agents.heartbeat in a thread.

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

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from sigma.errors import InvalidInput, SigmaError, Unavailable
from sigma.services import agents
from sigma.services.actor import AGENTS, Actor

log = logging.getLogger("sigma.server.heartbeats")

CACHE_SECONDS = 10.0
CACHE_MAX = 20_000
MAX_BATCH = 1000
MAX_INFLIGHT = 2
POOL_SIZE = 4
POOL_TIMEOUT = 5.0

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
        vps = await run_in_threadpool(_one_heartbeat, app.state.sessions, actor, data)
        return vps.model_dump_json().encode()
    return await writer.submit(actor, data)


def _one_heartbeat(sessions, actor: Actor, data) -> Any:
    from sigma.db.engine import unit_of_work

    with unit_of_work(sessions) as session:
        return agents.heartbeat(session, actor, data)


# ---------------------------------------------------------------- the writer


class HeartbeatWriter:
    """Coalesces heartbeats into the multi-row statement of services.agents on an async
    psycopg pool. A heartbeat the statement does not take, or every heartbeat of a batch
    whose statement failed, is answered by services.agents.heartbeat alone: one bad
    heartbeat never fails the others."""

    def __init__(self, dsn: str, sessions: Any):
        self.dsn = dsn
        self.sessions = sessions
        self.pool: Any = None
        self.pending: list[tuple[Actor, Any, asyncio.Future]] = []
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

    async def submit(self, actor: Actor, data: Any) -> bytes:
        fut = asyncio.get_running_loop().create_future()
        self.pending.append((actor, data, fut))
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

    async def _write(self, batch: list[tuple[Actor, Any, asyncio.Future]]) -> None:
        try:
            try:
                rows = await self._execute(batch)
            except Exception as exc:  # noqa: BLE001 - each heartbeat then gets its own answer
                if _unavailable(exc):
                    err = Unavailable("database unavailable, retry later")
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(err)
                    return
                log.warning("heartbeat batch of %d failed (%s); answering them one by one",
                            len(batch), type(exc).__name__)
                rows = {}
            alone = []
            for n, (actor, data, fut) in enumerate(batch, 1):
                if fut.done():
                    continue
                if n in rows:
                    fut.set_result(rows[n])
                else:
                    alone.append((actor, data, fut))
            if alone:
                await asyncio.gather(*(self._alone(*item) for item in alone))
        finally:
            self.inflight -= 1
            self._kick()

    async def _alone(self, actor: Actor, data: Any, fut: asyncio.Future) -> None:
        try:
            vps = await run_in_threadpool(_one_heartbeat, self.sessions, actor, data)
        except SigmaError as exc:
            if not fut.done():
                fut.set_exception(exc)
        except Exception as exc:  # noqa: BLE001 - every waiter gets an answer
            log.exception("heartbeat failed")
            if not fut.done():
                fut.set_exception(_db_error(exc))
        else:
            if not fut.done():
                fut.set_result(vps.model_dump_json().encode())

    async def _execute(self, batch) -> dict[int, bytes]:
        """{batch position (from 1): the Vps JSON} for the heartbeats the statement took."""
        from psycopg.rows import dict_row

        from sigma.db.types import utcnow

        pool = await self._pool()
        params = agents.heartbeat_batch_params([(a, d) for a, d, _ in batch], utcnow())
        async with pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(agents.HEARTBEAT_BATCH_SQL, params)
            out: dict[int, bytes] = {}
            for row in await cur.fetchall():
                body = vps_json(row)
                for n in row.pop("batch_positions") or ():
                    out[n] = body
        return out


def _unavailable(exc: Exception) -> bool:
    import psycopg
    from psycopg_pool import PoolTimeout

    return isinstance(exc, PoolTimeout | psycopg.OperationalError)


def _db_error(exc: Exception) -> SigmaError:
    if _unavailable(exc):
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
            writer = HeartbeatWriter(url, state.sessions)
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
