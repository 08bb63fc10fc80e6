"""The checks. Each returns an `Outcome` (what the check saw, latency in ms or None, and for
ICMP the packet loss and jitter) and never raises. `success` (the original probe's boolean)
follows from the outcome: true for "ok" and "http_error" only.

Outcome rules:

- tcp: connect() completes (the three-way handshake finished) -> "ok", latency = connect
  time. ConnectionRefusedError -> "refused", latency = time to the RST (the host, or a box
  on the way, answered). No answer within the timeout -> "timeout". ConnectionResetError
  during connect -> "reset". EHOSTUNREACH, ENETUNREACH or any other OSError -> "unreachable".
  With the data probe (config `data_probe`, default on), a completed connect is followed by
  up to min(0.3 s, the rest of the timeout) of reading: a ConnectionResetError in that
  window -> "reset" (an RST on data, not on the SYN); EOF, data or silence -> "ok".
- tls: the TCP connect above (its failure classes apply), then a TLS handshake (no
  certificate verification, no SNI: targets are IP addresses; any TLS version the ssl
  library allows) over the socket, driven through the event loop with an ssl.SSLObject
  and memory BIOs (asyncio's SSL transport keeps a 256 KiB buffer per connection: 75 MB at
  300 at a time). The handshake completes -> "ok", latency = connect + handshake; any
  failure during the handshake (reset, EOF, TLS alert or error, the timeout running out)
  -> "tls_failed", latency = the connect time (the TCP handshake did complete). With the
  data probe, `HEAD / HTTP/1.0` is then sent and the answer read for the same short window:
  a reset (or a broken pipe) -> "reset"; application data, EOF, close_notify, silence or
  anything else -> "ok" (TLS 1.3 session tickets are not data: reading goes on). A round
  has at most TLS_SESSIONS handshakes going at once; a connected socket waiting for its
  turn is not timed (latency and timeout count the connect and the session only).
- http: a complete response status line and headers from the server within the timeout,
  over a completed TLS handshake for https (certificates are not verified: targets are
  addressed by IP; IPv6 addresses are bracketed). Any status is an answer: "ok", or
  "http_error" for a status >= 500 (`success` stays true, as the original counted any
  response). Failing while connecting: the tcp classes (refused, timeout, reset,
  unreachable). Failing during the TLS handshake of https (timeout included): "tls_failed".
  Failing after the connection was up: "timeout" when the time ran out, else "reset" (the
  connection was reset or closed, or what came back was not HTTP).
- icmp: `count` echo requests ~30 ms apart on one ICMP socket per address family
  (`Pinger`), each waited for up to the timeout; "ok" when any echo reply came, else
  "unreachable" (no reply, a destination-unreachable or time-exceeded error, or the request
  could not be sent). latency = mean RTT of the replies; loss_pct = lost / sent x 100 (one
  decimal); jitter_ms = mean absolute difference of consecutive RTTs (None with fewer than
  two replies). Raw sockets as root / with CAP_NET_RAW, else unprivileged ICMP datagram
  sockets (the group must be in net.ipv4.ping_group_range).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import ssl
import time
from pathlib import Path
from typing import Any, NamedTuple

from sigma.probe.config import ConfigError

CAP_NET_RAW = 13
SYSCTL = "net.ipv4.ping_group_range"

OK, REFUSED, TIMEOUT, RESET = "ok", "refused", "timeout", "reset"
TLS_FAILED, HTTP_ERROR, UNREACHABLE = "tls_failed", "http_error", "unreachable"
OUTCOMES = (OK, REFUSED, TIMEOUT, RESET, TLS_FAILED, HTTP_ERROR, UNREACHABLE)
SUCCESS_OUTCOMES = (OK, HTTP_ERROR)  # what the original's `success` is true for
HOST_UP_OUTCOMES = (OK, HTTP_ERROR, REFUSED)  # the host answered (a reference "reachable")

DATA_WINDOW = 0.3  # seconds of reading after a connect / handshake (the data probe)
ICMP_SPACING = 0.03  # seconds between the echo requests to one target
TLS_REQUEST = b"HEAD / HTTP/1.0\r\n\r\n"
# TLS sessions alive at once in a round (runner): OpenSSL holds ~40 KB for each during its
# handshake, 12 MB at 300; 64 keep a loopback round as fast (CPU-bound) and within the
# memory budget, and allow ~64 / RTT handshakes a second on real links
TLS_SESSIONS = 64
RECV = 16384


class Outcome(NamedTuple):
    outcome: str
    latency_ms: int | None = None
    loss_pct: float | None = None  # icmp only
    jitter_ms: int | None = None  # icmp only

    @property
    def success(self) -> bool:
        return self.outcome in SUCCESS_OUTCOMES


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


def icmp_outcome(sent: int, rtts: list[float]) -> Outcome:
    """The outcome of `sent` echo requests of which `rtts` (ms, in sending order) came back."""
    if not rtts:
        return Outcome(UNREACHABLE, None, 100.0 if sent else None, None)
    loss = round(100.0 * (sent - len(rtts)) / sent, 1) if sent else 0.0
    jitter = None
    if len(rtts) >= 2:
        diffs = [abs(b - a) for a, b in zip(rtts, rtts[1:], strict=False)]
        jitter = max(0, round(sum(diffs) / len(diffs)))
    return Outcome(OK, max(0, round(sum(rtts) / len(rtts))), loss, jitter)


async def icmp(ip: str, timeout: float, privileged: bool, count: int = 1) -> Outcome:
    """Echo requests on a socket of their own (icmplib.async_ping); rounds use Pinger."""
    from icmplib import async_ping
    from icmplib.exceptions import ICMPLibError

    try:
        host = await async_ping(
            ip, count=count, interval=ICMP_SPACING, timeout=timeout, privileged=privileged
        )
    except (ICMPLibError, OSError):
        return icmp_outcome(count, [])
    return icmp_outcome(host.packets_sent or count, list(host.rtts))


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

    def _key(self, version: int) -> tuple[int, int]:
        for _ in range(65536):
            self.seq = (self.seq + 1) % 65536
            if (version, self.seq) not in self.waiters:
                break
        return version, self.seq

    async def ping(self, ip: str, timeout: float, count: int = 1) -> Outcome:
        """`count` echo requests ICMP_SPACING apart, each waited for up to `timeout`."""
        from icmplib import ICMPRequest
        from icmplib.exceptions import ICMPLibError

        version = 6 if ":" in ip else 4
        loop = asyncio.get_running_loop()
        sent: list[tuple[tuple[int, int], asyncio.Future, float, float]] = []
        rtts: list[float] = []
        try:
            try:
                sock = self._sock(version)
            except (ICMPLibError, OSError):
                return icmp_outcome(count, [])
            for i in range(count):
                if i:
                    await asyncio.sleep(ICMP_SPACING)
                key = self._key(version)
                fut = loop.create_future()
                self.waiters[key] = fut
                request = ICMPRequest(
                    destination=ip, id=self.ident, sequence=key[1], payload=bytes(56)
                )
                try:
                    sock.send(request)
                except (ICMPLibError, OSError):
                    self.waiters.pop(key, None)
                    continue
                sent.append((key, fut, request.time, loop.time() + timeout))
            for _key, fut, t_sent, deadline in sent:
                try:
                    async with asyncio.timeout_at(deadline):
                        reply = await fut
                except TimeoutError:
                    continue
                if reply.type == ECHO_REPLY[version]:
                    rtts.append(max(0.0, (reply.time - t_sent) * 1000))
        finally:
            for key, *_ in sent:
                self.waiters.pop(key, None)
        return icmp_outcome(count, rtts)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for raw in self.socks.values():
            with contextlib.suppress(Exception):
                loop.remove_reader(raw._sock.fileno())
            raw.close()
        self.socks.clear()


def _connect_failure(exc: BaseException, t0: float) -> Outcome | None:
    """The outcome of a failed TCP connect (None: not a network failure)."""
    if isinstance(exc, ConnectionRefusedError):
        return Outcome(REFUSED, _ms(t0))
    if isinstance(exc, ConnectionResetError):
        return Outcome(RESET)
    if isinstance(exc, TimeoutError):  # before OSError: TimeoutError is one
        return Outcome(TIMEOUT)
    if isinstance(exc, OSError):
        return Outcome(UNREACHABLE)
    return None


async def _connect(ip: str, port: int, timeout: float) -> tuple[socket.socket | None, Outcome]:
    """A connected non-blocking socket and Outcome(ok, connect ms), or None and the failure."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError:
        return None, Outcome(UNREACHABLE)
    sock.setblocking(False)
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):  # no task per call, unlike wait_for
            await asyncio.get_running_loop().sock_connect(sock, (ip, port))
    except BaseException as exc:
        sock.close()
        failed = _connect_failure(exc, t0)
        if failed is None:
            raise
        return None, failed
    return sock, Outcome(OK, _ms(t0))


