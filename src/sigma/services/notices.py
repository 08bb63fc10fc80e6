"""Notices of attention items on every channel (issue 18), delivered through Apprise to the
URLs of the setting notify_urls; services.notify keeps the Telegram and webhook notices.

What goes where. The items are `services.attention.current()`. For each channel (a URL of
notify_urls) the rules of notify_rules that name it (by position, or `*`) say which kinds
and severities it takes and how: `instant` (the default) or in the daily `digest`. A URL no
rule names takes every item at once; no rules at all: every URL takes every item at once.

- An open item (not acknowledged, not snoozed) is announced once per fingerprint: a new
  item, or one whose facts changed, is announced; one already announced is not.
- An item announced earlier that is no longer there at all (an acknowledged or snoozed item
  is still there) gets a recovery notice, once.
- Each run sends at most one message per channel with every announcement and recovery due
  (the title counts them; the body is grouped by kind, LINES_PER_KIND lines each, then
  "and N more"), and, on a channel with a digest rule, one digest a day: the first run at or
  after notify_digest_at (in notify_timezone) sends every open item the digest rules take.
- Quiet hours (notify_quiet_hours, in notify_timezone): announcements of warning and info
  items, and recoveries, wait until the first run after the quiet hours; critical items are
  announced at once. The digest is sent at its time, quiet or not (its time is chosen).

Exactly once, across restarts and replicas: each (channel, item key, fingerprint, event
open/recovered/digest) is a row of notice_deliveries, claimed (status `sending`) in a
committed transaction of its own before the message that carries it is sent, then `sent`;
a failed send marks it `failed` with the reason (secrets scrubbed) and `next_attempt_at`
(BACKOFF_BASE doubled at each attempt, at most BACKOFF_MAX), and a run at or after that time
claims it again. A claim left `sending` by a crashed process is taken over after
CLAIM_TIMEOUT. Each channel is sent to in a thread of its own with Apprise's socket
timeouts: a failing or hanging channel never holds the others back. A channel is named in the
database by a digest of its URL (never the URL), and shown by its masked label.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from sigma import notify_urls
from sigma.db.engine import unit_of_work
from sigma.db.models.notify import NoticeDelivery
from sigma.db.types import utcnow
from sigma.errors import InvalidInput
from sigma.schemas.attention import SEVERITIES, Item
from sigma.schemas.notify import ChannelNotice, NoticeLogEntry, NotifyTestResult
from sigma.services import audit
from sigma.services.actor import ADMINS, WRITERS, Actor
from sigma.settings import NotifyRule, Settings, parse_hh_mm, parse_notify_rule

log = logging.getLogger("sigma.notices")

JOB_NAME = "attention-notices"
CLAIM_TIMEOUT = timedelta(minutes=10)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
RETENTION = timedelta(days=90)  # settled rows older than this are deleted
LINES_PER_KIND = 10
SUMMARY_LIMIT = 200
ERROR_LIMIT = 500
MAX_WORKERS = 8
DIGEST_KEY = "digest"

KIND_LABELS = {
    "overdue": "VPS overdue",
    "expiring": "VPS expiring",
    "blocked": "IPs blocked",
    "port-blocked": "IPs port-blocked",
    "tls-blocked": "IPs TLS-blocked",
    "down": "IPs down",
    "degraded": "IPs degraded",
    "agent-offline": "agents offline",
    "probe-unhealthy": "probes unhealthy",
    "reach-alert": "latency or loss alerts",
    "ticket": "tickets",
    "duplicate": "possible duplicates",
    "quota": "VPS over a traffic quota share",
    "missing-data": "VPS with missing data",
}
RANK = {s: i for i, s in enumerate(SEVERITIES)}


# ---------------------------------------------------------------- channels and the clock


@dataclass(frozen=True)
class Channel:
    url: str = field(repr=False)  # holds the service's secrets: never shown
    id: str
    label: str
    position: int
    rules: tuple[NotifyRule, ...]  # empty: every item at once

    def routes(self, kind: str, severity: str) -> set[str]:
        """How this channel takes an item of this kind and severity: instant, digest, both
        or neither."""
        if not self.rules:
            return {"instant"}
        return {
            "digest" if r.digest else "instant" for r in self.rules if r.matches(kind, severity)
        }

    @property
    def has_digest(self) -> bool:
        return any(r.digest for r in self.rules)


def channels(settings: Settings) -> list[Channel]:
    rules = [parse_notify_rule(t, i) for i, t in enumerate(settings.notify_rules, 1)]
    out: dict[str, Channel] = {}
    for pos, url in enumerate(settings.notify_urls, 1):
        cid = notify_urls.channel_id(url)
        if cid in out:  # the same URL twice is one channel
            continue
        mine = tuple(r for r in rules if r.targets is None or pos in r.targets)
        out[cid] = Channel(url, cid, notify_urls.label(url), pos, mine)
    return list(out.values())


@dataclass(frozen=True)
class Clock:
    now: datetime  # aware
    zone: ZoneInfo
    digest_at: time_of_day
    quiet: tuple[time_of_day, time_of_day] | None

    @classmethod
    def of(cls, settings: Settings, now: datetime | None = None) -> Clock:
        now = now or utcnow()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        quiet = None
        if settings.notify_quiet_hours:
            start, _, end = settings.notify_quiet_hours.partition("-")
            quiet = (parse_hh_mm(start), parse_hh_mm(end))
        return cls(
            now, ZoneInfo(settings.notify_timezone), parse_hh_mm(settings.notify_digest_at), quiet
        )

    @property
    def local(self) -> datetime:
        return self.now.astimezone(self.zone)

    def quiet_until(self) -> datetime | None:
        """The end of the quiet hours when now is within them (local time), else None."""
        if self.quiet is None:
            return None
        start, end = self.quiet
        local = self.local
        t = local.time().replace(tzinfo=None)
        inside = start <= t < end if start < end else (t >= start or t < end)
        if not inside:
            return None
        day = local.date() if t < end else local.date() + timedelta(days=1)
        return datetime.combine(day, end, self.zone)

    def digest_day(self) -> date | None:
        """The local day whose digest is due now (None before notify_digest_at)."""
        local = self.local
        return local.date() if local.time().replace(tzinfo=None) >= self.digest_at else None


def _clean(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """One line of plain text: control characters become spaces, bounded."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- the plan


