"""An iCalendar (RFC 5545) feed of VPS expiry dates: one all-day event per VPS that is not
retired and has an expiry date, with a reminder a few days before. UIDs and DTSTAMPs are
stable (id + date, the VPS's last change), so subscribed calendars do not churn."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sigma.db.models import Provider as ProviderRow
from sigma.db.models import Vps as VpsRow
from sigma.services.actor import READERS, Actor

PRODID = "-//sigma//VPS expiry calendar//EN"
REMIND_DAYS = 3


def escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    limit = 75
    while raw:
        cut = min(limit, len(raw))
        while cut < len(raw) and (raw[cut] & 0xC0) == 0x80:  # continuation byte: back off
            cut -= 1
        parts.append(raw[:cut].decode("utf-8"))
        raw = raw[cut:]
        limit = 74  # the leading space of a continuation line counts
    return "\r\n ".join(parts)


def calendar(session: Session, actor: Actor) -> str:
    actor.require(READERS)
    rows = session.execute(
        select(
            VpsRow.id, VpsRow.hostname, VpsRow.alias, VpsRow.status, VpsRow.country,
            VpsRow.ip_addresses, VpsRow.expire_date, VpsRow.cost_monthly, VpsRow.currency,
            VpsRow.updated_at, ProviderRow.name.label("provider"),
        )
        .outerjoin(ProviderRow, ProviderRow.id == VpsRow.provider_id)
        .where(VpsRow.status != "retired", VpsRow.expire_date.is_not(None))
        .order_by(VpsRow.expire_date, VpsRow.hostname, VpsRow.id)
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:sigma VPS expiry",
        "X-PUBLISHED-TTL:PT1H",
    ]
    for r in rows:
        name = r.hostname + (f" ({r.alias})" if r.alias else "")
        summary = f"VPS expires: {name}" + (f" [{r.provider}]" if r.provider else "")
        details = [
            f"Host: {name}",
            f"Provider: {r.provider or '-'} / {r.country or '-'}",
            "IPs: " + (", ".join(e["ip"] + (f" ({e['label']})" if e.get("label") else "") for e in r.ip_addresses or ()) or "-"),
            f"Status: {r.status}",
        ]
        if r.cost_monthly is not None:
            details.append(f"Cost: {r.cost_monthly:.2f} {r.currency}/month")
        stamp = (r.updated_at or r.expire_date).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        day = r.expire_date.strftime("%Y%m%d")
        lines += [
            "BEGIN:VEVENT",
            f"UID:{r.id}-{day}@sigma",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{day}",
            f"DTEND;VALUE=DATE:{(r.expire_date + timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY:{escape(summary)}",
            f"DESCRIPTION:{escape(chr(10).join(details))}",
            "CATEGORIES:sigma,VPS expiry",
            "TRANSP:TRANSPARENT",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{escape(summary)}",
            f"TRIGGER:-P{REMIND_DAYS}D",
            "END:VALARM",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
