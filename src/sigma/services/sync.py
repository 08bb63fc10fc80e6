"""Provider account sync (issue 19): what an account's API lists becomes VPS of the inventory.

One run of one account:

1. its lease (`account-sync:ID`, sigma.db.leases): however many replicas, `sigma sync`
   commands and API calls ask at once, one runs; the others are told so;
2. the adapter lists the account's instances (network, outside any transaction); a failure
   there (401/403, 429, HTML, a broken pagination...) changes nothing but the account's
   status, and puts its next scheduled run off (exponential backoff, or the provider's
   Retry-After when longer);
3. one transaction applies the listing: rolled back whole on any error, so an account is
   never half-synced. A dry run applies it the same way and rolls it back: what it reports
   is exactly what a real run would do.

Matching, per instance: the account's link to it (account_instances), else a VPS in service
holding one of its addresses and linked to no other instance; else a new VPS. An instance id
another account of the same kind already syncs is skipped with a warning (two tokens of one
project must not make two VPS). A linked instance the API no longer lists is `gone`: its VPS
becomes `retiring` (never deleted), with a `gone` event and an attention item.

Who wins: the link remembers the value each field had when the sync last wrote it. A value
the operator has changed since (or had set before the first match) is theirs and is kept,
unless the account says `api_wins`. Every change goes through services.vps with source
`sync`: audited, in the timeline, validated by the same rules as a form.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from sigma.cloud import DNS_ADAPTERS, adapter
from sigma.cloud.base import Instance, ProviderError, RateLimited
from sigma.db.engine import unit_of_work
from sigma.db.leases import lease
from sigma.db.models.accounts import Account as AccountRow
from sigma.db.models.accounts import AccountInstance
from sigma.db.models.core import Vps as VpsRow
from sigma.db.types import utcnow
from sigma.errors import Conflict, InvalidInput, SigmaError
from sigma.schemas.accounts import SyncChange, SyncReport
from sigma.schemas.common import check_hostname, parse_ip, validate
from sigma.schemas.inventory import VpsUpdate
from sigma.services import accounts, audit, history, traffic
from sigma.services import vps as vps_service
from sigma.services.actor import ADMINS, READERS, Actor
from sigma.settings import Settings

log = logging.getLogger("sigma.sync")

JOB_NAME = "account-sync"
JOB_INTERVAL = 60.0  # seconds between looks for accounts due
LEASE_TTL = 900.0
MAX_BACKOFF = timedelta(hours=24)
# an expiry further than this from today is the provider's clock or data, not a term
EXPIRY_PAST = timedelta(days=366)
EXPIRY_FUTURE = timedelta(days=3660)
# the fields a sync fills, in the order a change lists them
FIELDS = (
    "hostname",
    "ip_addresses",
    "provider_id",
    "country",
    "city",
    "cpu_cores",
    "ram_mb",
    "disk_gb",
    "cost_monthly",
    "currency",
    "expire_date",
    "auto_renew",
    "traffic_quota_gb",
    "traffic_reset_day",
)
_EMPTY: tuple[Any, ...] = (None, "", [], False)
_NEVER = object()  # a field the sync never wrote to this VPS


class _DryRun(Exception):
    """Raised inside the dry run's transaction so that unit_of_work rolls it back."""


def sync_actor(account_name: str) -> Actor:
    return Actor(email=f"sync:{account_name}", role="admin")


# ------------------------------------------------------------- the values an instance gives


def _plausible_expiry(inst: Instance, today: date, warnings: list[str]) -> date | None:
    if inst.expires_at is None or inst.charge_type == "postpaid":
        return None
    day = inst.expires_at.astimezone(UTC).date()
    if not today - EXPIRY_PAST <= day <= today + EXPIRY_FUTURE:
        warnings.append(
            f"instance {inst.instance_id}: expiry {day} is implausible (clock or data of the "
            "provider); ignored"
        )
        return None
    return day


