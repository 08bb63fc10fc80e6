"""Read-only views derived from the inventory: Prometheus targets, Ansible inventory, an
iCalendar feed of expiry dates. Each reads only the columns it needs (SQLAlchemy Core), so
10,000 active VPS stay well inside the DESIGN.md budgets."""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import TEXT, cast, func, select
from sqlalchemy.orm import Session

from sigma.db.models.core import Provider as ProviderRow
from sigma.db.models.core import Vps as VpsRow
from sigma.errors import Unavailable
from sigma.services.vps import not_trashed
from sigma.vocab import ACTIVE_STATUSES

V = VpsRow.__table__.c
P = ProviderRow.__table__.c


def _as_text(column: Any, dialect: str) -> Any:
    """The column as the text the exports print, computed by the database: the driver then
    hands over plain strings (no UUID, date or JSONB objects to build per value)."""
    if dialect == "postgresql":
        if any(column is c for c in (V.id, V.provider_id, P.id, V.ip_addresses, V.tags)):
            return cast(column, TEXT)  # canonical UUID text; JSONB's text form
        if column is V.expire_date:
            return func.to_char(column, "YYYY-MM-DD")  # whatever the server's DateStyle
    return column  # SQLite stores JSON as text, dates as ISO text, UUIDs as 32 hex digits


_sql_cache: dict[tuple, str] = {}


def select_running(
    session: Session, columns: tuple, *, monitored_only: bool = False
) -> tuple[list[tuple], dict[Any, str]]:
    """Active and provisioning VPS by hostname (then id), as plain tuples straight from the
    DB-API cursor, `(hostname, id, provider_id, *columns)`, and the providers' names by the
    `provider_id` values of those tuples (`names.get(provider_id)`: None without provider).

    These exports serve 10,000 rows per scrape (DESIGN.md: 100 ms / 200 ms): no ORM, no
    SQLAlchemy result processing, no per-value type decoding. JSON columns come back as
    JSON text (parse with orjson where needed), `id` as canonical UUID text on PostgreSQL
    but 32 hex digits on SQLite (see `uuid_text`), `expire_date` as YYYY-MM-DD text,
    booleans as 0/1 on SQLite.

    The provider's name is looked up in a dict of the ~60 providers rather than joined (on
    SQLite the per-row join cost more than the rest of the query). On SQLite the rows are
    sorted here: its ORDER BY hostname, id compares the UTF-8 bytes (BINARY collation),
    which is the order Python gives `(hostname, id)` tuples, without SQLite's temporary
    B-tree of whole rows; (hostname, id) is unique, so the tuple sort never looks further.
    PostgreSQL sorts by its own collation, so there the ORDER BY stays in SQL."""
    conn = session.connection()
    dialect = conn.dialect.name
    key = (dialect, columns, monitored_only)
    sql = _sql_cache.get(key)
    if sql is None:
        q = select(
            V.hostname,
            _as_text(V.id, dialect),
            _as_text(V.provider_id, dialect),
            *(_as_text(c, dialect) for c in columns),
        ).where(V.status.in_(ACTIVE_STATUSES), not_trashed(session))
        if monitored_only:
            q = q.where(V.monitoring_enabled.is_(True))
        if dialect != "sqlite":
            q = q.order_by(V.hostname, V.id)
        # constants only: literal binds give one plain statement text, cached per dialect
        sql = _sql_cache[key] = q.compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True}
        ).string
        _sql_cache[(dialect, "providers")] = (
            select(_as_text(P.id, dialect), P.name).compile(dialect=conn.dialect).string
        )
    driver = conn.connection.driver_connection
    if driver is None:  # a checked-out connection always has one
        raise Unavailable("the database connection was closed")
    cur = driver.cursor()
    try:
        cur.execute(_sql_cache[(dialect, "providers")])
        names = dict(cur.fetchall())
        cur.execute(sql)
        rows = cur.fetchall()
    finally:
        cur.close()
    if dialect == "sqlite":
        rows.sort()
    return rows, names


def uuid_text(value: str) -> str:
    """`id` as select_running returns it -> canonical UUID text (SQLite stores 32 hex digits)."""
    if len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def primary_ip(ips: Iterable[dict[str, str]], label: str | None = None) -> str | None:
    """The address to reach a VPS at (Prometheus scrapes it, Ansible connects to it): the
    first IP with `label` when one is asked for and present, else the first IP not labelled
    internal, else the first IP; None without IPs."""
    chosen = first = None
    for e in ips:
        addr = e.get("ip")
        if not addr:
            continue
        mark = e.get("label", "")
        if label is not None and mark == label:
            return addr
        if first is None:
            first = addr
        if chosen is None and mark != "internal":
            chosen = addr
            if label is None:
                break
    return chosen if chosen is not None else first


# ---------------------------------------------------------------- rendered-document cache
#
# Prometheus re-reads its targets every minute and the inventory rarely changes in between:
# a rendered document is kept per (database, kind, arguments) together with a fingerprint of
# the exported rows, and served again while the fingerprint is unchanged.
#
# The fingerprint reads only the active/provisioning rows (the exported set, ~10% of a fleet
# with years of history: a scan of all 100,000 rows cost 30-50 ms, as much as building the
# Prometheus document): their count, version sum and last update, plus the providers' count
# and last update. Every change to an exported field bumps vps.version (ORM version counter,
# bulk imports too) and updated_at, so a changed exported row moves the version sum; a row
# leaving the set (retired, in the trash) lowers the count and the version sum; a row entering it
# raises the count and carries the newest updated_at. Agent heartbeats touch neither (and
# nothing they write is exported).

CACHE_SIZE = 16
_cache: OrderedDict[tuple, tuple[tuple, str]] = OrderedDict()
_cache_lock = threading.Lock()


def fingerprint(session: Session) -> tuple:
    conn = session.connection()
    vps_cols = [func.count(), func.max(V.updated_at)]
    if "version" in V:
        vps_cols.append(func.coalesce(func.sum(V.version), 0))
    v = conn.execute(
        # not_trashed: on SQLite the count stays within the status index
        select(*vps_cols).where(V.status.in_(ACTIVE_STATUSES), not_trashed(session))
    ).one()
    p = conn.execute(
        select(func.count(), func.max(P.updated_at)).select_from(ProviderRow.__table__)
    ).one()
    return (*v, *p)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A build allocates ~100,000 dicts, lists and strings, none of them in a reference
    cycle; meanwhile the cyclic GC would run ~150 times, some of them over every object of
    the process (10-20% of a build, bench/README.md). Paused for the build (process-wide:
    another thread's garbage waits a few ms for the next collection)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def cached_document(session: Session, kind: str, args: tuple, build: Callable[[], str]) -> str:
    """`build()` (a JSON text), or the same text as last time if the inventory is unchanged."""
    key = (str(session.get_bind().engine.url), kind, args)
    fp = fingerprint(session)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == fp:
            _cache.move_to_end(key)
            return hit[1]
    with _gc_paused():
        text = build()
    with _cache_lock:
        _cache[key] = (fp, text)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return text


def dumps(data: object) -> str:
    # orjson: compact UTF-8 like json.dumps(ensure_ascii=False), ~10x faster on 10k targets
    return orjson.dumps(data).decode()