@dataclass
class Planned:
    """One (channel, item, event) this run is about."""

    channel: Channel
    key: str
    fingerprint: str
    event: str  # open, recovered, digest
    kind: str
    severity: str
    summary: str
    why: str  # instant, recovery, digest, retry, held: quiet hours..., waiting: retry at...
    status: str  # due, held, waiting
    row_id: uuid.UUID | None = None  # the existing row (a retry, a stale claim)
    seen: tuple[str, datetime] | None = None  # its (status, claimed_at) when read
    attempts: int = 0
    items: list[Item] = field(default_factory=list)  # a digest's items


def _items(session: Session, now: datetime, items: Sequence[Item] | None) -> list[Item]:
    if items is not None:
        return list(items)
    from sigma.services import attention

    return attention.current(session, now)


def _rows(session: Session, ids: list[str]) -> list[NoticeDelivery]:
    return list(session.scalars(select(NoticeDelivery).where(col(NoticeDelivery.channel).in_(ids))))


def plan(
    session: Session, settings: Settings, clock: Clock, items: Sequence[Item] | None = None
) -> list[Planned]:
    """Every announcement, recovery and digest of this run, due or not (held by the quiet
    hours, waiting for a retry), per channel; nothing is written."""
    chans = channels(settings)
    if not chans:
        return []
    found = _items(session, clock.now, items)
    present = {i.key for i in found}
    open_items = [i for i in found if i.state == "open"]
    rows: dict[tuple[str, str, str, str], NoticeDelivery] = {}
    announced: dict[str, list[NoticeDelivery]] = {}
    for r in _rows(session, [c.id for c in chans]):
        rows[(r.channel, r.item_key, r.fingerprint, r.event)] = r
        if r.event == "open" and r.status == "sent" and r.resolved_at is None:
            announced.setdefault(r.channel, []).append(r)
    quiet_until = clock.quiet_until()
    out: list[Planned] = []

    def entry(
        ch: Channel,
        key: str,
        fp: str,
        event: str,
        kind: str,
        sev: str,
        summary: str,
        why: str,
        held: bool,
    ) -> Planned | None:
        row = rows.get((ch.id, key, fp, event))
        p = Planned(ch, key, fp, event, kind, sev, _clean(summary), why, "due")
        if row is not None:
            if row.status == "sent":
                return None
            claimed = _aware(row.claimed_at)
            if row.status == "sending" and claimed > clock.now - CLAIM_TIMEOUT:
                return None  # another process is sending it right now
            p.row_id, p.seen, p.attempts = row.id, (row.status, row.claimed_at), row.attempts
            if row.status == "failed":
                at = _aware(row.next_attempt_at) if row.next_attempt_at else clock.now
                if at > clock.now:
                    p.status, p.why = (
                        "waiting",
                        f"waiting: retry {row.attempts + 1} at {at:%Y-%m-%d %H:%M} UTC",
                    )
                    return p
                p.why = f"retry {row.attempts + 1}"
        if held and quiet_until is not None:
            p.status, p.why = (
                "held",
                f"held: quiet hours until {quiet_until:%H:%M} {clock.zone.key}",
            )
        return p

    day = clock.digest_day()
    for ch in chans:
        for i in open_items:
            if "instant" in ch.routes(i.kind, i.severity):
                p = entry(
                    ch,
                    i.key,
                    i.fingerprint,
                    "open",
                    i.kind,
                    i.severity,
                    i.summary,
                    "instant",
                    held=i.severity != "critical",
                )
                if p:
                    out.append(p)
        for r in announced.get(ch.id, []):
            if r.item_key in present or "instant" not in ch.routes(r.kind, r.severity):
                continue
            p = entry(
                ch,
                r.item_key,
                r.fingerprint,
                "recovered",
                r.kind,
                r.severity,
                r.summary,
                "recovery",
                held=True,
            )
            if p:
                out.append(p)
        if ch.has_digest and day is not None:
            mine = [i for i in open_items if "digest" in ch.routes(i.kind, i.severity)]
            worst = min((RANK.get(i.severity, 9) for i in mine), default=len(SEVERITIES) - 1)
            p = entry(
                ch,
                DIGEST_KEY,
                day.isoformat(),
                "digest",
                "digest",
                SEVERITIES[worst],
                f"{len(mine)} item(s)",
                f"digest of {day.isoformat()}",
                held=False,
            )
            if p:
                p.items = mine
                out.append(p)
    return out


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# ---------------------------------------------------------------- messages