def _hostname(inst: Instance, kind: str) -> str:
    for name in (inst.hostname.strip().lower(), f"{kind}-{inst.instance_id}".lower()):
        try:
            return check_hostname(name)
        except ValueError:
            continue
    return f"{kind}-{uuid.uuid5(uuid.NAMESPACE_URL, inst.instance_id).hex[:12]}"


def desired(
    inst: Instance, account: AccountRow, today: date, warnings: list[str]
) -> dict[str, Any]:
    """The VPS fields `inst` gives, each validated as a form's would be: a value the rules
    refuse is left out with a warning, it does not fail the account."""
    ips = [{"ip": ip, "label": ""} for ip in [*inst.ipv4, *inst.ipv6]]
    values: dict[str, Any] = {
        "hostname": _hostname(inst, account.kind),
        "ip_addresses": ips,
        "provider_id": account.provider_id,
        "country": inst.country,
        "city": inst.city,
        "cpu_cores": inst.cpu_cores,
        "ram_mb": inst.ram_mb,
        "disk_gb": inst.disk_gb,
        "cost_monthly": inst.price_monthly,
        "currency": inst.currency or None,
        "expire_date": _plausible_expiry(inst, today, warnings),
        "auto_renew": inst.auto_renew,
        "traffic_quota_gb": inst.traffic_quota_gb,
        "traffic_reset_day": (
            min(inst.traffic_reset.day, 28) if inst.traffic_reset is not None else None
        ),
    }
    given = {k: v for k, v in values.items() if v is not None and v != []}
    try:  # the usual case: every value valid, one validation
        checked = validate(VpsUpdate, given)
        out = {key: getattr(checked, key) for key in given}
    except InvalidInput:  # then field by field, each refused value left out with a warning
        out = {}
        for key, value in given.items():
            if key == "ip_addresses":
                value = _valid_ips(inst.instance_id, value, warnings)
            try:
                out[key] = getattr(validate(VpsUpdate, {key: value}), key)
            except InvalidInput as exc:
                warnings.append(f"instance {inst.instance_id}: {exc.message}; left out")
    if out.get("ip_addresses") is not None:
        out["ip_addresses"] = [e.model_dump() for e in out["ip_addresses"]]
    if out.get("cost_monthly") is not None and "currency" not in out:
        out.pop("cost_monthly")  # a price without its currency is no price
    return out


def _valid_ips(instance_id: str, ips: list[dict[str, str]], warnings: list[str]) -> Any:
    kept, seen = [], set()
    for entry in ips:
        try:
            checked = validate(VpsUpdate, {"ip_addresses": [entry]}).ip_addresses or []
        except InvalidInput:
            warnings.append(f"instance {instance_id}: '{entry['ip'][:64]}' is not an IP address")
            continue
        ip = checked[0].ip
        if ip not in seen:
            seen.add(ip)
            kept.append({"ip": ip, "label": ""})
    return kept


def _comparable(key: str, value: Any) -> Any:
    """A field's value as the link remembers it (JSON), to compare with what the VPS holds."""
    if key == "ip_addresses":
        return sorted(e["ip"] for e in value or [])
    if value is None:
        return None
    if isinstance(value, date | uuid.UUID):
        return str(value)
    if key == "cost_monthly":
        return str(value)
    return value


# ---------------------------------------------------------------------------- one run


