"""An iCalendar (RFC 5545) feed of VPS expiry dates: one all-day event per VPS that is not
retired and has an expiry date, with a reminder a few days before. UIDs and DTSTAMPs are
stable (id + date, the VPS's last change), so subscribed calendars do not churn."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import label, select
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.core import Provider as ProviderRow
from sigma.db.models.core import Vps as VpsRow
from sigma.services.actor import READERS, Actor

PRODID = "-//sigma//VPS expiry calendar//EN"
REMIND_DAYS = 3


def calendar(session: Session, actor: Actor) -> str:
    actor.require(READERS)
    rows = session.execute(
        select(
            col(VpsRow.id),
            col(VpsRow.hostname),
            col(VpsRow.alias),
            col(VpsRow.status),
            col(VpsRow.country),
            col(VpsRow.ip_addresses),
            col(VpsRow.expire_date),
            col(VpsRow.cost_monthly),
            col(VpsRow.currency),
            col(VpsRow.updated_at),
            label("provider", col(ProviderRow.name)),
        )
        .outerjoin(ProviderRow, col(ProviderRow.id) == VpsRow.provider_id)
        .where(
            col(VpsRow.status) != "retired",
            col(VpsRow.expire_date).is_not(None),
            col(VpsRow.deleted_at).is_(None),
        )
        .order_by(col(VpsRow.expire_date), col(VpsRow.hostname), col(VpsRow.id))
    )
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "sigma VPS expiry")
    cal.add("x-published-ttl", timedelta(hours=1))
    for r in rows:
        name = r.hostname + (f" ({r.alias})" if r.alias else "")
        summary = f"VPS expires: {name}" + (f" [{r.provider}]" if r.provider else "")
        details = [
            f"Host: {name}",
            f"Provider: {r.provider or '-'} / {r.country or '-'}",
            "IPs: "
            + (
                ", ".join(
                    e["ip"] + (f" ({e['label']})" if e.get("label") else "")
                    for e in r.ip_addresses or ()
                )
                or "-"
            ),
            f"Status: {r.status}",
        ]
        if r.cost_monthly is not None:
            details.append(f"Cost: {r.cost_monthly:.2f} {r.currency}/month")
        event = Event()
        event.add("uid", f"{r.id}-{r.expire_date.strftime('%Y%m%d')}@sigma")
        event.add(
            "dtstamp", (r.updated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        )
        event.add("dtstart", r.expire_date)
        if r.expire_date < date.max:  # an all-day event without DTEND lasts that one day
            event.add("dtend", r.expire_date + timedelta(days=1))
        event.add("summary", summary)
        event.add("description", "\n".join(details))
        event.add("categories", ["sigma", "VPS expiry"])
        event.add("transp", "TRANSPARENT")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", -timedelta(days=REMIND_DAYS))
        event.add_component(alarm)
        cal.add_component(event)
    text: str = cal.to_ical().decode("utf-8")  # icalendar's to_ical is not annotated
    return text