def _plural(n: int, word: str) -> str:
    return f"{n} {word}"


def _counts(entries: Iterable[Any]) -> str:
    by: dict[str, int] = {}
    for e in entries:
        by[e.severity] = by.get(e.severity, 0) + 1
    return ", ".join(f"{by[s]} {s}" for s in SEVERITIES if by.get(s))


def _sections(entries: Sequence[Any], limit: int = LINES_PER_KIND) -> list[str]:
    """Grouped by kind, worst kinds first: 'N VPS expiring', up to `limit` lines, 'and N more'."""
    groups: dict[str, list[Any]] = {}
    for e in entries:
        groups.setdefault(e.kind, []).append(e)
    order = sorted(
        groups,
        key=lambda k: (min(RANK.get(e.severity, 9) for e in groups[k]), -len(groups[k]), k),
    )
    out = []
    for k in order:
        group = sorted(groups[k], key=lambda e: (RANK.get(e.severity, 9), e.summary))
        lines = [f"{len(group)} {KIND_LABELS.get(k, k)}"]
        for e in group[:limit]:
            mark = "!" if e.severity == "critical" else "-"
            lines.append(f"{mark} {_clean(e.summary)}")
        if len(group) > limit:
            lines.append(f"and {len(group) - limit} more")
        out.append("\n".join(lines))
    return out


def compose(opens: Sequence[Any], recoveries: Sequence[Any]) -> tuple[str, str, str]:
    """(title, body, Apprise notify type) of a run's message to one channel."""
    parts = []
    if opens:
        parts.append(f"{len(opens)} need attention ({_counts(opens)})")
    if recoveries:
        parts.append(f"{len(recoveries)} recovered")
    title = "sigma: " + ", ".join(parts)
    body = _sections(opens)
    if recoveries:
        lines = [f"Recovered ({len(recoveries)})"]
        lines += [f"+ {_clean(r.summary)}" for r in recoveries[:LINES_PER_KIND]]
        if len(recoveries) > LINES_PER_KIND:
            lines.append(f"and {len(recoveries) - LINES_PER_KIND} more")
        body.append("\n".join(lines))
    return title, "\n\n".join(body), _notify_type(opens, bool(recoveries))