def sync(
    sessions: sessionmaker[Session],
    settings: Settings,
    actor: Actor,
    ref: Any,
    *,
    dry_run: bool = False,
    transport: Any = None,
) -> SyncReport:
    """One run of one account (see the module's docstring); the report says what it did,
    or why it could not. Never raises for a provider's failure: the report carries it."""
    actor.require(ADMINS)
    with unit_of_work(sessions, read_only=True) as session:
        row = accounts.find(session, ref)
        session.expunge(row)
    if row.kind in DNS_ADAPTERS:
        from sigma.services import dns

        return dns.sync(sessions, settings, actor, row, dry_run=dry_run, transport=transport)
    report = SyncReport(account=row.name, account_id=row.id, kind=row.kind, dry_run=dry_run)
    started = time.perf_counter()
    with lease(sessions, f"account-sync:{row.id}", ttl=LEASE_TTL) as held:
        if not held:
            report.ok = False
            report.error = "another sync of this account is running; try again when it ends"
            return report
        try:
            with accounts.open_api(settings, row, transport) as api:
                listed = adapter(row.kind).instances(api)
        except ProviderError as exc:
            report.ok = False
            report.error = str(exc)
            report.retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        except SigmaError as exc:  # credentials the configured key cannot decrypt
            report.ok = False
            report.error = exc.message
        except Exception as exc:  # noqa: BLE001 - an adapter's bug is this account's failure
            log.exception("listing of account %s failed", row.name)
            report.ok = False
            report.error = f"the listing failed: {type(exc).__name__}"
        else:
            report.listed = len(listed)
            try:
                with unit_of_work(sessions) as session:
                    apply(session, actor, settings, row.id, listed, report)
                    if dry_run:
                        raise _DryRun
            except _DryRun:
                pass
            except SigmaError as exc:
                report.ok = False
                report.error = f"nothing was changed: {exc.message}"
            except Exception as exc:  # noqa: BLE001 - one account's failure stays its own
                log.exception("sync of account %s failed", row.name)
                report.ok = False
                report.error = f"nothing was changed: {type(exc).__name__}"
        report.seconds = round(time.perf_counter() - started, 3)
        if not dry_run:
            finish(sessions, actor, row.id, report)
    return report


def finish(sessions: sessionmaker[Session], actor: Actor, account_id: Any, r: SyncReport) -> None:
    """The account's status after a run, and when the scheduled job runs it next."""
    with unit_of_work(sessions) as session:
        row = session.get(AccountRow, account_id)
        if row is None:
            return  # removed while it synced
        now = utcnow()
        row.last_sync_at = now
        row.last_status = "ok" if r.ok else "failed"
        row.last_error = r.error
        counts = ("listed", "created", "updated", "gone", "unchanged", "skipped")
        row.last_report = {**{k: getattr(r, k) for k in counts}, "warnings": r.warnings[:20]}
        interval = timedelta(minutes=row.interval_minutes)
        if r.ok:
            row.failures = 0
            row.next_sync_at = now + interval
        else:
            row.failures += 1
            wait = min(interval * 2 ** min(row.failures, 10), MAX_BACKOFF)
            if r.retry_after:
                wait = max(wait, timedelta(seconds=r.retry_after))
            row.next_sync_at = now + wait
        details = {"name": row.name, "ok": r.ok, **{k: getattr(r, k) for k in counts}}
        if r.error:
            details["error"] = r.error[:300]
        audit.record(session, actor, "sync", "account", row.id, details)


def apply(
    session: Session,
    actor: Actor,
    settings: Settings,
    account_id: Any,
    listed: list[Instance],
    report: SyncReport,
) -> None:
    """The listing applied to the inventory, in the caller's transaction. What it needs to
    know of the database (the links, their VPS, other accounts' claims, who holds the listed
    addresses, the traffic rows) is read up front in a few queries, not per instance."""
    account = session.get(AccountRow, account_id)
    if account is None:
        raise Conflict("the account was removed while it synced")
    today = utcnow().date()
    now = utcnow()
    links = {
        link.instance_id: link
        for link in session.scalars(
            select(AccountInstance).where(col(AccountInstance.account_id) == account.id)
        )
    }
    known = _Known.read(session, account, links, listed)
    seen: set[str] = set()
    with session.no_autoflush:
        for inst in listed:
            seen.add(inst.instance_id)
            _one(session, actor, account, inst, links, known, today, now, report)
    for instance_id, link in links.items():
        if instance_id not in seen and link.gone_at is None:
            _gone(session, actor, account, link, now, report)


