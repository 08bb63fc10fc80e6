"""The config file, the data dir, the layering of settings, and URL redaction: what a command
needs before (or instead of) the Settings model. Plain Python, no pydantic: a remote command
whose whole configuration is a server and its credentials runs without validating settings it
does not use (light_remote)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigma.errors import InvalidInput

APP_NAME = "sigma"


# the password runs to the last '@' of the authority: an unencoded '@' in it must not leak
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-zA-Z][\w+.-]*://[^:/@]*):(?P<pw>[^@]*(?:@[^@/\s]*(?=@))*)@"
)
# libpq (and so SQLAlchemy) also takes the password as a query parameter
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&][\w.-]*?(?:password|passwd|pwd|token|secret|api_key|apikey)=)[^&#\s]*",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db (also ?password=)"""
    url = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:***@", url)
    return _QUERY_SECRET.sub(lambda m: f"{m.group('head')}***", url)


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME))


def data_dir() -> Path:
    if env := os.environ.get("SIGMA_DATA_DIR"):
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME))


def config_path() -> Path:
    if env := os.environ.get("SIGMA_CONFIG"):
        return Path(env)
    return config_dir() / "config.yaml"


def read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc}", field="config") from None
    except yaml.YAMLError as exc:
        # PyYAML's message spans several lines (with a source excerpt): keep one line
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(
            f"config file {path} is not valid YAML{where}: {reason}", field="config"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(
            f"config file {path} must be a mapping of setting: value", field="config"
        )
    return {str(k).replace("-", "_"): v for k, v in data.items()}


# SIGMA_* variables that are not settings
NOT_SETTINGS = frozenset({"SIGMA_CONFIG", "SIGMA_DATA_DIR"})


@dataclass
class Layered:
    """Every configured value, by setting name, and which of them came from the environment
    (where a variable that names no setting is ignored, unlike a key of the config file)."""

    values: dict[str, Any]
    from_env: set[str]


def layered(
    flags: dict[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Layered:
    """The one layering of settings, lowest to highest: the config file, the SIGMA_*
    environment (with the original system's SIGMA_API_URL for the server), the command-line
    flags (None: not given). The Settings model judges the result (sigma.settings)."""
    env = os.environ if environ is None else environ
    values = dict(read_config_file(path or config_path()))
    from_env: set[str] = set()
    if "SIGMA_API_URL" in env:  # an agent's or probe's env file: the API base, /api included
        values["server"] = env["SIGMA_API_URL"].removesuffix("/").removesuffix("/api")
        from_env.add("server")
    for key, value in env.items():
        if key.startswith("SIGMA_") and key not in NOT_SETTINGS and key != "SIGMA_API_URL":
            name = key.removeprefix("SIGMA_").lower()
            values[name] = value
            from_env.add(name)
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = value
            from_env.discard(name)
    return Layered(values, from_env)


def light_remote(config: Layered, *, local: bool = False) -> tuple[str, str | None] | None:
    """(server, api_key) when the whole configuration is a server and its credentials (what
    `sigma login` leaves, or SIGMA_SERVER / SIGMA_API_KEY): then a remote command needs no
    Settings model. None for anything else, which the Settings model then judges."""
    values = config.values
    if local or set(values) - {"server", "api_key"}:
        return None
    server, api_key = values.get("server"), values.get("api_key")
    if not isinstance(server, str) or not server or not isinstance(api_key, str | None):
        return None
    return server, api_key
