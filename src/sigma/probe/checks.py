"""The checks. Each returns (success, latency in ms or None) and never raises.

- icmp: one echo request (icmplib), privileged raw socket as root / with CAP_NET_RAW, else an
  unprivileged ICMP datagram socket (needs the group in net.ipv4.ping_group_range);
- tcp: success only when connect() completes, i.e. the three-way handshake finished: a RST
  (refused, or injected by a firewall) and a timeout are failures;
- http: a complete response status line and headers from the server (any status) within the
  timeout, over a completed TLS handshake for https (certificates are not verified: targets
  are addressed by IP). IPv6 addresses are bracketed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path
from typing import Any

from sigma.probe.config import ConfigError

CAP_NET_RAW = 13
SYSCTL = "net.ipv4.ping_group_range"


def icmp_privileged() -> bool:
    """True: raw ICMP sockets (root or CAP_NET_RAW); False: unprivileged ICMP sockets are
    allowed for our group. Otherwise a ConfigError naming the sysctl."""
    if os.geteuid() == 0 or _has_cap(CAP_NET_RAW):
        return True
    try:
        lo, hi = (int(x) for x in Path("/proc/sys/net/ipv4/ping_group_range").read_text().split())
    except (OSError, ValueError):
        lo, hi = 1, 0
    groups = {os.getegid(), *os.getgroups()}
    if any(lo <= g <= hi for g in groups):
        return False
    gid = os.getegid()
    raise ConfigError(
        f"check_types: ICMP needs root, CAP_NET_RAW, or unprivileged ICMP sockets for group {gid}: "
        f"run `sysctl -w {SYSCTL}=\"{gid} {gid}\"` (or \"0 2147483647\"), grant CAP_NET_RAW "
        f"(setcap cap_net_raw+ep, or cap_add: NET_RAW in compose), or drop icmp from --check-types"
    )


def _has_cap(bit: int) -> bool:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << bit))
    except (OSError, ValueError):
        pass
    return False


def _ms(t0: float) -> int:
    return max(0, round((time.perf_counter() - t0) * 1000))


async def icmp(ip: str, timeout: float, privileged: bool) -> tuple[bool, int | None]:
    from icmplib import async_ping
    from icmplib.exceptions import ICMPLibError

    try:
        host = await async_ping(ip, count=1, timeout=timeout, privileged=privileged)
    except (ICMPLibError, OSError):
        return False, None
    if not host.is_alive:
        return False, None
    return True, max(0, round(host.avg_rtt))


async def tcp(ip: str, port: int, timeout: float) -> tuple[bool, int | None]:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    loop = asyncio.get_running_loop()
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError:
        return False, None
    sock.setblocking(False)
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (ip, port)), timeout)
        return True, _ms(t0)
    except (OSError, TimeoutError):
        return False, None
    finally:
        sock.close()


def http_url(ip: str, scheme: str, port: int | None) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}{'' if port in (None, default) else f':{port}'}/"


async def http(client: Any, url: str, timeout: float) -> tuple[bool, int | None]:
    import httpx

    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with client.stream("GET", url, timeout=timeout) as r:
                _ = r.status_code
        return True, _ms(t0)
    except (httpx.HTTPError, OSError, TimeoutError, ValueError):
        return False, None
