"""Who is acting, with which role: passed to every service call."""

from __future__ import annotations

import getpass
import socket
import uuid
from dataclasses import dataclass

from sigma.errors import PermissionDenied

ROLES = ("admin", "operator", "readonly", "agent", "probe")
READERS = ("admin", "operator", "readonly")
WRITERS = ("admin", "operator")
ADMINS = ("admin",)
# an agent registers and heartbeats its own VPS (services.agents); admins and operators may
# act for any VPS
AGENTS = ("admin", "operator", "agent")
# a probe reads its targets and posts IP checks
PROBES = ("admin", "operator", "probe")
# the VPS listing: every reader, and probes (the original sigma-probe pages GET /api/vps)
INVENTORY_READERS = (*READERS, "probe")


@dataclass(frozen=True)
class Actor:
    email: str
    role: str
    user_id: uuid.UUID | None = None
    client_ip: str | None = None
    via_api_key: bool = False
    read_only_key: bool = False
    password_change_required: bool = False
    # the managed API key behind the request (None: a JWT, the legacy key, the terminal)
    api_key_id: uuid.UUID | None = None
    # the session epoch of the user's access token and when its sign-in happened (Unix
    # seconds); both None unless authenticated by a JWT
    session_epoch: int | None = None
    auth_time: int | None = None

    @property
    def trusted_for_fleet(self) -> bool:
        """Whether this principal may act for any VPS (admins, operators, the legacy shared
        key), as opposed to an agent bound to its own."""
        return self.effective_role in WRITERS

    @property
    def effective_role(self) -> str:
        # a read-only API key caps its user's role
        return "readonly" if self.read_only_key and self.role in WRITERS else self.role

    def require(self, allowed: tuple[str, ...]) -> None:
        role = self.effective_role
        if role not in allowed:
            raise PermissionDenied(
                f"Forbidden: Role '{role}' is not allowed. Required: {', '.join(allowed)}"
            )


def local_actor() -> Actor:
    """The operator at the terminal using the local database: full rights, audited by name."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return Actor(email=f"local:{user}@{socket.gethostname()}", role="admin")


SYSTEM = Actor(email="system:sigma", role="admin")
