"""Remote mode without the Settings model: when the whole effective configuration is a server
URL and maybe an API key (what `sigma login` leaves, or SIGMA_SERVER/SIGMA_API_KEY), a command
can talk to the server without importing pydantic (~50 ms) to validate settings it does not
use. Anything else (another setting in the config file or a SIGMA_* variable, a flag, a value
that is not a string, an unreadable file) returns None: the caller then loads the full
settings, which judge and report it exactly as before."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not imported here: a local command asks too, and must not load httpx
    from sigma.client.http import ApiClient

# SIGMA_* variables that are not settings, or are the two settings read here
_LIGHT_ENV = {"SIGMA_SERVER", "SIGMA_API_KEY", "SIGMA_API_URL", "SIGMA_CONFIG", "SIGMA_DATA_DIR"}


def remote_settings(flags: dict[str, Any], *, local: bool = False) -> tuple[str, str | None] | None:
    """(server, api_key) as load_settings would layer them (config file < environment < flags),
    or None when this is not that simple case."""
    if local or any(value is not None for key, value in flags.items() if key != "server"):
        return None
    environ = os.environ
    if any(key.startswith("SIGMA_") and key not in _LIGHT_ENV for key in environ):
        return None
    from sigma.config_file import config_path, read_config_file
    from sigma.errors import SigmaError

    try:
        layered = read_config_file(config_path())
    except SigmaError:
        return None
    if set(layered) - {"server", "api_key"}:
        return None
    for name in ("server", "api_key"):
        if f"SIGMA_{name.upper()}" in environ:
            layered[name] = environ[f"SIGMA_{name.upper()}"]
    if "SIGMA_API_URL" in environ and "SIGMA_SERVER" not in environ:
        layered["server"] = environ["SIGMA_API_URL"].removesuffix("/").removesuffix("/api")
    if flags.get("server") is not None:
        layered["server"] = flags["server"]
    server, api_key = layered.get("server"), layered.get("api_key")
    if not isinstance(server, str) or not server or not isinstance(api_key, str | None):
        return None
    return server, api_key


def remote_api(flags: dict[str, Any], *, local: bool = False) -> ApiClient | None:
    target = remote_settings(flags, local=local)
    if target is None:
        return None
    from sigma.client.http import ApiClient, auth_headers, server_base

    base = server_base(target[0])
    return ApiClient(base, auth_headers(target[1], base))
