"""/api/notify/run: one expiry-notification run with the server's channels."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from sigma.schemas.notify import NotifyReport
from sigma.server.deps import ActorDep, rule
from sigma.services import notify

router = APIRouter(tags=["notifications"])


@router.post("/api/notify/run", response_model=NotifyReport, openapi_extra=rule("op"))
def notify_run(request: Request, actor: ActorDep, dry_run: bool = Query(False)):
    """Send the expiry notices due now (each at most once); `dry_run` only lists them."""
    # several transactions (claim, send, confirm): the service manages its units of work
    return notify.run_locked(request.app.state.sessions, actor, request.app.state.settings, dry_run)