def _window(deadline: float) -> float:
    return min(DATA_WINDOW, deadline - time.perf_counter())


async def tcp(ip: str, port: int, timeout: float, data_probe: bool = True) -> Outcome:
    deadline = time.perf_counter() + timeout
    sock, result = await _connect(ip, port, timeout)
    if sock is None:
        return result
    try:
        window = _window(deadline)
        if data_probe and window > 0:
            try:
                async with asyncio.timeout(window):
                    await asyncio.get_running_loop().sock_recv(sock, RECV)
            except ConnectionResetError:
                return Outcome(RESET, result.latency_ms)
            except (OSError, TimeoutError):
                pass  # silence (or another error): the connection was up
        return result
    finally:
        sock.close()


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """No verification, no hostname check; the oldest version the library allows."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ValueError, ssl.SSLError):
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    return ctx


async def _handshake(
    sock: socket.socket, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, out: ssl.MemoryBIO
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        if data := out.read():
            await loop.sock_sendall(sock, data)
        data = await loop.sock_recv(sock, RECV)
        if not data:
            raise ConnectionAbortedError("EOF during the TLS handshake")
        incoming.write(data)
    if data := out.read():  # the client's Finished
        await loop.sock_sendall(sock, data)


async def tls(
    ip: str,
    port: int,
    timeout: float,
    data_probe: bool = True,
    handshakes: asyncio.Semaphore | None = None,
) -> Outcome:
    """`handshakes` bounds the TLS sessions alive at once (OpenSSL holds ~40 KB for each
    during its handshake); the wait for it is neither timed nor counted in the timeout."""
    t0 = time.perf_counter()
    sock, result = await _connect(ip, port, timeout)
    if sock is None:
        return result
    connect_s = time.perf_counter() - t0
    try:
        async with handshakes or contextlib.nullcontext():
            return await _tls_session(sock, result, timeout - connect_s, data_probe)
    finally:
        sock.close()


async def _tls_session(
    sock: socket.socket, connected: Outcome, timeout: float, data_probe: bool
) -> Outcome:
    """The handshake and the data probe over a connected socket, within `timeout`."""
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    deadline = t0 + timeout
    incoming, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls_context().wrap_bio(incoming, out, server_side=False, server_hostname=None)
    try:
        async with asyncio.timeout(max(0.0, timeout)):
            await _handshake(sock, obj, incoming, out)
    except (OSError, TimeoutError, ValueError):  # ssl.SSLError is an OSError
        return Outcome(TLS_FAILED, connected.latency_ms)
    handshake = Outcome(OK, (connected.latency_ms or 0) + _ms(t0))
    window = _window(deadline)
    if not data_probe or window <= 0:
        return handshake
    try:
        async with asyncio.timeout(window):
            obj.write(TLS_REQUEST)
            await loop.sock_sendall(sock, out.read())
            while data := await loop.sock_recv(sock, RECV):
                incoming.write(data)
                try:
                    obj.read(RECV)
                    break  # application data, or the end of the TLS session
                except ssl.SSLWantReadError:
                    continue  # only handshake messages (session tickets) so far
                except (ssl.SSLError, ValueError):
                    break
    except (ConnectionResetError, BrokenPipeError):
        return Outcome(RESET, handshake.latency_ms)
    except (OSError, TimeoutError, ValueError):
        pass
    return handshake


def http_url(ip: str, scheme: str, port: int | None) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}{'' if port in (None, default) else f':{port}'}/"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 16:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _has(exc: BaseException, *types: type[BaseException]) -> bool:
    return any(isinstance(e, types) for e in _chain(exc))


async def http(client: Any, url: str, timeout: float) -> Outcome:
    """One GET through `client` (an httpx.AsyncClient); the phase it failed in comes from
    httpcore's trace events (connect_tcp, start_tls, then the request)."""
    import httpx

    phase = "connect"

    async def trace(event: str, info: dict[str, Any]) -> None:
        nonlocal phase
        if event == "connection.start_tls.started":
            phase = "tls"
        elif event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            phase = "request"

    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with client.stream("GET", url, timeout=timeout, extensions={"trace": trace}) as r:
                status = r.status_code
        return Outcome(HTTP_ERROR if status >= 500 else OK, _ms(t0))
    except (httpx.HTTPError, OSError, TimeoutError, ValueError) as exc:
        timed_out = _has(exc, TimeoutError, httpx.TimeoutException)
        if phase == "tls":
            return Outcome(TLS_FAILED)
        if phase == "connect":
            if _has(exc, ConnectionRefusedError):
                return Outcome(REFUSED, _ms(t0))
            if timed_out:
                return Outcome(TIMEOUT)
            if _has(exc, ConnectionResetError):
                return Outcome(RESET)
            return Outcome(UNREACHABLE)
        return Outcome(TIMEOUT if timed_out else RESET)
