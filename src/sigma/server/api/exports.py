"""Views derived from the inventory: /api/stats, /api/prometheus/targets,
/api/ansible/inventory, /api/calendar.ics."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request, Response

from sigma.db.engine import unit_of_work
from sigma.schemas.stats import Stats
from sigma.server.deps import ActorDep, client_ip, current_actor, rule, run
from sigma.services import auth, stats
from sigma.services.actor import Actor
from sigma.services.exports import ansible, ical, prometheus

router = APIRouter(tags=["exports"])


def _json(data: object) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")), media_type="application/json"
    )


@router.get("/api/stats", response_model=Stats, openapi_extra=rule("any"))
def get_stats(request: Request, actor: ActorDep):
    return run(request, stats.stats, actor)


@router.get("/api/prometheus/targets", openapi_extra=rule("any"), response_class=Response)
def prometheus_targets(
    request: Request,
    actor: ActorDep,
    address_label: str | None = Query(
        None, description="scrape the first IP with this label (default: first non-internal IP)"
    ),
):
    """Prometheus file_sd / http_sd JSON: `[{"targets": ["ip:port"], "labels": {...}}]`."""
    return Response(
        run(request, prometheus.targets_json, actor, address_label), media_type="application/json"
    )


@router.get("/api/ansible/inventory", openapi_extra=rule("any"), response_class=Response)
def ansible_inventory(
    request: Request,
    actor: ActorDep,
    host: str | None = Query(None, description="only this host's variables (--host)"),
):
    """Ansible dynamic inventory (`--list` form, or `--host` with ?host=NAME)."""
    if host is not None:
        return _json(run(request, ansible.host, actor, host))
    return Response(run(request, ansible.inventory_json, actor), media_type="application/json")


def calendar_actor(
    request: Request,
    key: str | None = Query(
        None, description="API key, for calendar apps that cannot send headers"
    ),
) -> Actor:
    if key and not request.headers.get("authorization") and not request.headers.get("x-api-key"):
        with unit_of_work(request.app.state.sessions) as session:
            actor = auth.authenticate(
                session,
                request.app.state.settings,
                bearer=None,
                api_key=key,
                client_ip=client_ip(request),
            )
        auth.require_password_changed(actor, request.url.path)
        return actor
    return current_actor(request)


@router.get("/api/calendar.ics", openapi_extra=rule("any"), response_class=Response)
def calendar(request: Request, actor: Actor = Depends(calendar_actor)):
    """iCalendar feed of expiry dates. Calendar apps may pass a (read-only) API key as ?key=."""
    return Response(
        run(request, ical.calendar, actor),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="sigma-expiry.ics"'},
    )
