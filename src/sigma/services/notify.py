"""Expiry notifications (contract 3) and traffic-quota notices over Telegram and a webhook,
sent at most once.

Which notice is due: for an active or provisioning VPS with `days` left until its expiry
date, the tightest configured threshold T with days <= T (7, 3, 1 by default: one notice a
week before, one three days before, one the day before; a VPS first seen two days before
expiry gets one notice, not two). A VPS past its expiry date (by at most
`notify_overdue_days`) gets a single "overdue" notice (threshold -1).

A quota notice is due for an active VPS whose traffic in its current period reaches a share
of its quota (vocab.TRAFFIC_THRESHOLDS: 80, 95, 100 %): one per period for the highest share
reached, as services.traffic counts it now (a raised quota lowers it again).

At most once, across restarts and replicas: each (kind, vps, threshold, day, channel) is a
row of `notification_log`, claimed (sent_at NULL, committed) before sending and confirmed
after. A claim held by another process is left alone; a failed send deletes its claim, so the
next run retries; a claim left by a crashed process is taken over after CLAIM_TIMEOUT. The
whole run also holds the job's lease (sigma.db.leases), so `sigma notify run` from cron and
the job in `sigma serve` do not run at the same time.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Insert, and_, delete, label, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from sigma.db.engine import unit_of_work
from sigma.db.models.core import Provider as ProviderRow
from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.lifecycle import VpsTraffic
from sigma.db.models.notify import NotificationLog
from sigma.db.types import utcnow
from sigma.errors import Conflict, InvalidInput
from sigma.schemas.notify import ChannelNotice, Notice, NotifyReport
from sigma.services.actor import WRITERS, Actor
from sigma.settings import Settings
from sigma.vocab import ACTIVE_STATUSES, BYTES_PER_GB

log = logging.getLogger("sigma.notify")

JOB_NAME = "expiry-notifications"
OVERDUE = -1
TELEGRAM_LIMIT = 4096  # characters per message
CLAIM_TIMEOUT = timedelta(minutes=10)
MAX_RETRY_WAIT = 60.0  # seconds: a longer Telegram retry_after fails the send (retried next run)
MAX_ATTEMPTS = 3
IP_LINE_LIMIT = 1000


@dataclass
class Due:
    vps_id: Any
    hostname: str
    alias: str
    provider: str
    country: str
    ips: list[dict[str, str]]
    expire_date: date | None
    days: int | None
    threshold: int
    # the log's kind: expiry, quota, or reach:EVENT-ID for a latency/loss alert or recovery
    family: str = "expiry"
    period_start: date | None = None  # quota: the traffic period
    used_bytes: int = 0
    quota_gb: int | None = None
    direction: str = ""
    event: str = ""  # reach: reach-alert or reach-recovered
    details: dict[str, Any] | None = None  # reach: the event's details
    at: date | None = None  # reach: the event's day

    @property
    def kind(self) -> str:
        if self.family == "quota":
            return "quota"
        if self.event:
            return self.event
        return "overdue" if self.threshold == OVERDUE else "expiring"

    @property
    def day(self) -> date:
        """The date in the log's key: the expiry date, the period's first day, the event's."""
        day = {"expiry": self.expire_date, "quota": self.period_start}.get(self.family, self.at)
        assert day is not None
        return day


def channels(settings: Settings) -> list[str]:
    out = []
    if settings.telegram_bot_token and settings.telegram_chat_id:
        out.append("telegram")
    if settings.webhook_url:
        out.append("webhook")
    return out


def _identity() -> tuple[Any, ...]:
    """The VPS's columns every notice shows (read them back with _about)."""
    return (
        col(VpsRow.id).label("vps_id"),
        col(VpsRow.hostname),
        col(VpsRow.alias),
        col(VpsRow.country),
        col(VpsRow.ip_addresses),
        col(VpsRow.expire_date),
        label("provider", col(ProviderRow.name)),
    )