@dataclass
class _Known:
    """What apply reads once: the VPS of the links (kept here, so the session's identity
    map holds them), the instance ids other accounts of the kind sync, the VPS in service
    holding each listed address (history's open ip_assignments), the VPS any live instance
    fills, and the traffic rows of the linked VPS."""

    vps: dict[uuid.UUID, VpsRow]
    elsewhere: dict[str, str]
    holders: dict[str, uuid.UUID]
    filled: set[uuid.UUID]
    traffic_rows: dict[uuid.UUID, list[Any]]

    @classmethod
    def read(
        cls,
        session: Session,
        account: AccountRow,
        links: dict[str, AccountInstance],
        listed: list[Instance],
    ) -> _Known:
        from sigma.db.models.history import IpAssignment
        from sigma.db.models.lifecycle import VpsTraffic

        ids = [link.vps_id for link in links.values() if link.vps_id is not None]
        vps: dict[uuid.UUID, VpsRow] = {}
        rows_of: dict[uuid.UUID, list[Any]] = {}
        for chunk in _chunks(ids):
            vps.update(
                (r.id, r) for r in session.scalars(select(VpsRow).where(col(VpsRow.id).in_(chunk)))
            )
            for t in session.scalars(select(VpsTraffic).where(col(VpsTraffic.vps_id).in_(chunk))):
                rows_of.setdefault(t.vps_id, []).append(t)
        instance_ids = [i.instance_id for i in listed if i.instance_id not in links]
        elsewhere: dict[str, str] = {}
        for chunk in _chunks(instance_ids):
            elsewhere.update(
                (instance_id, name)
                for instance_id, name in session.execute(
                    select(col(AccountInstance.instance_id), col(AccountRow.name))
                    .join(AccountRow, col(AccountRow.id) == AccountInstance.account_id)
                    .where(
                        col(AccountInstance.kind) == account.kind,
                        col(AccountInstance.instance_id).in_(chunk),
                        col(AccountInstance.account_id) != account.id,
                        col(AccountInstance.gone_at).is_(None),
                    )
                )
            )
        addresses = sorted(
            {a for i in listed for ip in (*i.ipv4, *i.ipv6) if (a := _canonical(ip))}
        )
        holders: dict[str, uuid.UUID] = {}
        for chunk in _chunks(addresses):
            for ip, vps_id in session.execute(
                select(col(IpAssignment.ip), col(IpAssignment.vps_id))
                .where(col(IpAssignment.until).is_(None), col(IpAssignment.ip).in_(chunk))
                .order_by(col(IpAssignment.since))
            ).tuples():
                holders.setdefault(ip, vps_id)
        filled = {
            v
            for v in session.scalars(
                select(col(AccountInstance.vps_id)).where(
                    col(AccountInstance.vps_id).is_not(None),
                    col(AccountInstance.gone_at).is_(None),
                )
            )
            if v is not None
        }
        return cls(vps, elsewhere, holders, filled, rows_of)


