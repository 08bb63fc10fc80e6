"""The web UI of `sigma serve`: server-rendered Jinja2 pages on the same service layer and
roles as the API. Hand-written CSS and JS in sigma/server/static/web (no CDN, no framework,
no build step); every page reads and every form posts without JavaScript."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    from sigma.server.web import (
        account_views,
        admin_views,
        auth_views,
        extra_views,
        ticket_views,
        vps_views,
    )

    for module in (auth_views, vps_views, ticket_views, admin_views, extra_views, account_views):
        app.include_router(module.router)
    app.include_router(vps_views.json_router)