def compose_digest(day: str, items: Sequence[Any]) -> tuple[str, str, str]:
    if not items:
        return (
            f"sigma daily digest {day}: nothing needs attention",
            "Nothing needs attention.",
            "success",
        )
    title = f"sigma daily digest {day}: {len(items)} need attention ({_counts(items)})"
    return title, "\n\n".join(_sections(items)), _notify_type(items, False)


def _notify_type(opens: Sequence[Any], recovered: bool) -> str:
    sevs = {e.severity for e in opens}
    if "critical" in sevs:
        return "failure"
    if "warning" in sevs:
        return "warning"
    return "success" if recovered and not opens else "info"


# ---------------------------------------------------------------- sending


_SERIAL = threading.Lock()  # Apprise 1.x: one send at a time, so its log is this send's
WARNING_LEVELS = {"WARNING", "ERROR", "CRITICAL", "DEPRECATION WARNING"}


class _Capture(logging.Handler):
    """Apprise 1.x (no per-call log): its warnings and errors while one send runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def send(url: str, title: str, body: str, notify_type: str = "info") -> str | None:
    """Send one message to one Apprise URL; None when it went, else why not (scrubbed).

    Why: Apprise answers a bool (or a result that is one) and logs the reason; Apprise 2
    hands each call its own log lines (log_callback), Apprise 1 logs to the `apprise` logger,
    read here while sends run one at a time."""
    import inspect

    apprise = notify_urls._quiet_apprise()
    lines: list[str] = []
    per_call = "log_callback" in inspect.signature(apprise.Apprise.notify).parameters

    def collect(entry: Any, plugin: Any = None) -> None:
        if str(getattr(entry, "level", "")).upper() in WARNING_LEVELS:
            lines.append(str(getattr(entry, "message", entry)))

    def attempt() -> bool:
        a = apprise.Apprise(asset=apprise.AppriseAsset(app_id="sigma", app_desc="sigma"))
        if not a.add(url):
            lines.append("Apprise cannot read this URL")
            return False
        kw: dict[str, Any] = {"log_callback": collect} if per_call else {}
        return bool(
            a.notify(body=body, title=title, notify_type=notify_type, body_format="text", **kw)
        )

    try:
        if per_call:
            ok = attempt()
        else:
            handler = _Capture()
            logger = logging.getLogger("apprise")
            with _SERIAL:
                logger.addHandler(handler)
                try:
                    ok = attempt()
                finally:
                    logger.removeHandler(handler)
            lines += handler.lines
    except Exception as exc:  # noqa: BLE001 - a plugin's own failure is this channel's failure
        return notify_urls.scrub(f"{type(exc).__name__}: {exc}", url)[:ERROR_LIMIT]
    if ok:
        return None
    reason = "; ".join(dict.fromkeys(lines)) or "the service refused the message"
    return notify_urls.scrub(reason, url)[:ERROR_LIMIT]


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 2, 4... minutes, at most 6 hours."""
    wait: timedelta = BACKOFF_BASE * (2 ** max(0, min(attempts - 1, 20)))
    return min(BACKOFF_MAX, wait)


def _insert(session: Session) -> Insert:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(NoticeDelivery).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(NoticeDelivery).on_conflict_do_nothing()


def _claim(sessions: sessionmaker[Session], entries: list[Planned], now: datetime) -> list[Planned]:
    """Claim the rows of `entries` in one committed transaction; the ones won."""
    won: list[Planned] = []
    with unit_of_work(sessions) as session:
        fresh = [e for e in entries if e.row_id is None]
        for start in range(0, len(fresh), 500):
            chunk = fresh[start : start + 500]
            values = [
                dict(
                    id=uuid.uuid4(),
                    channel=e.channel.id,
                    channel_label=e.channel.label,
                    item_key=e.key,
                    fingerprint=e.fingerprint,
                    event=e.event,
                    kind=e.kind,
                    severity=e.severity,
                    summary=e.summary,
                    status="sending",
                    attempts=1,
                    claimed_at=now,
                )
                for e in chunk
            ]
            got = {
                (r.item_key, r.fingerprint, r.event): r.id
                for r in session.execute(
                    _insert(session)
                    .values(values)
                    .returning(
                        col(NoticeDelivery.id),
                        col(NoticeDelivery.item_key),
                        col(NoticeDelivery.fingerprint),
                        col(NoticeDelivery.event),
                    )
                )
            }
            for e in chunk:
                if (rid := got.get((e.key, e.fingerprint, e.event))) is not None:
                    e.row_id, e.attempts = rid, 1
                    won.append(e)
        for e in entries:
            if e.seen is None:
                continue
            taken = session.execute(
                update(NoticeDelivery)
                .where(
                    col(NoticeDelivery.id) == e.row_id,
                    col(NoticeDelivery.status) == e.seen[0],
                    col(NoticeDelivery.claimed_at) == e.seen[1],
                )
                .values(status="sending", claimed_at=now, attempts=NoticeDelivery.attempts + 1)
                .returning(col(NoticeDelivery.attempts))
            ).scalar()
            if taken is not None:
                e.attempts = taken
                won.append(e)
    return won


