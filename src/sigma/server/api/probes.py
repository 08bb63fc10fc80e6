"""/api/probes: the registry of probe sources, their reference targets and round reports
(issue 17)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sigma.schemas.monitoring import ProbeReferenceTarget, ProbeReport, ProbeStatus
from sigma.server.deps import ActorDep, read, rule, run
from sigma.services import probes

router = APIRouter(prefix="/api/probes", tags=["probes"])


@router.get("", response_model=list[ProbeStatus], openapi_extra=rule("any"))
def list_probes(request: Request, actor: ActorDep):
    """Every probe source heard from: carrier, region, inside China or a control, last seen,
    and health from its reference targets (an unhealthy probe's results move no verdict)."""
    return read(request, probes.list_probes, actor)


@router.get(
    "/references", response_model=list[ProbeReferenceTarget], openapi_extra=rule("inventory")
)
def references(request: Request, actor: ActorDep):
    """The reference targets each probe checks every round (the setting probe_references)."""
    return read(request, probes.references, actor)


@router.post("/report", response_model=ProbeStatus, openapi_extra=rule("probe"))
def report(request: Request, actor: ActorDep, data: ProbeReport):
    """A probe's round report: its carrier (ct, cu, cm, cernet, other), region and control
    flag, and its reference results, from which its health is judged."""
    return run(request, probes.report, actor, data)


@router.delete("/{source}", response_model=ProbeStatus, openapi_extra=rule("op"))
def forget(request: Request, actor: ActorDep, source: str):
    """Remove a retired probe from the registry (its stored results stay)."""
    return run(request, probes.forget, actor, source)