def _about(r: Any, today: date) -> dict[str, Any]:
    """Due's fields about the VPS, from a row with the _identity columns."""
    return dict(
        vps_id=r.vps_id,
        hostname=r.hostname,
        alias=r.alias,
        provider=r.provider or "",
        country=r.country,
        ips=list(r.ip_addresses or ()),
        expire_date=r.expire_date,
        days=None if r.expire_date is None else (r.expire_date - today).days,
    )


def due(session: Session, settings: Settings, today: date) -> list[Due]:
    thresholds = sorted({t for t in settings.notify_before_days if t >= 0}) or [7]
    rows = session.execute(
        select(*_identity())
        .outerjoin(ProviderRow, col(ProviderRow.id) == VpsRow.provider_id)
        .where(
            col(VpsRow.status).in_(ACTIVE_STATUSES),
            col(VpsRow.deleted_at).is_(None),
            col(VpsRow.expire_date).is_not(None),
            col(VpsRow.expire_date) <= today + timedelta(days=max(thresholds)),
            col(VpsRow.expire_date) >= today - timedelta(days=settings.notify_overdue_days),
        )
        .order_by(col(VpsRow.expire_date), col(VpsRow.hostname), col(VpsRow.id))
    )
    out = []
    for r in rows:
        days = (r.expire_date - today).days
        threshold = OVERDUE if days < 0 else min(t for t in thresholds if days <= t)
        out.append(Due(**_about(r, today), threshold=threshold))
    return out + quota_due(session, today) + reach_due(session, today)


def quota_due(session: Session, today: date) -> list[Due]:
    """The active VPS whose traffic this period reached a threshold of their quota."""
    from sigma.services import traffic

    since = today - timedelta(days=31)  # no current period began earlier
    rows = session.execute(
        select(
            *_identity(),
            col(VpsRow.traffic_reset_day),
            col(VpsRow.traffic_quota_gb),
            col(VpsRow.traffic_direction),
            col(VpsTraffic.period_start),
            col(VpsTraffic.bytes_in),
            col(VpsTraffic.bytes_out),
        )
        .join(VpsTraffic, col(VpsTraffic.vps_id) == VpsRow.id)
        .outerjoin(ProviderRow, col(ProviderRow.id) == VpsRow.provider_id)
        .where(
            col(VpsRow.status).in_(ACTIVE_STATUSES),
            col(VpsRow.deleted_at).is_(None),
            col(VpsRow.traffic_quota_gb).is_not(None),
            col(VpsTraffic.alerted) > 0,
            col(VpsTraffic.period_start) >= since,
        )
        .order_by(col(VpsRow.hostname), col(VpsRow.id))
    )
    out = []
    for r in rows:
        if r.period_start != traffic.period_start(today, r.traffic_reset_day):
            continue
        used = traffic.used_bytes(r.bytes_in, r.bytes_out, r.traffic_direction)
        reached = traffic.level(used, r.traffic_quota_gb)
        if not reached:
            continue
        out.append(
            Due(
                **_about(r, today),
                threshold=reached,
                family="quota",
                period_start=r.period_start,
                used_bytes=used,
                quota_gb=r.traffic_quota_gb,
                direction=r.traffic_direction,
            )
        )
    return out


REACH_EVENTS = ("reach-alert", "reach-recovered")


def reach_due(session: Session, today: date) -> list[Due]:
    """Latency and loss alerts and recoveries (services.reach_alerts) of the last day."""
    from sigma.db.models.monitoring import VpsEvent

    rows = session.execute(
        select(VpsEvent, *_identity())
        .join(VpsRow, col(VpsRow.id) == VpsEvent.vps_id)
        .outerjoin(ProviderRow, col(ProviderRow.id) == VpsRow.provider_id)
        .where(
            col(VpsEvent.kind).in_(REACH_EVENTS),
            col(VpsEvent.created_at)
            >= datetime.combine(today - timedelta(days=1), time_of_day.min, UTC),
            col(VpsRow.deleted_at).is_(None),
        )
        .order_by(col(VpsEvent.created_at), col(VpsEvent.id))
    )
    return [
        Due(
            **_about(r, today),
            threshold=0,
            family=f"reach:{r.VpsEvent.id}",
            event=r.VpsEvent.kind,
            details=dict(r.VpsEvent.details or {}),
            at=r.VpsEvent.created_at.astimezone(UTC).date(),
        )
        for r in rows
    ]