def _canonical(ip: str) -> str | None:
    try:
        return parse_ip(ip)
    except ValueError:
        return None


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _one(
    session: Session,
    actor: Actor,
    account: AccountRow,
    inst: Instance,
    links: dict[str, AccountInstance],
    known: _Known,
    today: date,
    now: datetime,
    report: SyncReport,
) -> None:
    """One listed instance: matched, then created or updated."""
    link = links.get(inst.instance_id)
    values = desired(inst, account, today, report.warnings)
    if link is None:
        other = known.elsewhere.get(inst.instance_id)
        if other is not None:
            report.skipped += 1
            report.warnings.append(
                f"instance {inst.instance_id} is also listed by account {other}, which "
                "syncs it; skipped here"
            )
            report.changes.append(
                SyncChange(action="skip", instance_id=inst.instance_id, note=f"synced by {other}")
            )
            return
        link = AccountInstance(
            account_id=account.id, kind=account.kind, instance_id=inst.instance_id
        )
        session.add(link)
        links[inst.instance_id] = link
    elif link.gone_at is not None:
        link.gone_at = None
        report.warnings.append(
            f"instance {inst.instance_id} is listed again; its VPS keeps the status it has"
        )
    link.last_seen_at = now
    link.seen = _seen(inst)
    row = known.vps.get(link.vps_id) if link.vps_id else None
    if row is not None and row.deleted_at is not None:
        report.skipped += 1
        report.changes.append(
            SyncChange(
                action="skip",
                instance_id=inst.instance_id,
                vps_id=row.id,
                hostname=row.hostname,
                note="its VPS is in the trash",
            )
        )
        return
    if row is None:
        row = _match_by_ip(session, known, values.get("ip_addresses") or [])
        if row is not None:
            link.vps_id = row.id
            link.synced = {}
            report.changes.append(
                SyncChange(
                    action="link",
                    instance_id=inst.instance_id,
                    vps_id=row.id,
                    hostname=row.hostname,
                    note="matched by IP address",
                )
            )
    if row is None:
        row = _create(session, actor, account, inst, link, values, report)
    else:
        _update(session, actor, account, inst, link, row, values, report)
    known.filled.add(row.id)
    known.vps[row.id] = row
    if inst.traffic_used_bytes is not None:
        traffic.record_provider(
            session, row, inst.traffic_used_bytes, now, known.traffic_rows.get(row.id, [])
        )


def _seen(inst: Instance) -> dict[str, Any]:
    """The instance as listed, for `account show` (JSON)."""
    return {
        "hostname": inst.hostname,
        "ips": [*inst.ipv4, *inst.ipv6][:32],
        "region": inst.region,
        "plan": inst.plan,
        "state": inst.state,
        "charge_type": inst.charge_type,
        "expires_at": inst.expires_at.isoformat() if inst.expires_at else None,
        "traffic_used_bytes": inst.traffic_used_bytes,
        "traffic_quota_gb": inst.traffic_quota_gb,
    }


def _match_by_ip(session: Session, known: _Known, ips: list[dict[str, str]]) -> VpsRow | None:
    """A VPS in service holding one of `ips` that no live instance fills yet."""
    for entry in ips:
        vps_id = known.holders.get(entry["ip"])
        if vps_id is not None and vps_id not in known.filled:
            row = session.get(VpsRow, vps_id)
            if row is not None and row.status != "retired" and row.deleted_at is None:
                return row
    return None


def _create(
    session: Session,
    actor: Actor,
    account: AccountRow,
    inst: Instance,
    link: AccountInstance,
    values: dict[str, Any],
    report: SyncReport,
) -> VpsRow:
    data = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in values.items()}
    data["status"] = "provisioning" if inst.state == "pending" else "active"
    data.setdefault("hostname", _hostname(inst, account.kind))
    if data.get("traffic_reset_day") is None:
        data.pop("traffic_reset_day", None)
    v = vps_service.create(session, actor, data, source="sync")
    link.vps_id = v.id
    link.synced = {k: _comparable(k, values.get(k)) for k in values}
    report.created += 1
    report.changes.append(
        SyncChange(
            action="create",
            instance_id=inst.instance_id,
            vps_id=v.id,
            hostname=v.hostname,
            changes={k: _comparable(k, val) for k, val in values.items()},
        )
    )
    row = session.get(VpsRow, v.id)
    assert row is not None
    return row


