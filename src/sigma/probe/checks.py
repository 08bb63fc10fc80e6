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
import contextlib
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
        f'run `sysctl -w {SYSCTL}="{gid} {gid}"` (or "0 2147483647"), grant CAP_NET_RAW '
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
    """One echo request on its own socket (icmplib.async_ping); rounds use Pinger."""
    from icmplib import async_ping
    from icmplib.exceptions import ICMPLibError

    try:
        host = await async_ping(ip, count=1, timeout=timeout, privileged=privileged)
    except (ICMPLibError, OSError):
        return False, None
    if not host.is_alive:
        return False, None
    return True, max(0, round(host.avg_rtt))


ECHO_REPLY = {4: 0, 6: 129}
ERRORS = {4: (3, 11), 6: (1, 3)}  # destination unreachable, time exceeded


class Pinger:
    """Echo requests of a whole round over one ICMP socket per address family, replies
    matched to requests by sequence number. (With one raw socket per request, as
    icmplib.async_ping does, every reply is copied to every open socket: quadratic work
    at a few hundred pings in flight.) Payload 56 zero bytes, like the original."""

    def __init__(self, privileged: bool):
        self.privileged = privileged
        self.ident = int.from_bytes(os.urandom(2), "big")
        self.seq = int.from_bytes(os.urandom(2), "big")
        self.socks: dict[int, Any] = {}
        self.waiters: dict[tuple[int, int], asyncio.Future] = {}

    def _sock(self, version: int) -> Any:
        if version not in self.socks:
            from icmplib import ICMPv4Socket, ICMPv6Socket

            raw = (ICMPv4Socket if version == 4 else ICMPv6Socket)(privileged=self.privileged)
            raw._sock.setblocking(False)
            # hundreds of replies may arrive at once: a default receive buffer drops some
            for opt in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
                try:
                    raw._sock.setsockopt(socket.SOL_SOCKET, opt, 8 * 1024 * 1024)
                    break
                except OSError:
                    continue
            self.socks[version] = raw
            asyncio.get_running_loop().add_reader(raw._sock.fileno(), self._drain, version)
        return self.socks[version]

    def _drain(self, version: int) -> None:
        """Reader callback: take every datagram waiting on the socket, wake the pings."""
        raw = self.socks.get(version)
        if raw is None:
            return
        for _ in range(4096):
            try:
                packet, addr = raw._sock.recvfrom(1024)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            reply = raw._parse_reply(packet=packet, source=addr[0], current_time=time.time())
            if reply is None:
                continue
            if reply.type != ECHO_REPLY[version] and reply.type not in ERRORS[version]:
                continue  # e.g. our own echo requests seen on loopback by a raw socket
            if self.privileged and reply.id != self.ident:
                continue
            fut = self.waiters.get((version, reply.sequence))
            if fut is not None and not fut.done():
                fut.set_result(reply)

    async def ping(self, ip: str, timeout: float) -> tuple[bool, int | None]:
        from icmplib import ICMPRequest
        from icmplib.exceptions import ICMPLibError

        version = 6 if ":" in ip else 4
        for _ in range(65536):
            self.seq = (self.seq + 1) % 65536
            if (version, self.seq) not in self.waiters:
                break
        key = (version, self.seq)
        fut = asyncio.get_running_loop().create_future()
        self.waiters[key] = fut
        try:
            sock = self._sock(version)
            request = ICMPRequest(
                destination=ip, id=self.ident, sequence=self.seq, payload=bytes(56)
            )
            sock.send(request)
            async with asyncio.timeout(timeout):
                reply = await fut
        except (ICMPLibError, OSError, TimeoutError):
            return False, None
        finally:
            self.waiters.pop(key, None)
        if reply.type != ECHO_REPLY[version]:
            return False, None
        return True, max(0, round((reply.time - request.time) * 1000))

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for raw in self.socks.values():
            with contextlib.suppress(Exception):
                loop.remove_reader(raw._sock.fileno())
            raw.close()
        self.socks.clear()


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
        async with asyncio.timeout(timeout):  # no task per call, unlike wait_for
            await loop.sock_connect(sock, (ip, port))
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
