"""/api/attention: what needs an operator now (issue 18), and acknowledging or snoozing an
item. The item's key travels in the body: keys hold '/' and ':'."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from sigma.schemas.attention import (
    AckRequest,
    AttentionAck,
    AttentionPage,
    KeyRequest,
    SnoozeRequest,
)
from sigma.server.deps import ActorDep, read, rule, run
from sigma.services import attention

router = APIRouter(prefix="/api/attention", tags=["attention"])


def _words(values: list[str] | None) -> list[str]:
    """Repeated parameters or comma lists (?kind=blocked,down&kind=overdue)."""
    return [w.strip() for v in values or [] for w in v.split(",") if w.strip()]


@router.get("", response_model=AttentionPage, openapi_extra=rule("any"))
def list_items(
    request: Request,
    actor: ActorDep,
    kind: list[str] | None = Query(None, description="kinds, repeated or a comma list"),
    severity: list[str] | None = Query(
        None, description="critical, warning, info: repeated or a comma list"
    ),
    vps: str | None = Query(None, description="only the items about this VPS (id or hostname)"),
    handled: bool = Query(False, description="include the acknowledged and snoozed items"),
    page: int = Query(1),
    per_page: int = Query(25),
):
    """The items that need attention, worst first (severity, then the oldest), with the count
    per kind and severity of the whole selection, how many are acknowledged or snoozed, and
    how many critical ones are open."""
    return read(
        request,
        attention.list_page,
        actor,
        _words(kind),
        _words(severity),
        vps,
        handled,
        page,
        per_page,
    )


@router.post("/ack", response_model=AttentionAck, openapi_extra=rule("op"))
def ack(request: Request, actor: ActorDep, data: AckRequest):
    """Acknowledge an item: it leaves the open list until its facts change."""
    return run(request, attention.ack, actor, data.key, data.note)


@router.post("/snooze", response_model=AttentionAck, openapi_extra=rule("op"))
def snooze(request: Request, actor: ActorDep, data: SnoozeRequest):
    """Snooze an item until a time (RFC 3339) or for a duration (30m, 4h, 2d, 1w), or until
    its facts change."""
    return run(request, attention.snooze, actor, data.key, data.until, data.note)


@router.post("/unack", response_model=AttentionAck, openapi_extra=rule("op"))
def unack(request: Request, actor: ActorDep, data: KeyRequest):
    """Put an acknowledged or snoozed item back on the open list."""
    return run(request, attention.unack, actor, data.key)