def _update(
    session: Session,
    actor: Actor,
    account: AccountRow,
    inst: Instance,
    link: AccountInstance,
    row: VpsRow,
    values: dict[str, Any],
    report: SyncReport,
) -> None:
    changes: dict[str, Any] = {}
    kept: list[str] = []
    synced = dict(link.synced or {})
    for key, value in values.items():
        now_value = _comparable(key, getattr(row, key))
        new_value = _comparable(key, value)
        if now_value == new_value:
            synced[key] = new_value
            continue
        last = synced.get(key, _NEVER)
        # changed since the sync wrote it, or set by hand before the first match
        operator_set = now_value != last if last is not _NEVER else now_value not in _EMPTY
        if key == "currency" and row.cost_monthly is None:
            operator_set = False  # a currency without a price is the form's default
        if operator_set and not account.api_wins:
            kept.append(key)
            continue
        changes[key] = value
        synced[key] = new_value
    if key_ips := changes.get("ip_addresses"):
        labels = {e["ip"]: e.get("label", "") for e in row.ip_addresses or []}
        changes["ip_addresses"] = [{**e, "label": labels.get(e["ip"], "")} for e in key_ips]
    expire = changes.get("expire_date")
    if expire is not None and row.purchase_date and expire < row.purchase_date:
        report.warnings.append(
            f"instance {inst.instance_id}: expiry {expire} is before the VPS's purchase date "
            f"{row.purchase_date}; left out"
        )
        del changes["expire_date"]
        synced.pop("expire_date", None)
    link.synced = synced
    if changes:
        body = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in changes.items()}
        vps_service.update(session, actor, row.id, body, source="sync")
        report.updated += 1
        report.changes.append(
            SyncChange(
                action="update",
                instance_id=inst.instance_id,
                vps_id=row.id,
                hostname=row.hostname,
                changes={k: _comparable(k, v) for k, v in changes.items()},
                kept=kept,
            )
        )
    else:
        report.unchanged += 1
        if kept:
            report.changes.append(
                SyncChange(
                    action="keep",
                    instance_id=inst.instance_id,
                    vps_id=row.id,
                    hostname=row.hostname,
                    kept=kept,
                    note="the operator's values win",
                )
            )


def _gone(
    session: Session,
    actor: Actor,
    account: AccountRow,
    link: AccountInstance,
    now: datetime,
    report: SyncReport,
) -> None:
    link.gone_at = now
    row = session.get(VpsRow, link.vps_id) if link.vps_id else None
    report.gone += 1
    if row is None or row.deleted_at is not None:
        report.changes.append(SyncChange(action="gone", instance_id=link.instance_id))
        return
    details = {"account": account.name, "instance_id": link.instance_id, "status": row.status}
    if row.status in ("provisioning", "active", "suspended"):
        vps_service.update(session, actor, row.id, {"status": "retiring"}, source="sync")
    history.record(session, row.id, "gone", "sync", actor, details, hostname=row.hostname)
    report.changes.append(
        SyncChange(
            action="gone",
            instance_id=link.instance_id,
            vps_id=row.id,
            hostname=row.hostname,
            note=f"no longer listed by {account.name}; now retiring",
        )
    )


# ------------------------------------------------------------------ many accounts, the job


def sync_many(
    sessions: sessionmaker[Session],
    settings: Settings,
    actor: Actor,
    refs: list[Any],
    *,
    dry_run: bool = False,
) -> list[SyncReport]:
    """Each account named (every enabled one when none is), one after the other; one
    account's failure is its report's, never the others'."""
    actor.require(ADMINS)
    if not refs:
        with unit_of_work(sessions, read_only=True) as session:
            refs = list(
                session.scalars(
                    select(col(AccountRow.id))
                    .where(col(AccountRow.enabled))
                    .order_by(col(AccountRow.name))
                )
            )
    else:
        with unit_of_work(sessions, read_only=True) as session:
            refs = [accounts.find(session, r).id for r in refs]  # unknown names fail first
    return [sync(sessions, settings, actor, r, dry_run=dry_run) for r in refs]


def due(sessions: sessionmaker[Session]) -> list[tuple[uuid.UUID, str]]:
    with unit_of_work(sessions, read_only=True) as session:
        now = utcnow()
        rows = session.execute(
            select(col(AccountRow.id), col(AccountRow.name))
            .where(
                col(AccountRow.enabled),
                (col(AccountRow.next_sync_at).is_(None)) | (col(AccountRow.next_sync_at) <= now),
            )
            .order_by(col(AccountRow.next_sync_at), col(AccountRow.name))
        ).all()
    return [(r[0], r[1]) for r in rows]


