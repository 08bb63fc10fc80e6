"""/api/audit-logs (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from sigma.schemas.common import Page, validate
from sigma.schemas.identity import AuditEntry, AuditFilter
from sigma.server.deps import ActorDep, rule, run
from sigma.services import audit

router = APIRouter(prefix="/api/audit-logs", tags=["audit"])


@router.get("", response_model=Page[AuditEntry], openapi_extra=rule("admin"))
def list_audit(
    request: Request,
    actor: ActorDep,
    resource: str | None = Query(None),
    resource_id: str | None = Query(None),
    user_id: str | None = Query(None),
    action: str | None = Query(None),
    since: str | None = Query(None, description="inclusive; date or RFC 3339"),
    until: str | None = Query(None, description="inclusive; date or RFC 3339"),
    page: int = 1,
    per_page: int = 50,
):
    raw = dict(
        resource=resource,
        resource_id=resource_id,
        user_id=user_id,
        action=action,
        since=since,
        until=until,
        page=page,
        per_page=per_page,
    )
    f = validate(AuditFilter, {k: v for k, v in raw.items() if v is not None})
    return run(request, audit.list_entries, actor, f)
