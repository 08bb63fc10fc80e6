"""Port inventory from the kernel's socket table (psutil.net_connections): which ports of
the configured range are in use, and by which kind of process.

Unlike the original, nothing is bound and no `ss` runs: a port is used when a TCP socket
listens on it or a UDP socket is bound to it, on any address; the owning process comes
from the same table (it needs root to see other users' processes, else `unknown`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psutil

KNOWN_SOURCES = ("envoy", "sshd", "nginx", "node_exporter")
ALWAYS_REPORTED = (*KNOWN_SOURCES, "other", "unknown")


def classify(process_name: str | None) -> str:
    """envoy, sshd, nginx, node_exporter by substring (in that order), else other;
    no process known: unknown."""
    if not process_name:
        return "unknown"
    for known in KNOWN_SOURCES:
        if known in process_name:
            return known
    return "other"


@dataclass
class PortScan:
    total_ports: int = 0
    available: int = 0
    used_by_source: dict[str, int] = field(default_factory=dict)
    used_by_process: dict[int, str] = field(default_factory=dict)  # port -> process name
    scan_duration: float = 0.0


def listening(kinds: tuple[str, ...] = ("tcp", "udp")) -> dict[int, str | None]:
    """{port: process name or None} for every listening TCP / bound UDP socket."""
    names: dict[int, str | None] = {}
    out: dict[int, str | None] = {}
    for kind in kinds:
        for c in psutil.net_connections(kind=kind):
            if not c.laddr:
                continue
            if kind == "tcp" and c.status != psutil.CONN_LISTEN:
                continue
            if kind == "udp" and c.raddr:
                continue  # a connected UDP socket is a client, not a service
            name = None
            if c.pid:
                if c.pid not in names:
                    try:
                        names[c.pid] = psutil.Process(c.pid).name()
                    except (psutil.Error, OSError):
                        names[c.pid] = None
                name = names[c.pid]
            port = c.laddr.port
            if out.get(port) is None:
                out[port] = name
    return out


def scan(start: int, end: int) -> PortScan:
    began = time.perf_counter()
    used = listening()
    result = PortScan(total_ports=end - start + 1)
    counts: dict[str, int] = {}
    for port, name in used.items():
        if start <= port <= end:
            source = classify(name)
            counts[source] = counts.get(source, 0) + 1
            result.used_by_process[port] = name or "unknown"
    result.used_by_source = counts
    result.available = result.total_ports - sum(counts.values())
    result.scan_duration = time.perf_counter() - began
    return result