# ---------------------------------------------------------------- message formats


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _gb(n: int) -> str:
    return f"{n / BYTES_PER_GB:,.1f}"


def _days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n} days"


def telegram_block(d: Due) -> str:
    """The contract's five lines, HTML-escaped (a hostname like a<b> stays text); a quota
    notice says the traffic used in place of the expiry, an alert the address, carrier and
    figure."""
    e = html.escape
    host = e(d.hostname) + (f" ({e(_short(d.alias))})" if d.alias else "")
    items = [e(i["ip"]) + (f" ({e(i['label'])})" if i.get("label") else "") for i in d.ips]
    ips = ", ".join(items)
    if len(ips) > IP_LINE_LIMIT:
        shown: list[str] = []
        for item in items:
            if len(", ".join([*shown, item])) > IP_LINE_LIMIT - 20:
                break
            shown.append(item)
        ips = ", ".join(shown) + f" … (+{len(items) - len(shown)} more)"
    if d.event:
        x = d.details or {}
        unit = " ms" if x.get("metric") == "latency" else " %"
        what = "Latency" if x.get("metric") == "latency" else "Loss"
        carrier, value, limit = (e(str(x.get(k))) for k in ("carrier", "value", "threshold"))
        if d.event == "reach-alert":
            head = f"📉 <b>VPS {what} Alert</b>"
            when = f"{what} from {carrier}: <b>{value}{unit}</b> &gt; {limit}{unit}"
        else:
            head = f"✅ <b>VPS {what} Recovered</b>"
            when = f"{what} from {carrier}: <b>{value}{unit}</b> (threshold {limit}{unit})"
        ips = e(str(x.get("ip", "")))
    elif d.family == "quota":
        head = f"📶 <b>VPS Traffic at {d.threshold}% of Quota</b>"
        when = (
            f"Traffic ({d.direction}): <b>{_gb(d.used_bytes)} of {d.quota_gb} GB</b> "
            f"since {d.day.isoformat()}"
        )
    elif d.threshold == OVERDUE:
        head = "🚨 <b>VPS Overdue</b>"
        when = f"Expired: <b>{d.day.isoformat()}</b> ({_days(-(d.days or 0))} ago)"
    else:
        head = "⚠️ <b>VPS Expiring Soon</b>"
        when = f"Expires: <b>{d.day.isoformat()}</b> ({_days(d.days or 0)})"
    return "\n".join(
        [
            head,
            f"Host: <code>{host}</code>",
            f"Provider: {e(_short(d.provider))} / {e(d.country)}",
            f"IPs: <code>{ips}</code>",
            when,
        ]
    )


def pack(blocks: list[str], limit: int = TELEGRAM_LIMIT) -> list[list[int]]:
    """Group blocks (by index) into messages shorter than `limit` characters, blank line
    between blocks; a block is never split (a block is far below the limit)."""
    messages: list[list[int]] = []
    size = 0
    for i, block in enumerate(blocks):
        extra = len(block) + (2 if messages and messages[-1] else 0)
        if messages and messages[-1] and size + extra < limit:
            messages[-1].append(i)
            size += extra
        else:
            messages.append([i])
            size = len(block)
    return messages


