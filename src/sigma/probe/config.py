"""Probe configuration: defaults < environment < flags (the original probe's names:
docs/COMPATIBILITY.md)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

CHECK_TYPES = ("icmp", "tcp", "http")


class ConfigError(ValueError):
    pass


@dataclass
class ProbeConfig:
    source: str
    api_url: str = "http://localhost:3000/api"
    api_key: str | None = None
    interval: float = 300.0
    check_types: tuple[str, ...] = ("icmp", "tcp")
    tcp_timeout: float = 5.0
    http_timeout: float = 10.0
    icmp_timeout: float = 3.0
    concurrency: int = 20
    tcp_ports: tuple[int, ...] = ()  # checked besides each VPS's SSH port
    http_scheme: str = "https"
    http_port: int | None = None
    batch_size: int = 500
    spool_dir: str = ""
    spool_max_bytes: int = 64 * 1024 * 1024
    timeout: float = 30.0  # API requests


ENV = {
    "api_url": "SIGMA_API_URL",
    "api_key": "SIGMA_API_KEY",
    "source": "PROBE_SOURCE",
    "interval": "PROBE_INTERVAL",
    "check_types": "PROBE_TYPES",
    "tcp_timeout": "PROBE_TCP_TIMEOUT",
    "http_timeout": "PROBE_HTTP_TIMEOUT",
    "icmp_timeout": "PROBE_ICMP_TIMEOUT",
    "concurrency": "PROBE_CONCURRENCY",
    "tcp_ports": "PROBE_TCP_PORTS",
    "http_scheme": "PROBE_HTTP_SCHEME",
    "http_port": "PROBE_HTTP_PORT",
    "batch_size": "PROBE_BATCH_SIZE",
    "spool_dir": "PROBE_SPOOL_DIR",
    "spool_max_bytes": "PROBE_SPOOL_MAX_BYTES",
}


def _num(name: str, value: Any, cast: type, lo: float, hi: float) -> Any:
    try:
        v = cast(str(value).strip())
    except ValueError:
        raise ConfigError(f"{name}: '{value}' is not a number") from None
    if not lo <= v <= hi:
        raise ConfigError(f"{name}: {v} is out of range [{lo:g}, {hi:g}]")
    return v


def default_spool_dir() -> str:
    """$SIGMA_DATA_DIR/probe-spool, else /var/lib/sigma-probe/spool for root, else the
    user's data dir."""
    if os.environ.get("SIGMA_DATA_DIR"):
        return os.path.join(os.environ["SIGMA_DATA_DIR"], "probe-spool")
    if os.geteuid() == 0:
        return "/var/lib/sigma-probe/spool"
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "sigma", "probe-spool")


def load(flags: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> ProbeConfig:
    environ = dict(os.environ if environ is None else environ)
    raw: dict[str, Any] = {n: environ[v] for n, v in ENV.items() if v in environ}
    raw.update({k: v for k, v in (flags or {}).items() if v is not None})
    source = str(raw.pop("source", "") or "").strip()
    if not source:
        raise ConfigError("source: required (--source or PROBE_SOURCE), e.g. cn-beijing")
    if len(source) > 64 or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", source):
        raise ConfigError(
            f"source: '{source}' must be letters, digits, '.', '_' or '-' (at most 64)"
        )
    cfg = ProbeConfig(source=source)
    for key, value in raw.items():
        if key == "api_url":
            v = str(value).strip().rstrip("/")
            if not v.startswith(("http://", "https://")):
                raise ConfigError(f"api_url: '{value}' is not an http(s) URL")
            cfg.api_url = v
        elif key == "api_key":
            cfg.api_key = str(value).strip() or None
        elif key == "interval":
            cfg.interval = _num(key, value, float, 1, 86400)
        elif key == "check_types":
            items = value if isinstance(value, list | tuple) else str(value).split(",")
            types = tuple(dict.fromkeys(t.strip().lower() for t in items if t.strip()))
            bad = [t for t in types if t not in CHECK_TYPES]
            if bad or not types:
                raise ConfigError(
                    f"check_types: {', '.join(bad) or 'none given'}; "
                    "expected some of icmp, tcp, http"
                )
            cfg.check_types = types
        elif key in ("tcp_timeout", "http_timeout", "icmp_timeout"):
            setattr(cfg, key, _num(key, value, float, 0.05, 120))
        elif key == "concurrency":
            cfg.concurrency = _num(key, value, int, 1, 5000)
        elif key == "tcp_ports":
            items = value if isinstance(value, list | tuple) else str(value).split(",")
            cfg.tcp_ports = tuple(_num(key, p, int, 1, 65535) for p in items if str(p).strip())
        elif key == "http_scheme":
            if str(value).lower() not in ("http", "https"):
                raise ConfigError(f"http_scheme: '{value}' is not http or https")
            cfg.http_scheme = str(value).lower()
        elif key == "http_port":
            cfg.http_port = _num(key, value, int, 1, 65535)
        elif key == "batch_size":
            cfg.batch_size = _num(key, value, int, 1, 5000)
        elif key == "spool_dir":
            cfg.spool_dir = str(value)
        elif key == "spool_max_bytes":
            cfg.spool_max_bytes = _num(key, value, int, 1024, 2**40)
        elif key == "timeout":
            cfg.timeout = _num(key, value, float, 0.5, 600)
        else:
            raise ConfigError(f"unknown probe setting '{key}'")
    if not cfg.spool_dir:
        cfg.spool_dir = default_spool_dir()
    return cfg
