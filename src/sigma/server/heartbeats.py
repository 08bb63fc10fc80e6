"""The heartbeat path of `sigma serve`: every agent of the fleet, every interval.

- the route is a plain Starlette route matched before every other (route()), without
  FastAPI's dependency solving, which costs more CPU than the heartbeat itself;
- on PostgreSQL each heartbeat joins a queue written by services.agents.HEARTBEAT_BATCH_SQL,
  one statement per flush on an async psycopg pool, as a group commit: a flush starts at once
  when fewer than MAX_INFLIGHT flushes run, otherwise the heartbeats arriving meanwhile wait
  for the next one and go in together. The statement also authenticates: it finds each API
  key by its hash and checks the key, its user, the user's role and the key's VPS as they
  are at that moment (a JWT's signature is checked before, its session epoch there), so a
  heartbeat costs no query of its own for authentication and nothing is cached;
- a heartbeat the statement does not take (unknown key or host, refused, retired, or a
  statement that failed) goes the whole way alone, authenticated as any route and written by
  services.agents.heartbeat, which answers it precisely (401, 403, 404, 409);
- on SQLite each heartbeat goes that whole way, in a thread.

A database outage makes the waiting heartbeats fail with 503 (Unavailable), never hang:
the pool waits at most POOL_TIMEOUT for a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import MutableMapping
from typing import Any, Literal

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from sigma.errors import InvalidInput, NotAuthenticated, SigmaError, Unavailable
from sigma.services import agents
from sigma.services.actor import AGENTS, Actor

log = logging.getLogger("sigma.server.heartbeats")

# an entry only maps a credential to who it was: every write checks the key, the user and
# the binding as they are now (services.agents), so the cache can be long
MAX_BATCH = 1000
MAX_INFLIGHT = 2
POOL_SIZE = 4
POOL_TIMEOUT = 5.0


def route() -> Any:
    """POST /api/agent/heartbeat as a plain route (app.py puts it first)."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def endpoint(request: Request) -> Response:
        body = await request.body()  # the app's max_body_size applies
        return Response(await lean_heartbeat(request.scope, body), media_type="application/json")

    return Route("/api/agent/heartbeat", endpoint, methods=["POST"])


async def lean_heartbeat(scope: MutableMapping[str, Any], body: bytes) -> bytes:
    """Record the agent's system_info and the time; the Vps JSON back."""
    from pydantic import ValidationError

    from sigma.schemas.common import invalid_from
    from sigma.schemas.monitoring import AgentHeartbeat
    from sigma.services import auth

    app = scope["app"]
    bearer, api_key = _credentials(scope)
    if not bearer and not api_key:
        raise NotAuthenticated("Unauthorized")
    try:
        data = AgentHeartbeat.model_validate_json(body or b"null")
    except ValidationError as exc:
        # who may not send heartbeats hears so before anything about the body
        await run_in_threadpool(_authorised, app, scope)
        # not JSON, or not an object: the body's own error (a nested object's is its field's)
        if any(
            e["type"] == "json_invalid" or (e["type"] == "model_type" and not e["loc"])
            for e in exc.errors()
        ):
            raise InvalidInput(
                "body: expected a JSON object {hostname, system_info}", field="body"
            ) from None
        raise invalid_from(exc) from None
    writer = writer_for(app)
    credential = auth.heartbeat_credential(app.state.settings, bearer=bearer, api_key=api_key)
    if writer is None or credential is None:  # SQLite, or a credential only the full path reads
        vps = await run_in_threadpool(_one_heartbeat, app, scope, data)
        return vps.model_dump_json().encode()
    return await writer.submit(credential, scope, data)


def _credentials(scope: MutableMapping[str, Any]) -> tuple[str | None, str | None]:
    bearer = api_key = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                bearer = text[7:].strip() or None
        elif name == b"x-api-key":
            api_key = value.decode("latin-1").strip() or None
    return bearer, api_key


def _authorised(app: Any, scope: MutableMapping[str, Any]) -> Actor:
    from starlette.requests import Request

    from sigma.server.deps import current_actor

    actor = current_actor(Request(scope))
    actor.require(AGENTS)
    return actor


