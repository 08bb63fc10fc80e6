"""/api/vps/export|import and /api/providers/export|import (registered before the /{ref}
routes of the VPS and provider routers)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from sigma.formats import file_format
from sigma.schemas.transfer import ImportReport, ImportRequest
from sigma.server.deps import ActorDep, rule, run
from sigma.services import transfer

router = APIRouter(tags=["import/export"])

MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json", "yaml": "application/yaml"}
FORMAT_HELP = "csv, json or yaml (default json)"


def _file(text: str, fmt: str, name: str) -> Response:
    return Response(
        text,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


@router.get("/api/vps/export", openapi_extra=rule("any"), response_class=Response)
def export_vps(
    request: Request, actor: ActorDep, format: str = Query("json", description=FORMAT_HELP)
):
    """Every VPS, in the list order, in a file that `POST /api/vps/import` reads back
    identically."""
    fmt = file_format(format)
    return _file(run(request, transfer.export_vps, actor, fmt), fmt, "vps")


@router.post("/api/vps/import", response_model=ImportReport, openapi_extra=rule("op"))
def import_vps(
    request: Request, actor: ActorDep, body: ImportRequest, dry_run: bool = Query(False)
):
    """All or nothing: any invalid record -> 422 listing each (line, field, reason), nothing
    written. Records are matched by `id` (updated) and otherwise created."""
    return run(request, transfer.import_vps, actor, body.data, body.format, body.dry_run or dry_run)


@router.get("/api/providers/export", openapi_extra=rule("any"), response_class=Response)
def export_providers(
    request: Request, actor: ActorDep, format: str = Query("json", description=FORMAT_HELP)
):
    fmt = file_format(format)
    return _file(run(request, transfer.export_providers, actor, fmt), fmt, "providers")


@router.post("/api/providers/import", response_model=ImportReport, openapi_extra=rule("op"))
def import_providers(
    request: Request, actor: ActorDep, body: ImportRequest, dry_run: bool = Query(False)
):
    """All or nothing; matched by `id`, else by name, otherwise created."""
    return run(
        request, transfer.import_providers, actor, body.data, body.format, body.dry_run or dry_run
    )
