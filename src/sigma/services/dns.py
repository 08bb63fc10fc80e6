"""Read-only DNS accounts (issue 19): a copy of each account's zones and records, each A/AAAA
record linked to the VPS that holds (or held) its address, and the certificate its name
serves there.

A sync of a DNS account lists the zones and their records (network, outside any
transaction), checks the certificates of the records that point at the fleet (a TLS
handshake with the record's name, from this server, bounded by a timeout and a pool: only
fleet addresses, so a record cannot send the server to an arbitrary host), then replaces the
account's copy in one transaction. Nothing is ever written to the DNS provider.

What needs attention (services.attention): a record pointing at a VPS that is retired, in
the trash or blocked from China (`dns-stale`); a domain whose registration ends within the
notice thresholds (`domain-expiring`); a certificate served for a record's name that ends
within `cert_warn_days` (`cert-expiring`).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from sigma.cloud import adapter
from sigma.cloud.base import ProviderError, RateLimited, Record, Zone
from sigma.db.engine import unit_of_work
from sigma.db.leases import lease
from sigma.db.models.accounts import Account as AccountRow
from sigma.db.models.accounts import DnsRecord as DnsRecordRow
from sigma.db.models.accounts import DnsZone as DnsZoneRow
from sigma.db.models.core import Vps as VpsRow
from sigma.db.types import utcnow
from sigma.errors import InvalidInput, SigmaError
from sigma.schemas.accounts import DnsFilter, DnsRecord, DnsZone, SyncChange, SyncReport
from sigma.schemas.common import Page, clamp_page, parse_ip, short_text, validate
from sigma.services import accounts
from sigma.services.actor import ADMINS, READERS, Actor
from sigma.services.json_sql import json_array_has_object_with
from sigma.settings import Settings

ADDRESS_TYPES = ("A", "AAAA")
MAX_RECORDS = 20_000  # per account: more is a provider answering garbage
CERT_PORT = 443
CERT_TIMEOUT = 5.0
CERT_WORKERS = 8


class _DryRun(Exception):
    pass


def sync(
    sessions: sessionmaker[Session],
    settings: Settings,
    actor: Actor,
    row: AccountRow,
    *,
    dry_run: bool = False,
    transport: Any = None,
    cert_port: int | None = None,
) -> SyncReport:
    """One run of one DNS account (called by services.sync.sync for a DNS kind)."""
    from sigma.services.sync import LEASE_TTL, finish

    actor.require(ADMINS)
    report = SyncReport(account=row.name, account_id=row.id, kind=row.kind, dry_run=dry_run)
    started = time.perf_counter()
    with lease(sessions, f"account-sync:{row.id}", ttl=LEASE_TTL) as held:
        if not held:
            report.ok = False
            report.error = "another sync of this account is running; try again when it ends"
            return report
        try:
            zones = _fetch(settings, row, transport)
        except ProviderError as exc:
            report.ok = False
            report.error = str(exc)
            report.retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        except SigmaError as exc:
            report.ok = False
            report.error = exc.message
        except Exception as exc:  # noqa: BLE001 - an adapter's bug is this account's failure
            report.ok = False
            report.error = f"the listing failed: {type(exc).__name__}"
        else:
            report.listed = sum(len(records) for _z, records in zones)
            try:
                with unit_of_work(sessions, read_only=True) as session:
                    owners = _owners(session, zones)
                port = CERT_PORT if cert_port is None else cert_port
                certs = _certificates(zones, owners, port)
                with unit_of_work(sessions) as session:
                    apply(session, row.id, zones, owners, certs, report)
                    if dry_run:
                        raise _DryRun
            except _DryRun:
                pass
            except SigmaError as exc:
                report.ok = False
                report.error = f"nothing was changed: {exc.message}"
        report.seconds = round(time.perf_counter() - started, 3)
        if not dry_run:
            finish(sessions, actor, row.id, report)
    return report


def _fetch(settings: Settings, row: AccountRow, transport: Any) -> list[tuple[Zone, list[Record]]]:
    mod = adapter(row.kind)
    out = []
    total = 0
    with accounts.open_api(settings, row, transport) as api:
        for zone in mod.zones(api):
            records = mod.records(api, zone)
            total += len(records)
            if total > MAX_RECORDS:
                raise ProviderError(f"more than {MAX_RECORDS} records; giving up")
            out.append((zone, records))
    return out


def _address(record: Record) -> str | None:
    if record.type not in ADDRESS_TYPES:
        return None
    try:
        return parse_ip(record.content)
    except ValueError:
        return None


def _owners(session: Session, zones: list[tuple[Zone, list[Record]]]) -> dict[str, uuid.UUID]:
    """Each record address -> the VPS holding it: one in service first, else the newest
    retired or trashed one that held it (a record left pointing at it is what we look for)."""
    out: dict[str, uuid.UUID] = {}
    for ip in {a for _z, records in zones for r in records if (a := _address(r))}:
        vps_id = session.scalar(
            select(col(VpsRow.id))
            .where(json_array_has_object_with(session, VpsRow.ip_addresses, "ip", ip))
            .order_by(
                case((col(VpsRow.deleted_at).is_(None), 0), else_=1),
                case((col(VpsRow.status) != "retired", 0), else_=1),
                col(VpsRow.updated_at).desc(),
            )
            .limit(1)
        )
        if vps_id is not None:
            out[ip] = vps_id
    return out


def _certificates(
    zones: list[tuple[Zone, list[Record]]], owners: dict[str, uuid.UUID], port: int
) -> dict[tuple[str, str], Any]:
    """The certificate each fleet record's name serves at its address (not proxied: a
    proxied record's certificate is the DNS provider's edge, not the VPS's)."""
    from sigma.cloud.certs import check_many

    targets = sorted(
        {
            (ip, r.name, port)
            for _z, records in zones
            for r in records
            if not r.proxied and (ip := _address(r)) in owners and "*" not in r.name
        }
    )
    if not targets:
        return {}
    results = check_many(targets, timeout=CERT_TIMEOUT, workers=CERT_WORKERS)
    return {(ip, name): result for (ip, name, _p), result in results.items()}


