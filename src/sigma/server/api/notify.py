"""/api/notify/run: one notification run with the server's channels; /api/notify/test sends a
test notice; /api/notify/log lists the deliveries of the Apprise notices."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from sigma.schemas.notify import NoticeLogEntry, NotifyReport, NotifyTest, NotifyTestResult
from sigma.server.deps import ActorDep, read, rule
from sigma.services import notices, notify

router = APIRouter(tags=["notifications"])


@router.post("/api/notify/run", response_model=NotifyReport, openapi_extra=rule("op"))
def notify_run(request: Request, actor: ActorDep, dry_run: bool = Query(False)):
    """Send the expiry notices due now (each at most once); `dry_run` only lists them."""
    # several transactions (claim, send, confirm): the service manages its units of work
    return notify.run_locked(request.app.state.sessions, actor, request.app.state.settings, dry_run)


@router.post("/api/notify/test", response_model=list[NotifyTestResult], openapi_extra=rule("op"))
def notify_test(request: Request, actor: ActorDep, body: NotifyTest):
    """Send a test notice to `url` (admins only: the server sends wherever it is told) or,
    with `all`, to every configured channel (admins and operators). A failure is a result
    with its reason, not an error."""
    return notices.test(
        request.app.state.sessions, actor, request.app.state.settings, body.url, body.all
    )


@router.get("/api/notify/log", response_model=list[NoticeLogEntry], openapi_extra=rule("op"))
def notify_log(
    request: Request,
    actor: ActorDep,
    failed: bool = Query(False),
    limit: int = Query(50, ge=1, le=1000),
):
    """The deliveries of the Apprise notices, newest first; `failed`: those waiting for a
    retry."""
    return read(request, notices.delivery_log, actor, failed, limit)
