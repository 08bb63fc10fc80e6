"""The API's routers, in the order the app tries them: the router matches routes in order,
so the fixed paths of import/export (/api/vps/import...) come before the /{ref} routes of
providers and VPS, and the agent routes, the most frequent, come first."""

from sigma.server.api import (
    accounts,
    agents,
    attention,
    audit,
    auth,
    costs,
    exports,
    history,
    ip_checks,
    notify,
    probes,
    providers,
    tickets,
    transfer,
    users,
    vps,
)

ROUTERS = [
    agents.router,
    auth.router,
    users.router,
    transfer.router,
    providers.router,
    vps.router,
    audit.router,
    tickets.router,
    exports.router,
    costs.router,
    notify.router,
    ip_checks.router,
    probes.router,
    history.router,
    attention.router,
    accounts.router,
]