def apply(
    session: Session,
    account_id: Any,
    zones: list[tuple[Zone, list[Record]]],
    owners: dict[str, uuid.UUID],
    certs: dict[tuple[str, str], Any],
    report: SyncReport,
) -> None:
    """The account's copy replaced by `zones`, in the caller's transaction."""
    from sigma.cloud.certs import CertError

    now = utcnow()
    existing = {
        z.zone_id: z
        for z in session.scalars(select(DnsZoneRow).where(col(DnsZoneRow.account_id) == account_id))
    }
    listed_zones = set()
    for zone, records in zones:
        listed_zones.add(zone.zone_id)
        zrow = existing.get(zone.zone_id)
        if zrow is None:
            zrow = DnsZoneRow(account_id=account_id, zone_id=zone.zone_id, name=zone.name)
            session.add(zrow)
            session.flush()
        zrow.name, zrow.status, zrow.expires_at, zrow.synced_at = (
            zone.name,
            zone.status,
            zone.expires_at,
            now,
        )
        old = {
            r.record_id: r
            for r in session.scalars(
                select(DnsRecordRow).where(col(DnsRecordRow.zone_ref) == zrow.id)
            )
        }
        for rec in records:
            rrow = old.pop(rec.record_id, None)
            created = rrow is None
            if rrow is None:
                rrow = DnsRecordRow(
                    zone_ref=zrow.id,
                    record_id=rec.record_id,
                    name=rec.name,
                    type=rec.type,
                    content=rec.content,
                )
                session.add(rrow)
            ip = _address(rec)
            vps_id = owners.get(ip) if ip else None
            if created:
                report.created += 1
                if vps_id:
                    report.changes.append(
                        SyncChange(
                            action="link",
                            instance_id=rec.record_id,
                            vps_id=vps_id,
                            hostname=rec.name,
                            changes={"type": rec.type, "content": rec.content},
                        )
                    )
            elif rrow.vps_id != vps_id or rrow.content != rec.content:
                report.updated += 1
                report.changes.append(
                    SyncChange(
                        action="link" if vps_id else "update",
                        instance_id=rec.record_id,
                        vps_id=vps_id,
                        hostname=rec.name,
                        changes={"type": rec.type, "content": rec.content},
                    )
                )
            else:
                report.unchanged += 1
            rrow.name, rrow.type, rrow.content = rec.name, rec.type, rec.content
            rrow.ttl, rrow.proxied, rrow.vps_id = rec.ttl, rec.proxied, vps_id
            result = certs.get((ip, rec.name)) if ip else None
            if result is not None:
                rrow.cert_checked_at = now
                if isinstance(result, CertError):
                    rrow.cert_error, rrow.cert_not_after = str(result)[:300], None
                else:
                    rrow.cert_error, rrow.cert_not_after = "", result.not_after
        for gone in old.values():
            session.delete(gone)
            report.gone += 1
    for zone_id, zrow in existing.items():
        if zone_id not in listed_zones:
            session.delete(zrow)
            report.gone += 1
    session.flush()


# ------------------------------------------------------------------------------ reading


def _record_select() -> Any:
    return (
        select(
            DnsRecordRow,
            col(DnsZoneRow.name).label("zone"),
            col(AccountRow.name).label("account"),
            col(VpsRow.hostname).label("vps_hostname"),
            case((col(VpsRow.deleted_at).is_not(None), "trashed"), else_=col(VpsRow.status)).label(
                "vps_status"
            ),
        )
        .join(DnsZoneRow, col(DnsZoneRow.id) == DnsRecordRow.zone_ref)
        .join(AccountRow, col(AccountRow.id) == DnsZoneRow.account_id)
        .outerjoin(VpsRow, col(VpsRow.id) == DnsRecordRow.vps_id)
    )


def _record_out(r: Any) -> DnsRecord:
    out = DnsRecord.model_validate(r[0])
    out.zone, out.account, out.vps_hostname, out.vps_status = r[1], r[2], r[3], r[4]
    return out


