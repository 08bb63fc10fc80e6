"""Agent configuration: defaults < config file < environment < flags.

The config file uses the environment file syntax (KEY=VALUE lines, `#` comments, optional
quotes), so the file `sigma agent install` writes serves both systemd's EnvironmentFile=
and `sigma agent run --config-file`. Names are the contract's environment variables.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_FILE = "/etc/sigma/agent.env"
DEFAULT_API_URL = "http://localhost:3000/api"
PUBLIC_IP_URLS = ("https://icanhazip.com", "https://ifconfig.me/ip", "https://api.ipify.org")


class ConfigError(ValueError):
    """Bad configuration: the message names the option."""


@dataclass
class AgentConfig:
    api_url: str = DEFAULT_API_URL
    api_key: str | None = None
    interval: float = 60.0
    hostname: str | None = None
    alias: str | None = None
    ssh_port: int = 22
    metrics_port: int = 9102
    metrics_addr: str = "0.0.0.0"
    port_scan: bool = False
    port_scan_range: tuple[int, int] = (10000, 30000)
    port_scan_interval: float = 60.0
    public_ip_urls: tuple[str, ...] = PUBLIC_IP_URLS
    timeout: float = 10.0
    backoff_max: float = 300.0
    log_level: str = "INFO"
    extra: dict[str, Any] = field(default_factory=dict)

    def redacted(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        if out["api_key"]:
            out["api_key"] = "********"
        return out


# setting name -> environment variable (the contract's names first)
ENV = {
    "api_url": "SIGMA_API_URL",
    "api_key": "SIGMA_API_KEY",
    "interval": "AGENT_INTERVAL",
    "hostname": "AGENT_HOSTNAME",
    "alias": "AGENT_ALIAS",
    "ssh_port": "AGENT_SSH_PORT",
    "metrics_port": "AGENT_METRICS_PORT",
    "metrics_addr": "AGENT_METRICS_ADDR",
    "port_scan": "AGENT_PORT_SCAN",
    "port_scan_range": "AGENT_PORT_SCAN_RANGE",
    "port_scan_interval": "AGENT_PORT_SCAN_INTERVAL",
    "public_ip_urls": "AGENT_PUBLIC_IP_URLS",
    "timeout": "AGENT_TIMEOUT",
    "backoff_max": "AGENT_BACKOFF_MAX",
    "log_level": "AGENT_LOG_LEVEL",
}


def read_env_file(path: str | Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (quotes, comments, `export`)."""
    out: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip().replace("_", "").isalnum():
            raise ConfigError(f"config file {path}, line {n}: expected KEY=VALUE")
        value = value.strip()
        if value[:1] in ("'", '"'):
            try:
                parts = shlex.split(value)
            except ValueError:
                raise ConfigError(f"config file {path}, line {n}: unbalanced quotes") from None
            value = parts[0] if parts else ""
        out[key.strip()] = value
    return out


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}: '{value}' is not a boolean (true/false)")


def _number(name: str, value: Any, cast: type, lo: float, hi: float) -> Any:
    try:
        v = (
            cast(str(value).strip())
            if not isinstance(value, int | float) or isinstance(value, bool)
            else cast(value)
        )
    except ValueError:
        raise ConfigError(f"{name}: '{value}' is not a number") from None
    if not lo <= v <= hi:
        raise ConfigError(f"{name}: {v} is out of range [{lo:g}, {hi:g}]")
    return v


def _range(name: str, value: Any) -> tuple[int, int]:
    if isinstance(value, tuple | list):
        start, end = value
    else:
        start, sep, end = str(value).strip().partition("-")
        if not sep:
            raise ConfigError(f"{name}: '{value}' is not START-END (e.g. 10000-30000)")
    start = _number(name, start, int, 1, 65535)
    end = _number(name, end, int, 1, 65535)
    if start > end:
        raise ConfigError(f"{name}: start {start} is after end {end}")
    return (start, end)


def _api_url(value: Any) -> str:
    v = str(value).strip().rstrip("/")
    if not v.startswith(("http://", "https://")):
        raise ConfigError(
            f"api_url: '{value}' is not an http(s) URL (e.g. https://sigma.example.com/api)"
        )
    return v


def normalise(raw: dict[str, Any]) -> AgentConfig:
    cfg = AgentConfig()
    for key, value in raw.items():
        if value is None:
            continue
        if key == "api_url":
            cfg.api_url = _api_url(value)
        elif key in ("api_key", "hostname", "alias", "metrics_addr"):
            setattr(cfg, key, str(value).strip() or None)
        elif key == "interval":
            cfg.interval = _number("interval", value, float, 0.05, 86400)
        elif key == "ssh_port":
            cfg.ssh_port = _number("ssh_port", value, int, 1, 65535)
        elif key == "metrics_port":
            cfg.metrics_port = _number("metrics_port", value, int, 0, 65535)
        elif key == "port_scan":
            cfg.port_scan = _bool("port_scan", value)
        elif key == "port_scan_range":
            cfg.port_scan_range = _range("port_scan_range", value)
        elif key == "port_scan_interval":
            cfg.port_scan_interval = _number("port_scan_interval", value, float, 0.05, 86400)
        elif key == "public_ip_urls":
            urls = (
                value if isinstance(value, list | tuple) else str(value).replace(",", " ").split()
            )
            cfg.public_ip_urls = tuple(u for u in urls if u)
        elif key == "timeout":
            cfg.timeout = _number("timeout", value, float, 0.1, 300)
        elif key == "backoff_max":
            cfg.backoff_max = _number("backoff_max", value, float, 0.1, 86400)
        elif key == "log_level":
            level = str(value).strip().upper()
            if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
                raise ConfigError(f"log_level: '{value}' is not one of debug, info, warning, error")
            cfg.log_level = level
        else:
            raise ConfigError(f"unknown agent setting '{key}'")
    if cfg.metrics_addr is None:
        cfg.metrics_addr = "0.0.0.0"
    return cfg


def load(
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    config_file: str | None = None,
) -> AgentConfig:
    """Layer the sources; a missing default config file is fine, a named one must exist."""
    environ = dict(os.environ if environ is None else environ)
    layered: dict[str, Any] = {}
    path = config_file or environ.get("AGENT_CONFIG")
    if path or Path(DEFAULT_CONFIG_FILE).exists():
        from_file = read_env_file(path or DEFAULT_CONFIG_FILE)
        by_env = {v: k for k, v in ENV.items()}
        for key, value in from_file.items():
            if key in by_env:
                layered[by_env[key]] = value
    for name, var in ENV.items():
        if var in environ:
            layered[name] = environ[var]
    if "log_level" not in layered and environ.get("RUST_LOG"):
        level = environ["RUST_LOG"].split(",")[0].split("=")[-1].strip().upper()
        layered["log_level"] = {"TRACE": "DEBUG", "WARN": "WARNING"}.get(level, level)
    layered.update({k: v for k, v in (flags or {}).items() if v is not None})
    return normalise(layered)
