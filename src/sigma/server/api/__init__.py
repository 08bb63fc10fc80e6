"""One router per resource. New routers are added to ROUTERS."""

from sigma.server.api import audit, auth, providers, users, vps

ROUTERS = [auth.router, users.router, providers.router, vps.router, audit.router]

# ---- tickets (issue 6)
from sigma.server.api import tickets  # noqa: E402

ROUTERS.append(tickets.router)

# ---- derived from the inventory (issue 4); import/export goes before the /{ref} routes
from sigma.server.api import costs, exports, notify, transfer  # noqa: E402

ROUTERS.insert(min(ROUTERS.index(providers.router), ROUTERS.index(vps.router)), transfer.router)
ROUTERS += [exports.router, costs.router, notify.router]

# ---- agents, IP checks and reachability (issue 5)
from sigma.server.api import agents, ip_checks  # noqa: E402

ROUTERS += [agents.router, ip_checks.router]
