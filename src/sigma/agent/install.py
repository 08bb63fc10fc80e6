"""`sigma agent install`: a systemd unit and its environment file (mode 0600: it holds the
API key). The unit runs `python -m sigma.agent`, which reads the same file."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from sigma.agent.config import ENV, AgentConfig

UNIT_NAME = "sigma-agent.service"


def env_file_text(cfg: AgentConfig, show_secret: bool = True) -> str:
    lines = ["# sigma agent settings (read by systemd and by `python -m sigma.agent`)"]
    values = {
        "api_url": cfg.api_url,
        "api_key": cfg.api_key if show_secret else ("********" if cfg.api_key else None),
        "interval": _num(cfg.interval),
        "hostname": cfg.hostname,
        "alias": cfg.alias,
        "ssh_port": cfg.ssh_port,
        "metrics_port": cfg.metrics_port,
        "port_scan": "true" if cfg.port_scan else "false",
        "port_scan_range": f"{cfg.port_scan_range[0]}-{cfg.port_scan_range[1]}",
        "port_scan_interval": _num(cfg.port_scan_interval),
    }
    for key, value in values.items():
        if value is None or value == "":
            continue
        lines.append(f"{ENV[key]}={_quote(str(value))}")
    return "\n".join(lines) + "\n"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "-_.:/@%+,=" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_text(env_file: str, python: str | None = None) -> str:
    python = python or sys.executable
    exec_start = " ".join(
        shlex.quote(p) for p in (python, "-m", "sigma.agent", "--config-file", env_file)
    )
    return f"""[Unit]
Description=sigma agent (registration, heartbeats, port inventory, metrics)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
EnvironmentFile={env_file}
ExecStart={exec_start}
Restart=always
RestartSec=5
TimeoutStopSec=5
KillSignal=SIGTERM
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryMax=96M
TasksMax=32

[Install]
WantedBy=multi-user.target
"""


def write_private(path: Path, text: str) -> None:
    """Write `text` atomically with mode 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def install(
    cfg: AgentConfig, unit_dir: Path, env_file: Path, python: str | None = None
) -> tuple[Path, Path]:
    unit = unit_dir / UNIT_NAME
    write_private(env_file, env_file_text(cfg))
    unit.parent.mkdir(parents=True, exist_ok=True)
    tmp = unit.with_name(f".{unit.name}.tmp")
    tmp.write_text(unit_text(str(env_file), python), encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, unit)
    return unit, env_file
