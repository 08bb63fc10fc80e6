"""Read-only views derived from the inventory: Prometheus targets, Ansible inventory, an
iCalendar feed of expiry dates. Each reads only the columns it needs (SQLAlchemy Core), so
10,000 active VPS stay well inside the DESIGN.md budgets."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sigma.db.models import Provider as ProviderRow
from sigma.db.models import Vps as VpsRow
from sigma.schemas import ACTIVE_STATUSES

V = VpsRow.__table__.c
P = ProviderRow.__table__.c
COLUMNS = (
    V.id, V.hostname, V.alias, V.ip_addresses, V.ssh_port, V.country, V.city, V.dc_name,
    V.cpu_cores, V.ram_mb, V.disk_gb, V.status, V.purpose, V.vpn_protocol, V.tags,
    V.monitoring_enabled, V.node_exporter_port, V.expire_date,
)
FIELDS = tuple(c.name for c in COLUMNS) + ("provider",)


@dataclass(slots=True)
class Running:
    id: str
    hostname: str
    alias: str
    ip_addresses: list[dict[str, str]]
    ssh_port: int
    country: str
    city: str
    dc_name: str
    cpu_cores: int | None
    ram_mb: int | None
    disk_gb: int | None
    status: str
    purpose: str
    vpn_protocol: str
    tags: list[str]
    monitoring_enabled: bool
    node_exporter_port: int
    expire_date: str | None  # YYYY-MM-DD
    provider: str | None


def running(session: Session, *, monitored_only: bool = False) -> list[Running]:
    """Active and provisioning VPS with their provider's name, by hostname (then id).

    Read through the driver, not SQLAlchemy's result processing: these exports serve 10,000
    rows per scrape, and decoding each value by its column type costs more than the query
    (DESIGN.md: 100 ms / 200 ms). Only the few dialect differences are handled here."""
    q = (
        select(*COLUMNS, P.name.label("provider"))
        .select_from(VpsRow.__table__.outerjoin(ProviderRow.__table__, P.id == V.provider_id))
        .where(V.status.in_(ACTIVE_STATUSES))
        .order_by(V.hostname, V.id)
    )
    if monitored_only:
        q = q.where(V.monitoring_enabled.is_(True))
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        from psycopg.types.json import set_json_loads

        set_json_loads(orjson.loads, conn.connection.driver_connection)  # JSONB decoding dominates
    sql = q.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}).string  # constants only
    rows = conn.exec_driver_sql(sql).fetchall()
    out = []
    if conn.dialect.name == "sqlite":  # text JSON, hex UUIDs, ISO dates, 0/1 booleans
        loads = orjson.loads
        for r in rows:
            hx = r[0]
            out.append(Running(
                f"{hx[:8]}-{hx[8:12]}-{hx[12:16]}-{hx[16:20]}-{hx[20:]}", r[1], r[2], loads(r[3]), r[4], r[5],
                r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], loads(r[14]), bool(r[15]), r[16], r[17], r[18],
            ))
    else:  # psycopg: UUID, parsed JSONB, date and bool objects
        for r in rows:
            out.append(Running(
                str(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
                r[14], r[15], r[16], r[17].isoformat() if r[17] is not None else None, r[18],
            ))
    return out


def primary_ip(ips: list[dict[str, str]], label: str | None = None) -> str | None:
    """The address to reach a VPS at: the first IP with `label` when one is asked for and
    present, else the first IP not labelled internal, else the first IP; None without IPs."""
    ips = [e for e in ips or () if e.get("ip")]
    if not ips:
        return None
    if label is not None:
        for e in ips:
            if e.get("label", "") == label:
                return e["ip"]
    for e in ips:
        if e.get("label", "") != "internal":
            return e["ip"]
    return ips[0]["ip"]


# ---------------------------------------------------------------- rendered-document cache
#
# Prometheus re-reads its targets every minute and the inventory rarely changes in between:
# a rendered document is kept per (database, kind, arguments) together with a fingerprint of
# the inventory, and served again while the fingerprint is unchanged. Every change to an
# exported field bumps vps.version (ORM version counter, bulk imports too) and updated_at;
# deletes change the count; providers are fingerprinted by count and last update. Agent
# heartbeats touch neither (and nothing they write is exported).

CACHE_SIZE = 16
_cache: OrderedDict[tuple, tuple[tuple, str]] = OrderedDict()
_cache_lock = threading.Lock()


def fingerprint(session: Session) -> tuple:
    conn = session.connection()
    vps_cols = [func.count(), func.max(V.updated_at)]
    if "version" in V:
        vps_cols.append(func.coalesce(func.sum(V.version), 0))
    v = conn.execute(select(*vps_cols).select_from(VpsRow.__table__)).one()
    p = conn.execute(select(func.count(), func.max(P.updated_at)).select_from(ProviderRow.__table__)).one()
    return (*v, *p)


def cached_document(session: Session, kind: str, args: tuple, build: Callable[[], str]) -> str:
    """`build()` (a JSON text), or the same text as last time if the inventory is unchanged."""
    key = (str(session.get_bind().url), kind, args)
    fp = fingerprint(session)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == fp:
            _cache.move_to_end(key)
            return hit[1]
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