def list_records(
    session: Session, actor: Actor, f: DnsFilter | dict | None = None
) -> Page[DnsRecord]:
    actor.require(READERS)
    f = validate(DnsFilter, f or {}) if not isinstance(f, DnsFilter) else f
    try:
        page, per_page = clamp_page(f.page, f.per_page)
    except ValueError as exc:
        raise InvalidInput(f"page: {exc}", field="page") from None
    q = _record_select()
    if f.zone:
        q = q.where(func.lower(DnsZoneRow.name) == f.zone.strip().lower().rstrip("."))
    if f.account:
        q = q.where(func.lower(AccountRow.name) == f.account.strip().lower())
    if f.linked is not None:
        linked = col(DnsRecordRow.vps_id)
        q = q.where(linked.is_not(None) if f.linked else linked.is_(None))
    if f.q:
        text = f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{text}%"
        q = q.where(
            or_(
                func.lower(DnsRecordRow.name).like(like, escape="\\"),
                func.lower(DnsRecordRow.content).like(like, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.execute(
        q.order_by(col(DnsRecordRow.name), col(DnsRecordRow.type), col(DnsRecordRow.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return Page[DnsRecord](
        data=[_record_out(r) for r in rows], total=total, page=page, per_page=per_page
    )


def list_zones(session: Session, actor: Actor) -> list[DnsZone]:
    actor.require(READERS)
    counts = (
        select(
            col(DnsRecordRow.zone_ref),
            func.count().label("records"),
            func.count(col(DnsRecordRow.vps_id)).label("linked"),
        )
        .group_by(col(DnsRecordRow.zone_ref))
        .subquery()
    )
    rows = session.execute(
        select(DnsZoneRow, col(AccountRow.name), counts.c.records, counts.c.linked)
        .join(AccountRow, col(AccountRow.id) == DnsZoneRow.account_id)
        .outerjoin(counts, counts.c.zone_ref == DnsZoneRow.id)
        .order_by(col(DnsZoneRow.name), col(AccountRow.name))
    )
    out = []
    for zrow, account, records, linked in rows:
        z = DnsZone.model_validate(zrow)
        z.account, z.records, z.linked = account, records or 0, linked or 0
        out.append(z)
    return out


def show(session: Session, actor: Actor, name: str) -> dict[str, Any]:
    """A zone (by name) with its records, or the records of one name."""
    actor.require(READERS)
    try:
        text = short_text(name).lower().rstrip(".")
    except ValueError as exc:
        raise InvalidInput(f"name: {exc}", field="name") from None
    if not text:
        raise InvalidInput("a zone or record name is required", field="name")
    zones = [z for z in list_zones(session, actor) if z.name.lower() == text]
    if zones:
        rows = session.execute(
            _record_select()
            .where(col(DnsRecordRow.zone_ref) == zones[0].id)
            .order_by(col(DnsRecordRow.name), col(DnsRecordRow.type), col(DnsRecordRow.id))
        )
        return {"zone": zones[0], "records": [_record_out(r) for r in rows]}
    rows = session.execute(
        _record_select()
        .where(func.lower(DnsRecordRow.name) == text)
        .order_by(col(DnsRecordRow.type), col(DnsRecordRow.id))
    )
    records = [_record_out(r) for r in rows]
    if not records:
        from sigma.errors import NotFound

        raise NotFound(f"no DNS zone or record named '{text[:80]}' (run `sigma sync` first?)")
    return {"zone": None, "records": records}


# ------------------------------------------------------------------ attention's rules


def stale_rows(session: Session) -> Any:
    """Records pointing at a VPS retired, in the trash, or blocked from China."""
    from sigma.db.models.monitoring import Reachability

    blocked = (
        select(col(Reachability.vps_id))
        .where(
            col(Reachability.vps_id) == DnsRecordRow.vps_id,
            col(Reachability.ip) == DnsRecordRow.content,
            col(Reachability.verdict) == "blocked",
        )
        .exists()
    )
    return session.execute(
        _record_select().where(
            or_(
                col(VpsRow.deleted_at).is_not(None),
                col(VpsRow.status) == "retired",
                and_(col(VpsRow.status) != "retired", blocked),
            )
        )
    ).all()


def expiring_zones(session: Session, until: datetime) -> Any:
    return session.execute(
        select(DnsZoneRow, col(AccountRow.name))
        .join(AccountRow, col(AccountRow.id) == DnsZoneRow.account_id)
        .where(col(DnsZoneRow.expires_at).is_not(None), col(DnsZoneRow.expires_at) <= until)
    ).all()


def expiring_certs(session: Session, until: datetime) -> Any:
    return session.execute(
        _record_select().where(
            col(DnsRecordRow.cert_not_after).is_not(None),
            col(DnsRecordRow.cert_not_after) <= until,
        )
    ).all()


def records_of(session: Session, actor: Actor, vps_id: Any) -> list[DnsRecord]:
    """The DNS records pointing at one VPS (its page)."""
    actor.require(READERS)
    rows = session.execute(
        _record_select()
        .where(col(DnsRecordRow.vps_id) == vps_id)
        .order_by(col(DnsRecordRow.name), col(DnsRecordRow.type), col(DnsRecordRow.id))
        .limit(200)
    )
    return [_record_out(r) for r in rows]