def webhook_payload(d: Due) -> dict[str, Any]:
    """The contract's JSON; a quota notice (event vps_traffic_quota) adds the period, the
    bytes used and the quota."""
    event = {
        "quota": "vps_traffic_quota",
        "overdue": "vps_overdue",
        "reach-alert": "vps_reach_alert",
        "reach-recovered": "vps_reach_recovered",
    }.get(d.kind, "vps_expiring")
    payload: dict[str, Any] = {
        "event": event,
        "hostname": d.hostname,
        "alias": d.alias,
        "provider": d.provider,
        "country": d.country,
        "ip_addresses": [{"ip": i["ip"], "label": i.get("label", "")} for i in d.ips],
        "expire_date": d.expire_date.isoformat() if d.expire_date else None,
        "days_remaining": d.days,
        "vps_id": str(d.vps_id),
        "threshold": d.threshold,
    }
    if d.event:
        payload |= {k: v for k, v in (d.details or {}).items() if k != "hostname"}
    if d.family == "quota":
        payload |= {
            "period_start": d.day.isoformat(),
            "used_bytes": d.used_bytes,
            "quota_gb": d.quota_gb,
            "direction": d.direction,
        }
    return payload


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- senders


class SendFailed(Exception):
    pass


def _post(
    http: Any,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    what: str,
    sleep: Callable[[float], None],
) -> None:
    """POST with Telegram-style 429 handling: wait `retry_after` (body or Retry-After) and retry."""
    import httpx

    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            resp = http.post(url, content=content, headers=headers)
        except httpx.HTTPError as exc:  # the URL may hold the bot token: never print it
            raise SendFailed(f"{what}: {type(exc).__name__}") from None
        if resp.status_code == 429 and attempt < MAX_ATTEMPTS:
            wait = _retry_after(resp)
            if wait > MAX_RETRY_WAIT:
                raise SendFailed(f"{what}: rate limited for {wait:.0f}s")
            log.info("%s: rate limited, retrying in %.0fs", what, wait)
            sleep(wait)
            continue
        if resp.status_code >= 300:
            detail = ""
            try:
                body = resp.json()
                detail = str(body.get("description", ""))[:200] if isinstance(body, dict) else ""
            except ValueError:
                pass
            raise SendFailed(f"{what}: HTTP {resp.status_code}" + (f" {detail}" if detail else ""))
        return
    raise SendFailed(f"{what}: still rate limited after {MAX_ATTEMPTS} attempts")


def _retry_after(resp: Any) -> float:
    try:
        body = resp.json()
        value = body.get("parameters", {}).get("retry_after") if isinstance(body, dict) else None
        if value is not None:
            return max(float(value), 0.0)
    except (ValueError, AttributeError, TypeError):
        pass
    try:
        return max(float(resp.headers.get("retry-after", "1")), 0.0)
    except ValueError:
        return 1.0


def send_telegram(
    http: Any, settings: Settings, text: str, sleep: Callable[[float], None] = time.sleep
) -> None:
    url = f"{settings.telegram_api_base.rstrip('/')}/bot{settings.telegram_bot_token}/sendMessage"
    body = json.dumps(
        {
            "chat_id": settings.telegram_chat_id,
            "text": text,
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        },
        ensure_ascii=False,
    ).encode()
    _post(
        http,
        url,
        content=body,
        headers={"Content-Type": "application/json"},
        what="telegram",
        sleep=sleep,
    )


def send_webhook(
    http: Any,
    settings: Settings,
    payload: dict[str, Any],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "sigma-notify",
        "X-Sigma-Event": payload["event"],
    }
    if settings.webhook_secret:
        headers["X-Sigma-Signature-256"] = sign(settings.webhook_secret, body)
    _post(
        http, settings.webhook_url or "", content=body, headers=headers, what="webhook", sleep=sleep
    )


# ---------------------------------------------------------------- the run


def _key(d: Due, channel: str) -> ColumnElement[bool]:
    return and_(
        col(NotificationLog.kind) == d.family,
        col(NotificationLog.vps_id) == d.vps_id,
        col(NotificationLog.threshold) == d.threshold,
        col(NotificationLog.expire_date) == d.day,
        col(NotificationLog.channel) == channel,
    )


