"""What the agent reports about its machine: hostname, IP addresses, system_info."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger("sigma.agent")

# interfaces that belong to containers on this host, not to the host itself
VIRTUAL_PREFIXES = ("docker", "br-", "veth", "cni", "flannel", "cali", "virbr", "lxc")
# tunnels and overlays: what they carry crosses a real interface too (which providers bill),
# so counting both would count it twice
TUNNEL_PREFIXES = (
    "tun",
    "tap",
    "wg",
    "ppp",
    "tailscale",
    "zt",
    "ipsec",
    "vti",
    "gre",
    "sit",
    "ip6tnl",
    "vxlan",
    "geneve",
    "kube",
    "dummy",
    "ifb",
)
MAX_COUNTER = 2**62  # what the server accepts for a counter


def detect_hostname() -> str:
    """/etc/host_hostname (a container's view of the host), /proc, gethostname, unknown."""
    for path in ("/etc/host_hostname", "/proc/sys/kernel/hostname"):
        try:
            name = Path(path).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if name:
            return name
    try:
        return socket.gethostname() or "unknown"
    except OSError:
        return "unknown"


def local_ips() -> list[dict[str, str]]:
    """Addresses of the host's interfaces, IPv4 and IPv6: no loopback, no link-local, no
    container bridges; RFC 1918 / ULA ones labelled `internal`. Sorted, de-duplicated."""
    found: dict[str, str] = {}
    for ifname, addrs in psutil.net_if_addrs().items():
        if ifname.startswith(VIRTUAL_PREFIXES):
            continue
        for a in addrs:
            if a.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            try:
                ip = ipaddress.ip_address(a.address.split("%")[0])
            except ValueError:
                continue
            if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
                continue
            found[str(ip)] = "internal" if ip.is_private and not _is_documentation(ip) else ""
    return [{"ip": ip, "label": found[ip]} for ip in sorted(found)]


def _is_documentation(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    nets = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
    return any(
        ip in ipaddress.ip_network(n) for n in nets if ipaddress.ip_network(n).version == ip.version
    )


def public_ip(client: Any, urls: tuple[str, ...], timeout: float = 5.0) -> str | None:
    """The first answer of the what-is-my-IP services that parses as an IP."""
    for url in urls:
        try:
            r = client.get(url, timeout=timeout)
            text = r.text.strip()
            return str(ipaddress.ip_address(text))
        except Exception as exc:  # noqa: BLE001 - any failure: next service
            log.debug("public IP from %s failed: %s", url, type(exc).__name__)
    return None


def discover_ips(client: Any, urls: tuple[str, ...]) -> list[dict[str, str]]:
    ips = local_ips()
    if not any(e["label"] != "internal" for e in ips) and urls:
        ip = public_ip(client, urls)
        if ip and ip not in {e["ip"] for e in ips}:
            ips.append({"ip": ip, "label": ""})
            ips.sort(key=lambda e: e["ip"])
    return ips


def traffic_counters() -> dict[str, int] | None:
    """{"rx_bytes", "tx_bytes"}: the bytes received and sent since boot, summed over the
    host's own interfaces (no loopback, container bridges or tunnels). psutil keeps a
    32-bit counter that wraps growing while the agent runs; a reboot or an agent restart
    after a wrap makes the sum go backwards, which the server counts as a reset. None when
    the counters cannot be read."""
    try:
        nics = psutil.net_io_counters(pernic=True)
    except Exception:  # noqa: BLE001 - no counters this time; the next heartbeat tries again
        return None
    rx = tx = 0
    for name, c in nics.items():
        if name in ("lo", "lo0") or name.startswith(VIRTUAL_PREFIXES + TUNNEL_PREFIXES):
            continue
        rx += c.bytes_recv
        tx += c.bytes_sent
    return {"rx_bytes": min(rx, MAX_COUNTER), "tx_bytes": min(tx, MAX_COUNTER)}


def system_info() -> dict[str, Any]:
    """The contract's fields (cpu_cores, ram_mb, disk_gb, uptime_seconds, load_avg) plus
    cpu_percent, mem_used_mb and disk_used_gb. Unreadable values are 0 (load_avg [])."""
    info: dict[str, Any] = {}
    info["cpu_cores"] = _safe(lambda: psutil.cpu_count() or 0, 0)
    mem = _safe(psutil.virtual_memory, None)
    info["ram_mb"] = mem.total // (1024 * 1024) if mem else 0
    try:
        st = os.statvfs("/")
        info["disk_gb"] = st.f_blocks * st.f_frsize // 1024**3
        info["disk_used_gb"] = round((st.f_blocks - st.f_bfree) * st.f_frsize / 1024**3, 2)
    except OSError:
        info["disk_gb"] = info["disk_used_gb"] = 0
    info["uptime_seconds"] = _safe(lambda: int(time.time() - psutil.boot_time()), 0)
    info["load_avg"] = _safe(lambda: [round(x, 2) for x in os.getloadavg()], [])
    info["cpu_percent"] = _safe(lambda: psutil.cpu_percent(interval=None), 0)
    info["mem_used_mb"] = (mem.total - mem.available) // (1024 * 1024) if mem else 0
    return info


def _safe(fn, default):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - an unreadable value is reported as the default
        return default
