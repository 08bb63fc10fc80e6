"""/api/agent/register and /api/agent/heartbeat (the original's shapes: docs/COMPATIBILITY.md),
and /api/vps-events.

Both agent routes take rule("agent"): callable with the `agent` role and by admins and
operators (AGENTS in services.agents); readonly users may not.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from sigma.schemas.identity import ApiKeyCreated
from sigma.schemas.inventory import Vps
from sigma.schemas.monitoring import AgentHeartbeat, AgentKeyRelease, AgentRegister, VpsEvent
from sigma.server import heartbeats
from sigma.server.deps import ActorDep, rule, run
from sigma.services import agents

router = APIRouter(tags=["agent"], lifespan=heartbeats.lifespan)


def _body(model):
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


@router.post("/api/agent/register", response_model=Vps, openapi_extra=rule("agent"))
def register(request: Request, actor: ActorDep, data: AgentRegister):
    """Create or update the VPS of the agent's hostname. A retired VPS is never revived: 409."""
    return run(request, agents.register, actor, data)


@router.post(
    "/api/agent/heartbeat",
    responses={200: {"model": Vps}},
    openapi_extra={**rule("agent"), **_body(AgentHeartbeat)},
)
async def heartbeat(request: Request):
    """Record the agent's system_info and the time; unknown hostname: 404, retired: 409."""
    # the app answers this path with heartbeats.route(), placed before every route; this
    # declaration documents it in the OpenAPI document
    return Response(
        await heartbeats.lean_heartbeat(request.scope, await request.body()),
        media_type="application/json",
    )


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


@router.post("/api/vps/{ref}/agent-key", response_model=ApiKeyCreated, openapi_extra=rule("op"))
def provision(request: Request, actor: ActorDep, ref: str, name: str | None = Query(None)):
    """A new API key for the agent of this VPS, bound to it (shown once)."""
    return run(request, agents.provision, actor, ref, name)


@router.post(
    "/api/vps/{ref}/agent-release", response_model=AgentKeyRelease, openapi_extra=rule("op")
)
def release(request: Request, actor: ActorDep, ref: str, revoke: bool = Query(False)):
    """Free this VPS from the agent keys bound to it (`revoke=true`: revoke them too)."""
    return AgentKeyRelease(
        released=run(request, agents.release, actor, ref, revoke), revoked=revoke
    )