def _one_heartbeat(app: Any, scope: MutableMapping[str, Any], data: Any) -> Any:
    """One heartbeat the whole way: authentication as for any route, then the service."""
    from sigma.db.engine import unit_of_work

    actor = _authorised(app, scope)
    with unit_of_work(app.state.sessions) as session:
        return agents.heartbeat(session, actor, data)


# ---------------------------------------------------------------- the writer


class HeartbeatWriter:
    """Coalesces heartbeats into the multi-row statement of services.agents on an async
    psycopg pool. A heartbeat the statement does not take, or every heartbeat of a batch
    whose statement failed, is answered by services.agents.heartbeat alone: one bad
    heartbeat never fails the others."""

    def __init__(self, dsn: str, app: Any, *, pooler: bool = False):
        self.dsn = dsn
        self.pooler = pooler
        self.app = app
        self.pool: Any = None
        self.pending: list[tuple[Any, MutableMapping[str, Any], Any, asyncio.Future]] = []
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

                    from sigma.db.engine import pg_connect_args

                    pool = AsyncConnectionPool(
                        self.dsn,
                        min_size=1,
                        max_size=POOL_SIZE,
                        open=False,
                        timeout=POOL_TIMEOUT,
                        kwargs={"autocommit": True, **pg_connect_args(self.pooler)},
                        name="sigma-heartbeats",
                    )
                    await pool.open(wait=False)
                    self.pool = pool
        return self.pool

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def submit(self, credential: Any, scope: MutableMapping[str, Any], data: Any) -> bytes:
        fut = asyncio.get_running_loop().create_future()
        self.pending.append((credential, scope, data, fut))
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

    async def _write(
        self, batch: list[tuple[Any, MutableMapping[str, Any], Any, asyncio.Future]]
    ) -> None:
        try:
            try:
                rows = await self._execute(batch)
            except Exception as exc:  # noqa: BLE001 - each heartbeat then gets its own answer
                if _unavailable(exc):
                    err = Unavailable("database unavailable, retry later")
                    for *_, fut in batch:
                        if not fut.done():
                            fut.set_exception(err)
                    return
                log.warning(
                    "heartbeat batch of %d failed (%s); answering them one by one",
                    len(batch),
                    type(exc).__name__,
                )
                rows = {}
            alone = []
            for n, (_, scope, data, fut) in enumerate(batch, 1):
                if fut.done():
                    continue
                if n in rows:
                    fut.set_result(rows[n])
                else:
                    alone.append((scope, data, fut))
            if alone:
                # one host's heartbeats one after the other, in the order they came (a host
                # whose addresses changed has all of its heartbeats here: each change is
                # recorded, the last report wins); different hosts at once
                hosts: dict[str, list[tuple[MutableMapping[str, Any], Any, asyncio.Future]]] = {}
                for item in alone:
                    hosts.setdefault(item[1].hostname.lower(), []).append(item)
                await asyncio.gather(*(self._in_order(items) for items in hosts.values()))
        finally:
            self.inflight -= 1
            self._kick()

    async def _in_order(
        self, items: list[tuple[MutableMapping[str, Any], Any, asyncio.Future]]
    ) -> None:
        for item in items:
            await self._alone(*item)

    async def _alone(self, scope: MutableMapping[str, Any], data: Any, fut: asyncio.Future) -> None:
        try:
            vps = await run_in_threadpool(_one_heartbeat, self.app, scope, data)
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
        params = agents.heartbeat_batch_params([(c, d) for c, _, d, _ in batch], utcnow())
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
    writer: HeartbeatWriter | Literal[False] | None = getattr(state, "heartbeat_writer", None)
    if writer is None:
        engine = state.engine
        writer = False  # SQLite: the simple path
        if engine.dialect.name == "postgresql":
            url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            writer = HeartbeatWriter(url, app, pooler=state.settings.database_pooler)
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
    from sigma.schemas.inventory import Vps

    vps = Vps.model_validate(row)
    vps.online = True  # it has just reported
    return vps.model_dump_json().encode()