def _settle(
    sessions: sessionmaker[Session], entries: list[Planned], error: str | None, now: datetime
) -> None:
    with unit_of_work(sessions) as session:
        ids = [e.row_id for e in entries]
        if error is None:
            session.execute(
                update(NoticeDelivery)
                .where(col(NoticeDelivery.id).in_(ids))
                .values(status="sent", sent_at=now, next_attempt_at=None, last_error=None)
            )
            for e in entries:
                same = and_(
                    col(NoticeDelivery.channel) == e.channel.id,
                    col(NoticeDelivery.item_key) == e.key,
                    col(NoticeDelivery.event) == "open",
                    col(NoticeDelivery.resolved_at).is_(None),
                )
                if e.event == "recovered":  # the announcement it answers, and itself
                    session.execute(
                        update(NoticeDelivery)
                        .where(
                            or_(
                                and_(same, col(NoticeDelivery.fingerprint) == e.fingerprint),
                                col(NoticeDelivery.id) == e.row_id,
                            )
                        )
                        .values(resolved_at=now)
                    )
                elif e.event == "open":  # an older fingerprint of it is superseded
                    session.execute(
                        update(NoticeDelivery)
                        .where(
                            same,
                            col(NoticeDelivery.fingerprint) != e.fingerprint,
                            col(NoticeDelivery.status) == "sent",
                        )
                        .values(resolved_at=now)
                    )
            return
        for attempts in {e.attempts for e in entries}:
            session.execute(
                update(NoticeDelivery)
                .where(
                    col(NoticeDelivery.id).in_(
                        [e.row_id for e in entries if e.attempts == attempts]
                    )
                )
                .values(status="failed", last_error=error, next_attempt_at=now + backoff(attempts))
            )


def _deliver(
    sessions: sessionmaker[Session], ch: Channel, entries: list[Planned], clock: Clock
) -> list[ChannelNotice]:
    """Claim, send (one message, and the digest apart) and settle one channel's entries."""
    won = _claim(sessions, entries, clock.now)
    if not won:
        return []
    out: list[ChannelNotice] = []
    notices = [e for e in won if e.event != "digest"]
    messages: list[tuple[list[Planned], tuple[str, str, str]]] = []
    if notices:
        opens = [e for e in notices if e.event == "open"]
        recs = [e for e in notices if e.event == "recovered"]
        messages.append((notices, compose(opens, recs)))
    for d in (e for e in won if e.event == "digest"):
        messages.append(([d], compose_digest(d.fingerprint, d.items)))
    for batch, (title, body, kind) in messages:
        error = send(ch.url, title, body, kind)
        _settle(sessions, batch, error, clock.now)
        if error:
            log.warning("notice to %s not sent (%s); retried with backoff", ch.label, error)
        out += [_out(e, "failed" if error else "sent", error) for e in batch]
    return out


def _out(e: Planned, status: str, error: str | None = None) -> ChannelNotice:
    return ChannelNotice(
        channel=e.channel.label,
        channel_id=e.channel.id,
        item_key=e.key,
        kind=e.kind,
        severity=e.severity,
        summary=e.summary,
        event=e.event,
        why=e.why,
        status=status,
        attempts=e.attempts,
        error=error,
        items=len(e.items) if e.event == "digest" else None,
    )


# ---------------------------------------------------------------- the run


