"""One router per resource. New routers are added to ROUTERS."""

from sigma.server.api import audit, auth, providers, users, vps

ROUTERS = [auth.router, users.router, providers.router, vps.router, audit.router]

# ---- tickets (issue 6)
from sigma.server.api import tickets  # noqa: E402

ROUTERS.append(tickets.router)
