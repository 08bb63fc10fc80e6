"""What needs an operator now (issue 18): one item per thing to act on, the same on every face
(`sigma status`, GET /api/attention, the web dashboard, /metrics) and the source of notices.

An item's `key` names what it is about and stays the same while that thing needs attention
(`expiring:vps:<id>`, `blocked:ip:<vps id>/<ip>`, `ticket:ticket:<id>`); its `fingerprint` is
a digest of the facts that made it (the expiry date, the verdict and its start, the ticket's
priority): an acknowledgement or a snooze holds for one fingerprint, so the item comes back
when its facts change.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")  # worst first
ItemState = Literal["open", "acknowledged", "snoozed"]


class Subject(BaseModel):
    """What an item is about: a VPS, an IP of a VPS, a provider, a probe or a ticket."""

    type: Literal["vps", "ip", "provider", "probe", "ticket", "account", "dns", "domain"]
    id: str
    name: str  # hostname, "hostname 1.2.3.4", provider name, probe source, ticket title


class Item(BaseModel):
    key: str
    kind: str
    severity: Severity
    subject: Subject
    vps_id: str | None = None  # the VPS concerned, when there is one (filters, links)
    summary: str  # one line, plain text (escaped by whoever renders it)
    since: datetime | None = None
    link: str  # the web UI path that shows it, e.g. /vps/<id>
    fingerprint: str
    state: ItemState = "open"
    note: str | None = None  # the acknowledgement's or snooze's note
    until: datetime | None = None  # a snooze's end
    by: str | None = None  # who acknowledged or snoozed it


# ---------------------------------------------------------------- listing, acknowledgements

NOTE_LIMIT = 500  # characters of an acknowledgement's or snooze's note
KEY_LIMIT = 300  # characters of an item key
MAX_SNOOZE_DAYS = 366
_DURATION = re.compile(r"\s*(\d{1,6})\s*([mhdw])\s*", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_until(value: object, now: datetime) -> datetime:
    """A snooze's end: an aware datetime, an ISO 8601 / RFC 3339 time (UTC when it has no
    offset) or a duration from `now` (30m, 4h, 2d, 1w). ValueError naming what was expected
    otherwise, or when it is not in the future or more than MAX_SNOOZE_DAYS ahead."""
    from datetime import UTC, timedelta

    if isinstance(value, datetime):
        until = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        text = str(value or "").strip()
        if not text:
            raise ValueError("a time (2026-05-01T09:00Z) or a duration (4h, 2d) is required")
        m = _DURATION.fullmatch(text)
        if m:
            until = now + timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})
        else:
            try:
                until = datetime.fromisoformat(text[:64].replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"'{text[:40]}' is neither a time (2026-05-01T09:00Z) nor a duration "
                    "(30m, 4h, 2d, 1w)"
                ) from None
            until = until if until.tzinfo else until.replace(tzinfo=UTC)
    if until <= now:
        raise ValueError(f"{until.isoformat(timespec='seconds')} is not in the future")
    if until > now + timedelta(days=MAX_SNOOZE_DAYS):
        raise ValueError(f"must be at most {MAX_SNOOZE_DAYS} days ahead")
    return until


class AttentionCount(BaseModel):
    kind: str
    severity: Severity
    count: int


class AttentionPage(BaseModel):
    """One page of the items, worst first, with what the whole selection holds: the count per
    kind and severity of the items listed (`counts`), how many of the selection are
    acknowledged or snoozed (`handled`: left out unless asked for), and how many critical
    items are open (`critical`: `sigma status` exits 1 when it is not 0)."""

    data: list[Item]
    total: int
    page: int
    per_page: int
    counts: list[AttentionCount] = Field(default_factory=list)
    handled: int = 0
    critical: int = 0


class AttentionAck(BaseModel):
    """An acknowledgement or a snooze of one item (GET /api/attention shows it on the item)."""

    key: str
    state: Literal["acknowledged", "snoozed"]
    fingerprint: str
    until: datetime | None = None
    note: str = ""
    by: str
    at: datetime


class KeyRequest(BaseModel):
    """POST /api/attention/unack: the item's key (in the body: keys hold '/' and ':')."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(..., max_length=KEY_LIMIT)


class AckRequest(KeyRequest):
    """POST /api/attention/ack: the item's key and a note."""

    note: str | None = Field(None, max_length=NOTE_LIMIT)


class SnoozeRequest(AckRequest):
    """POST /api/attention/snooze: until a time (RFC 3339) or for a duration (4h, 2d)."""

    until: str = Field(..., max_length=64)
