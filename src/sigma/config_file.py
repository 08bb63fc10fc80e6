"""The config file, the data dir and URL redaction: what a command needs before (or instead of)
the full Settings model. Plain Python: no pydantic (~50 ms), so a remote command that needs
only the server URL and credentials can read them cheaply (sigma.client.target)."""

from __future__ import annotations

import os
import re
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
    r"(?P<head>[?&][\w.-]*?(?:password|passwd|pwd|token|secret|api_key|apikey)=)[^&#\s]*", re.IGNORECASE
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
        raise InvalidInput(f"config file {path} is not valid YAML{where}: {reason}", field="config") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"config file {path} must be a mapping of setting: value", field="config")
    return {str(k).replace("-", "_"): v for k, v in data.items()}