def _claim(session: Session, d: Due, channel: str) -> bool:
    """Insert the claim row; False when another process holds or finished it."""
    now = utcnow()
    row = session.scalar(select(NotificationLog).where(_key(d, channel)))
    if row is not None:
        if row.sent_at is not None or row.claimed_at > now - CLAIM_TIMEOUT:
            return False
        taken = session.execute(  # a crashed sender's claim: take it over, once
            update(NotificationLog)
            .where(
                col(NotificationLog.id) == row.id,
                col(NotificationLog.claimed_at) == row.claimed_at,
                col(NotificationLog.sent_at).is_(None),
            )
            .values(claimed_at=now)
            .returning(col(NotificationLog.id))
        ).scalar()
        return taken is not None
    values = dict(
        kind=d.family, vps_id=d.vps_id, threshold=d.threshold, expire_date=d.day, channel=channel
    )
    ignoring: Insert
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        ignoring = pg_insert(NotificationLog).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        ignoring = sqlite_insert(NotificationLog).on_conflict_do_nothing()
    import uuid

    # rowcount is not reliable here (psycopg reports -1): RETURNING says whether it was ours
    claimed = session.execute(
        ignoring.values(id=uuid.uuid4(), claimed_at=now, **values).returning(
            col(NotificationLog.id)
        )
    ).scalar()
    return claimed is not None


def _settle(sessions: sessionmaker[Session], items: list[Due], channel: str, ok: bool) -> None:
    with unit_of_work(sessions) as session:
        cond = or_(*(_key(d, channel) for d in items))
        if ok:
            session.execute(
                update(NotificationLog)
                .where(cond, col(NotificationLog.sent_at).is_(None))
                .values(sent_at=utcnow())
            )
        else:
            session.execute(
                delete(NotificationLog).where(cond, col(NotificationLog.sent_at).is_(None))
            )


def _notice(d: Due, channel: str, status: str, error: str | None = None) -> Notice:
    return Notice(
        vps_id=d.vps_id,
        hostname=d.hostname,
        kind=d.kind,
        threshold=d.threshold,
        expire_date=d.expire_date,
        days_remaining=d.days,
        period_start=d.period_start,
        used_bytes=d.used_bytes if d.family == "quota" else None,
        quota_gb=d.quota_gb if d.family == "quota" else None,
        channel=channel,
        status=status,
        error=error,
    )


