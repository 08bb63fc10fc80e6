"""Probe configuration: defaults < environment < flags (the original probe's names:
docs/COMPATIBILITY.md)."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

CHECK_TYPES = ("icmp", "tcp", "tls", "http")
CARRIERS = ("ct", "cu", "cm", "cernet", "other")  # China Telecom, Unicom, Mobile, CERNET
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


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
    # who is measuring (issue 17): the network the probe sits in, where, and whether it is a
    # control (outside the filtered network: what it cannot reach is down, not blocked)
    carrier: str | None = None
    region: str | None = None
    control: bool = False
    tls_ports: tuple[int, ...] = (443,)
    data_probe: bool = True  # read briefly after a TCP connect / TLS handshake: RST on data
    icmp_count: int = 3  # echo requests per target per round


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
    "carrier": "PROBE_CARRIER",
    "region": "PROBE_REGION",
    "control": "PROBE_CONTROL",
    "tls_ports": "PROBE_TLS_PORTS",
    "data_probe": "PROBE_DATA_PROBE",
    "icmp_count": "PROBE_ICMP_COUNT",
}


def _num(name: str, value: Any, cast: type, lo: float, hi: float) -> Any:
    try:
        v = cast(str(value).strip())
    except ValueError:
        raise ConfigError(f"{name}: '{value}' is not a number") from None
    if not lo <= v <= hi:
        raise ConfigError(f"{name}: {v} is out of range [{lo:g}, {hi:g}]")
    return v


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in TRUE or v in FALSE:
        return v in TRUE
    raise ConfigError(f"{name}: '{value}' is not true or false (1/0, yes/no, on/off)")


def _ports(name: str, value: Any) -> tuple[int, ...]:
    """A comma list, or a list of items that may each be a comma list."""
    items = value if isinstance(value, list | tuple) else [value]
    parts = [p for item in items for p in str(item).split(",") if p.strip()]
    return tuple(dict.fromkeys(_num(name, p, int, 1, 65535) for p in parts))


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
                    f"expected some of {', '.join(CHECK_TYPES)}"
                )
            cfg.check_types = types
        elif key in ("tcp_timeout", "http_timeout", "icmp_timeout"):
            setattr(cfg, key, _num(key, value, float, 0.05, 120))
        elif key == "concurrency":
            cfg.concurrency = _num(key, value, int, 1, 5000)
        elif key == "tcp_ports":
            cfg.tcp_ports = _ports(key, value)
        elif key == "tls_ports":
            cfg.tls_ports = _ports(key, value)
            if not cfg.tls_ports:
                raise ConfigError("tls_ports: none given; e.g. 443 or 443,8443")
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
        elif key == "carrier":
            v = str(value).strip().lower()
            if v and v not in CARRIERS:
                raise ConfigError(f"carrier: '{value}' is not one of {', '.join(CARRIERS)}")
            cfg.carrier = v or None
        elif key == "region":
            v = str(value).strip()
            if len(v) > 64:
                raise ConfigError(f"region: {len(v)} characters, at most 64")
            if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in v):
                raise ConfigError("region: control characters are not allowed")
            cfg.region = v or None
        elif key in ("control", "data_probe"):
            setattr(cfg, key, _bool(key, value))
        elif key == "icmp_count":
            cfg.icmp_count = _num(key, value, int, 1, 10)
        else:
            raise ConfigError(f"unknown probe setting '{key}'")
    if not cfg.spool_dir:
        cfg.spool_dir = default_spool_dir()
    return cfg
