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

# the agent routes go first: the router tries routes in order, and heartbeats are the
# hottest requests (matching past ~100 routes costs more than the heartbeat itself)
ROUTERS.insert(0, agents.router)
ROUTERS.append(ip_checks.router)