def run(
    sessions: sessionmaker[Session],
    actor: Actor,
    settings: Settings,
    dry_run: bool = False,
    today: date | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyReport:
    """One notification run (no lock: see run_locked)."""
    actor.require(WRITERS)
    today = today or utcnow().date()
    chans = channels(settings)
    with unit_of_work(sessions) as session:
        dues = due(session, settings, today)
        done: set[tuple[str, Any, int, date, str]] = set()
        if dues:
            ids = list({d.vps_id for d in dues})
            for row in session.scalars(
                select(NotificationLog).where(
                    col(NotificationLog.vps_id).in_(ids), col(NotificationLog.sent_at).is_not(None)
                )
            ):
                done.add((row.kind, row.vps_id, row.threshold, row.expire_date, row.channel))
    notices: list[Notice] = []
    already = 0
    todo: dict[str, list[Due]] = {}
    for channel in chans:
        for d in dues:
            if (d.family, d.vps_id, d.threshold, d.day, channel) in done:
                already += 1
            else:
                todo.setdefault(channel, []).append(d)
    if dry_run:
        notices = [_notice(d, c, "pending") for c, items in todo.items() for d in items]
        if not chans:  # what would be sent once a channel is configured
            notices = [_notice(d, "(none)", "pending") for d in dues]
        return NotifyReport(
            dry_run=True, channels=chans, notices=notices, sent=0, failed=0, already_sent=already
        )

    claimed: dict[str, list[Due]] = {}
    with unit_of_work(sessions) as session:
        for channel, items in todo.items():
            for d in items:
                if _claim(session, d, channel):
                    claimed.setdefault(channel, []).append(d)
                else:
                    already += 1
    if claimed:
        import httpx

        with httpx.Client(timeout=15.0) as http:
            for channel, items in claimed.items():
                if channel == "telegram":
                    blocks = [telegram_block(d) for d in items]
                    for group in pack(blocks):
                        batch = [items[i] for i in group]
                        notices += _deliver(
                            sessions,
                            batch,
                            channel,
                            partial(
                                send_telegram,
                                http,
                                settings,
                                "\n\n".join(blocks[i] for i in group),
                                sleep,
                            ),
                        )
                else:
                    for d in items:
                        notices += _deliver(
                            sessions,
                            [d],
                            channel,
                            partial(send_webhook, http, settings, webhook_payload(d), sleep),
                        )
    sent = sum(n.status == "sent" for n in notices)
    failed = sum(n.status == "failed" for n in notices)
    if sent or failed:
        log.info("notifications: %d sent, %d failed, %d already sent", sent, failed, already)
    return NotifyReport(
        dry_run=False,
        channels=chans,
        notices=notices,
        sent=sent,
        failed=failed,
        already_sent=already,
    )


def _deliver(
    sessions: sessionmaker[Session], batch: list[Due], channel: str, send: Callable[[], None]
) -> list[Notice]:
    try:
        send()
    except SendFailed as exc:
        log.warning("notification not sent (%s); it will be retried next run", exc)
        _settle(sessions, batch, channel, ok=False)
        return [_notice(d, channel, "failed", str(exc)) for d in batch]
    _settle(sessions, batch, channel, ok=True)
    return [_notice(d, channel, "sent") for d in batch]


def run_locked(
    sessions: sessionmaker[Session],
    actor: Actor,
    settings: Settings,
    dry_run: bool = False,
    today: date | None = None,
    now: datetime | None = None,
) -> NotifyReport:
    """`sigma notify run` and POST /api/notify/run: the run under the job's lease, with the
    Apprise notices of attention items (services.notices, under its own lease) when
    notify_urls is set."""
    from sigma.services import notices

    actor.require(WRITERS)
    legacy = bool(channels(settings)) or not settings.notify_urls
    if dry_run:
        report = (
            run(sessions, actor, settings, dry_run=True, today=today)
            if legacy
            else NotifyReport(
                dry_run=True, channels=[], notices=[], sent=0, failed=0, already_sent=0
            )
        )
        return _with_notices(report, settings, notices.run(sessions, actor, settings, True, now))
    if not channels(settings) and not settings.notify_urls:
        raise InvalidInput(
            "no notification channel configured: set notify_urls (Apprise URLs), "
            "telegram_bot_token and telegram_chat_id, or webhook_url (see `sigma config`)",
            field="channels",
        )
    from sigma.db.leases import lease

    busy = "another sigma process is sending notifications right now; try again shortly"
    with lease(sessions, JOB_NAME, ttl=600) as held:
        if not held:
            raise Conflict(busy)
        report = (
            run(sessions, actor, settings, today=today)
            if channels(settings)
            else NotifyReport(
                dry_run=False, channels=[], notices=[], sent=0, failed=0, already_sent=0
            )
        )
        if not settings.notify_urls:
            return report
        with lease(sessions, notices.JOB_NAME, ttl=600) as held_too:
            if not held_too:
                raise Conflict(busy)
            return _with_notices(report, settings, notices.run(sessions, actor, settings, now=now))


def _with_notices(
    report: NotifyReport, settings: Settings, deliveries: list[ChannelNotice]
) -> NotifyReport:
    """The report of the legacy channels with the Apprise notices added (and counted)."""
    from sigma.services import notices

    report.channels += [c.label for c in notices.channels(settings)]
    report.deliveries = deliveries
    report.sent += sum(d.status == "sent" for d in deliveries)
    report.failed += sum(d.status == "failed" for d in deliveries)
    return report


def job(sessions: sessionmaker[Session], settings: Settings) -> None:
    """The scheduled job inside `sigma serve` (the scheduler holds its lease)."""
    from sigma.services.actor import SYSTEM

    if not channels(settings):
        return
    run(sessions, SYSTEM, settings)
