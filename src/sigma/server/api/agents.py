"""/api/agent/register and /api/agent/heartbeat (SEED_CONTRACT 2.8), and /api/vps-events.

Both agent routes take rule("agent"): callable with the `agent` role and by admins and
operators (AGENTS in services.agents); readonly users may not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from sigma.errors import InvalidInput
from sigma.schemas import AgentHeartbeat, AgentRegister, Vps, VpsEvent, invalid_from
from sigma.server import heartbeats
from sigma.server.deps import ActorDep, rule, run
from sigma.services import agents
from sigma.services.actor import Actor

router = APIRouter(tags=["agent"], lifespan=heartbeats.lifespan)

LeanActor = Annotated[Actor, Depends(heartbeats.cached_actor)]


def _body(model):
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


@router.post("/api/agent/register", response_model=Vps, openapi_extra=rule("agent"))
def register(request: Request, actor: ActorDep, data: AgentRegister):
    """Create or update the VPS of the agent's hostname. A retired VPS is never revived: 409."""
    return run(request, agents.register, actor, data)


@router.post(
    "/api/agent/heartbeat",
    responses={200: {"model": Vps}},
    openapi_extra={**rule("agent"), **_body(AgentHeartbeat)},
)
async def heartbeat(request: Request, actor: LeanActor):
    """Record the agent's system_info and the time; unknown hostname: 404, retired: 409."""
    from pydantic import ValidationError

    actor.require(agents.AGENTS)
    raw = await request.body()
    try:
        data = AgentHeartbeat.model_validate_json(raw or b"null")
    except ValidationError as exc:
        if any(e["type"] in ("json_invalid", "model_type") for e in exc.errors()):
            raise InvalidInput("body: expected a JSON object {hostname, system_info}", field="body") from None
        raise invalid_from(exc) from None
    writer = heartbeats.writer_for(request.app)
    if writer is None:
        from starlette.concurrency import run_in_threadpool

        vps = await run_in_threadpool(run, request, agents.heartbeat, actor, data)
        return Response(vps.model_dump_json(), media_type="application/json")
    row = await writer.submit(data.hostname, heartbeats.system_info_json(data.system_info))
    return Response(heartbeats.vps_json(row), media_type="application/json")


@router.get("/api/vps-events", response_model=list[VpsEvent], openapi_extra=rule("any"))
def list_events(
    request: Request,
    actor: ActorDep,
    vps: str | None = Query(None, description="VPS id, id prefix or hostname"),
    kind: str | None = Query(None, description="agent-offline, agent-online or reachability"),
    limit: int = Query(50, description="at most this many, newest first (1-1000)"),
):
    """Agent offline/online and reachability verdict changes, newest first."""
    return run(request, agents.list_events, actor, vps, kind, limit)