def run(
    sessions: sessionmaker[Session],
    actor: Actor,
    settings: Settings,
    dry_run: bool = False,
    now: datetime | None = None,
    items: Sequence[Item] | None = None,
) -> list[ChannelNotice]:
    """One run over every channel (no lock: services.notify.run_locked and the job hold the
    lease); `items` stands in for attention.current() in tests."""
    actor.require(WRITERS)
    clock = Clock.of(settings, now)
    with unit_of_work(sessions, read_only=dry_run) as session:
        planned = plan(session, settings, clock, items)
    if dry_run:
        return [_out(p, "pending" if p.status == "due" else p.status) for p in planned]
    out = [_out(p, p.status) for p in planned if p.status != "due"]
    per: dict[str, list[Planned]] = {}
    for p in planned:
        if p.status == "due":
            per.setdefault(p.channel.id, []).append(p)
    if per:
        chans = {c.id: c for c in channels(settings)}
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(per))) as pool:
            futures = [
                pool.submit(_deliver, sessions, chans[cid], entries, clock)
                for cid, entries in per.items()
            ]
            for f in futures:
                out += f.result()
    _prune(sessions, clock.now)
    sent = sum(n.status == "sent" for n in out)
    failed = sum(n.status == "failed" for n in out)
    if sent or failed:
        log.info("attention notices: %d sent, %d failed", sent, failed)
    return out


def _prune(sessions: sessionmaker[Session], now: datetime) -> None:
    """Settled rows older than RETENTION go: resolved announcements, old digests."""
    cutoff = now - RETENTION
    with unit_of_work(sessions) as session:
        session.execute(
            delete(NoticeDelivery).where(
                col(NoticeDelivery.claimed_at) < cutoff,
                or_(
                    col(NoticeDelivery.resolved_at).is_not(None),
                    col(NoticeDelivery.event) == "digest",
                ),
            )
        )


def job(sessions: sessionmaker[Session], settings: Settings) -> None:
    """The scheduled job inside `sigma serve` (the scheduler holds its lease)."""
    from sigma.services.actor import SYSTEM

    if settings.notify_urls:
        run(sessions, SYSTEM, settings)


# ---------------------------------------------------------------- faces


def test(
    sessions: sessionmaker[Session],
    actor: Actor,
    settings: Settings,
    url: str | None = None,
    all_channels: bool = False,
) -> list[NotifyTestResult]:
    """Send a test message to `url`, or to every configured channel. Any URL: admins only
    (the server would send wherever it is told); the configured ones: admins and operators."""
    actor.require(WRITERS)
    if (url is None) == (not all_channels):
        raise InvalidInput("give one URL, or --all for the configured ones", field="url")
    targets: list[tuple[str, str]] = []
    if url is not None:
        actor.require(ADMINS)
        url = url.strip()
        if why := notify_urls.problem(url):
            raise InvalidInput(f"url: {notify_urls.label(url)} {why}", field="url")
        targets.append((url, notify_urls.label(url)))
    else:
        targets = [(c.url, c.label) for c in channels(settings)]
        if not targets:
            raise InvalidInput(
                "no notify_urls configured (see `sigma config`)", field="notify_urls"
            )
    title = "sigma: test notice"
    body = "A test notice from sigma: this channel receives the attention notices."
    results = []
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(targets))) as pool:
        for (_url, shown), error in zip(
            targets, pool.map(lambda t: send(t[0], title, body, "info"), targets), strict=True
        ):
            results.append(NotifyTestResult(channel=shown, ok=error is None, error=error))
    with unit_of_work(sessions) as session:
        audit.record(
            session,
            actor,
            "test",
            "notify",
            None,
            {"channels": [r.channel for r in results], "failed": sum(not r.ok for r in results)},
        )
    return results


def delivery_log(
    session: Session, actor: Actor, failed: bool = False, limit: int = 50
) -> list[NoticeLogEntry]:
    """The deliveries, newest first; `failed`: only those whose last attempt failed."""
    actor.require(WRITERS)
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit: must be between 1 and 1000", field="limit")
    q = select(NoticeDelivery)
    if failed:
        q = q.where(col(NoticeDelivery.status) == "failed")
    q = q.order_by(col(NoticeDelivery.claimed_at).desc(), col(NoticeDelivery.id)).limit(limit)
    return [
        NoticeLogEntry(
            channel=r.channel_label,
            channel_id=r.channel,
            item_key=r.item_key,
            kind=r.kind,
            severity=r.severity,
            summary=r.summary,
            event=r.event,
            status=r.status,
            attempts=r.attempts,
            claimed_at=_aware(r.claimed_at),
            sent_at=_aware(r.sent_at) if r.sent_at else None,
            next_attempt_at=_aware(r.next_attempt_at) if r.next_attempt_at else None,
            error=r.last_error,
        )
        for r in session.scalars(q)
    ]