def job(sessions: sessionmaker[Session], settings: Settings) -> None:
    """The scheduled job: every enabled account whose next run is due."""
    if not settings.sync_enabled:
        return
    for account_id, name in due(sessions):
        try:
            report = sync(sessions, settings, sync_actor(name), account_id)
        except SigmaError as exc:  # removed meanwhile...
            log.warning("sync of account %s: %s", name, exc.message)
            continue
        except Exception:  # noqa: BLE001 - one account never stops the others
            log.exception("sync of account %s failed", name)
            continue
        if report.ok:
            log.info(
                "account %s synced: %d listed, %d created, %d updated, %d gone",
                name,
                report.listed,
                report.created,
                report.updated,
                report.gone,
            )
        else:
            log.warning("account %s: %s", name, report.error)


# ------------------------------------------------------------------ attention's rules


def gone_rows(session: Session) -> Any:
    """The VPS still retiring whose instance their account no longer lists."""
    return session.execute(
        select(
            col(AccountInstance.vps_id),
            col(AccountInstance.instance_id),
            col(AccountInstance.gone_at),
            col(VpsRow.hostname),
            col(AccountRow.name).label("account"),
        )
        .join(VpsRow, col(VpsRow.id) == AccountInstance.vps_id)
        .join(AccountRow, col(AccountRow.id) == AccountInstance.account_id)
        .where(
            col(AccountInstance.gone_at).is_not(None),
            col(VpsRow.status) == "retiring",
            col(VpsRow.deleted_at).is_(None),
        )
        .order_by(col(AccountInstance.gone_at))
    ).all()


def failed_rows(session: Session) -> Any:
    """The enabled accounts whose last run failed."""
    return session.execute(
        select(
            col(AccountRow.id),
            col(AccountRow.name),
            col(AccountRow.kind),
            col(AccountRow.failures),
            col(AccountRow.last_error),
            col(AccountRow.last_sync_at),
        ).where(col(AccountRow.enabled), col(AccountRow.last_status) == "failed")
    ).all()


def instances(session: Session, actor: Actor, ref: Any) -> list[dict[str, Any]]:
    """The instances an account's syncs saw, each with the VPS it fills (for show)."""
    actor.require(ADMINS)
    account = accounts.find(session, ref)
    rows = session.execute(
        select(AccountInstance, col(VpsRow.hostname), col(VpsRow.status))
        .outerjoin(VpsRow, col(VpsRow.id) == AccountInstance.vps_id)
        .where(col(AccountInstance.account_id) == account.id)
        .order_by(col(AccountInstance.instance_id))
    )
    return [
        {
            "instance_id": link.instance_id,
            "vps_id": str(link.vps_id) if link.vps_id else None,
            "hostname": hostname,
            "status": status,
            "first_seen_at": link.first_seen_at.isoformat(),
            "last_seen_at": link.last_seen_at.isoformat(),
            "gone_at": link.gone_at.isoformat() if link.gone_at else None,
            **{k: link.seen.get(k) for k in ("region", "plan", "state", "expires_at")},
            "traffic_used_bytes": link.seen.get("traffic_used_bytes"),
        }
        for link, hostname, status in rows
    ]


def sources_of(session: Session, actor: Actor, vps_id: Any) -> list[dict[str, Any]]:
    """The account instances that fill one VPS (the VPS page's "synced from"): account name
    and kind, instance id, first and last seen, gone. No credential, no option."""
    actor.require(READERS)
    rows = session.execute(
        select(AccountInstance, col(AccountRow.name), col(AccountRow.kind))
        .join(AccountRow, col(AccountRow.id) == AccountInstance.account_id)
        .where(col(AccountInstance.vps_id) == vps_id)
        .order_by(col(AccountInstance.last_seen_at).desc())
    )
    return [
        {
            "account": name,
            "kind": kind,
            "instance_id": link.instance_id,
            "first_seen_at": link.first_seen_at,
            "last_seen_at": link.last_seen_at,
            "gone_at": link.gone_at,
        }
        for link, name, kind in rows
    ]
