"""Outcomes, not booleans (issue 17, part A): every check class against real sockets on
loopback (127.0.0.1 and ::1), the probe's new settings, and a round against a real
`sigma serve` with reference targets and a round report.

Nothing here sends a packet beyond loopback: "unreachable" comes from addresses the kernel
refuses to send TCP or ICMP to (broadcast, multicast: ENETUNREACH / EACCES at the call), and
"timeout" from a listener whose accept queue is full (the SYNs are dropped)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import socket
import ssl
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from serverproc import Server, free_port
from sigma.probe import checks
from sigma.probe.config import ConfigError, load

HOSTS = ("127.0.0.1", "::1")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _rst(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER on, zero seconds)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@contextlib.contextmanager
def serve(host: str, handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A listener on host:<free port>; each accepted connection handled in its own thread."""
    lsock = socket.socket(_family(host), socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, 0))
    lsock.listen(64)
    lsock.settimeout(0.2)
    stop = threading.Event()

    def run(conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            handle(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=run, args=(conn,), daemon=True).start()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield lsock.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        lsock.close()


@contextlib.contextmanager
def full_listener(host: str) -> Iterator[int]:
    """A listener with backlog 0 whose accept queue is filled and never accepted: the
    kernel drops further SYNs, a connect times out."""
    full = socket.socket(_family(host), socket.SOCK_STREAM)
    full.bind((host, 0))
    full.listen(0)
    fillers = []
    for _ in range(3):
        c = socket.socket(_family(host), socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex(full.getsockname()[:2])  # EINPROGRESS: fills the accept queue
        fillers.append(c)
    time.sleep(0.2)
    try:
        yield full.getsockname()[1]
    finally:
        for c in (*fillers, full):
            c.close()


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate made here (cryptography): (cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sigma-probe-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("sigma-probe-test.invalid")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(d / "cert.pem"), str(d / "key.pem")


@pytest.fixture(scope="module")
def tls_server_context(tls_cert) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*tls_cert)
    return ctx


# ---------------------------------------------------------------- connection handlers


def reset_at_once(conn: socket.socket) -> None:
    """An RST just after the accept (after the client saw its connect complete: an RST
    before that is a reset during connect, "reset" with or without the data probe)."""
    time.sleep(0.1)
    _rst(conn)


def read_then_reset(conn: socket.socket) -> None:
    """Reads what comes first (a TLS ClientHello), then resets."""
    conn.recv(4096)
    _rst(conn)


def silent(conn: socket.socket) -> None:
    """Reads whatever comes, never answers, until the client goes away (or 5 s)."""
    with contextlib.suppress(OSError):
        while conn.recv(4096):
            pass


def tls_answering(ctx: ssl.SSLContext) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)  # the request
            tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")

    return handle


def tls_resetting_on_data(ctx: ssl.SSLContext) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        tls = ctx.wrap_socket(conn, server_side=True)
        tls.recv(4096)  # the request: answered with an RST
        _rst(tls)

    return handle


class _Status(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):  # noqa: N802
        code = int(self.path.strip("/") or 200)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class _Status6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@contextlib.contextmanager
def http_server(host: str) -> Iterator[int]:
    """GET /<code> answers that status (/ : 200)."""
    srv = (_Status6 if ":" in host else ThreadingHTTPServer)((host, 0), _Status)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def url(host: str, port: int, path: str = "", scheme: str = "http") -> str:
    return checks.http_url(host, scheme, port) + path


def run(coro):
    return asyncio.run(coro)


# ---------------------------------------------------------------- tcp


@pytest.mark.parametrize("host", HOSTS)
def test_tcp_ok_refused_timeout_unreachable(host):
    async def main():
        with serve(host, silent) as port:
            ok = await checks.tcp(host, port, 2)
            t0 = time.monotonic()
            ok_without_probe = await checks.tcp(host, port, 2, data_probe=False)
            fast = time.monotonic() - t0
        refused = await checks.tcp(host, free_port(), 2)
        with full_listener(host) as port:
            t0 = time.monotonic()
            timeout = await checks.tcp(host, port, 0.5)
            waited = time.monotonic() - t0
        # the kernel refuses TCP to broadcast / multicast at connect(): no packet leaves
        unreachable = await checks.tcp("255.255.255.255" if ":" not in host else "ff02::1", 22, 2)
        return ok, ok_without_probe, fast, refused, timeout, waited, unreachable

    ok, ok_without_probe, fast, refused, timeout, waited, unreachable = run(main())
    assert ok.outcome == "ok" and ok.success and isinstance(ok.latency_ms, int)
    assert ok.loss_pct is None and ok.jitter_ms is None
    assert ok_without_probe.outcome == "ok" and fast < 0.25  # no 0.3 s read window
    # a refusal is an answer from the host: its latency is the time to the RST
    assert refused.outcome == "refused" and not refused.success
    assert isinstance(refused.latency_ms, int) and refused.latency_ms >= 0
    assert timeout == checks.Outcome("timeout") and 0.4 <= waited < 2
    assert unreachable == checks.Outcome("unreachable") and not unreachable.success


@pytest.mark.parametrize("host", HOSTS)
def test_tcp_reset_on_data_needs_the_data_probe(host):
    async def main():
        with serve(host, reset_at_once) as port:
            with_probe = await checks.tcp(host, port, 2)
            without = await checks.tcp(host, port, 2, data_probe=False)
        return with_probe, without

    with_probe, without = run(main())
    assert with_probe.outcome == "reset" and not with_probe.success
    assert isinstance(with_probe.latency_ms, int)  # the connect did complete
    assert without.outcome == "ok" and without.success


def test_tcp_data_and_eof_are_ok_and_the_window_is_bounded():
    def banner(conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-test\r\n")
        conn.recv(10)

    async def main():
        with serve("127.0.0.1", banner) as port:
            data = await checks.tcp("127.0.0.1", port, 2)
        with serve("127.0.0.1", lambda c: c.shutdown(socket.SHUT_WR)) as port:
            eof = await checks.tcp("127.0.0.1", port, 2)
        with serve("127.0.0.1", silent) as port:
            t0 = time.monotonic()
            quiet = await checks.tcp("127.0.0.1", port, 2)
            waited = time.monotonic() - t0
            t0 = time.monotonic()
            short = await checks.tcp("127.0.0.1", port, 0.1)  # min(0.3 s, what is left)
            short_waited = time.monotonic() - t0
        return data, eof, quiet, waited, short, short_waited

    data, eof, quiet, waited, short, short_waited = run(main())
    assert data.outcome == eof.outcome == quiet.outcome == short.outcome == "ok"
    assert 0.25 <= waited < 1 and short_waited < 0.25


# ---------------------------------------------------------------- tls


@pytest.mark.parametrize("host", HOSTS)
def test_tls_ok_failed_reset_refused_timeout(host, tls_server_context):
    ctx = tls_server_context

    async def main():
        out = {}
        with serve(host, tls_answering(ctx)) as port:
            out["ok"] = await checks.tls(host, port, 3)
            out["ok_no_probe"] = await checks.tls(host, port, 3, data_probe=False)
        with serve(host, read_then_reset) as port:
            out["hello_reset"] = await checks.tls(host, port, 3)
        with serve(host, lambda c: c.recv(4096)) as port:  # reads the hello, closes: EOF
            out["hello_eof"] = await checks.tls(host, port, 3)
        with serve(host, silent) as port:  # never answers the hello
            t0 = time.monotonic()
            out["hello_silence"] = await checks.tls(host, port, 0.5)
            out["silence_waited"] = time.monotonic() - t0
        with serve(host, lambda c: c.sendall(b"SSH-2.0-not-tls\r\n" * 4) or c.recv(10)) as port:
            out["not_tls"] = await checks.tls(host, port, 3)
        with serve(host, tls_resetting_on_data(ctx)) as port:
            out["data_reset"] = await checks.tls(host, port, 3)
            out["data_reset_no_probe"] = await checks.tls(host, port, 3, data_probe=False)
        out["refused"] = await checks.tls(host, free_port(), 2)
        with full_listener(host) as port:
            out["timeout"] = await checks.tls(host, port, 0.5)
        return out

    out = run(main())
    assert out["ok"].outcome == "ok" and out["ok"].success
    assert isinstance(out["ok"].latency_ms, int)
    assert out["ok_no_probe"].outcome == "ok"
    for case in ("hello_reset", "hello_eof", "hello_silence", "not_tls"):
        assert out[case].outcome == "tls_failed", case
        assert not out[case].success
        assert isinstance(out[case].latency_ms, int), case  # the TCP connect completed
    assert 0.4 <= out["silence_waited"] < 2
    assert out["data_reset"].outcome == "reset"
    assert out["data_reset_no_probe"].outcome == "ok"
    assert out["refused"].outcome == "refused"
    assert out["timeout"] == checks.Outcome("timeout")


def test_tls_sends_no_sni_and_verifies_nothing(tls_cert):
    """The handshake goes through with a self-signed certificate for another name, and the
    ClientHello carries no server name (targets are IP addresses)."""
    seen: list[str | None] = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*tls_cert)
    ctx.sni_callback = lambda sslobj, name, c: seen.append(name)

    async def main():
        with serve("127.0.0.1", tls_answering(ctx)) as port:
            return await checks.tls("127.0.0.1", port, 3)

    assert run(main()).outcome == "ok"
    assert seen == [None]


def test_tls_waiting_for_a_session_slot_is_not_timed(tls_server_context):
    """With every TLS session slot taken, a connected check waits for one; that wait is
    neither in its latency nor in its timeout."""

    async def main():
        slots = asyncio.Semaphore(1)
        with serve("127.0.0.1", tls_answering(tls_server_context)) as port:
            await slots.acquire()
            task = asyncio.create_task(checks.tls("127.0.0.1", port, 0.5, True, slots))
            await asyncio.sleep(0.8)  # longer than the check's whole timeout
            slots.release()
            return await task

    o = run(main())
    assert o.outcome == "ok" and o.latency_ms is not None and o.latency_ms < 500


# ---------------------------------------------------------------- http


@pytest.mark.parametrize("host", HOSTS)
def test_http_outcomes(host, tls_server_context):
    async def main():
        out = {}
        async with httpx.AsyncClient(verify=False, headers={"Connection": "close"}) as client:
            with http_server(host) as port:
                for code in (200, 404, 418, 500, 503):
                    out[code] = await checks.http(client, url(host, port, str(code)), 2)
            out["refused"] = await checks.http(client, url(host, free_port()), 2)
            with serve(host, reset_at_once) as port:
                out["reset"] = await checks.http(client, url(host, port), 2)
            with serve(host, lambda c: c.recv(4096)) as port:  # reads the request, says nothing
                out["eof"] = await checks.http(client, url(host, port), 2)
            with serve(host, silent) as port:
                out["silent"] = await checks.http(client, url(host, port), 0.5)
            with full_listener(host) as port:
                out["timeout"] = await checks.http(client, url(host, port), 0.5)
            with serve(host, tls_answering(tls_server_context)) as port:
                out["https"] = await checks.http(client, url(host, port, scheme="https"), 3)
            with serve(host, read_then_reset) as port:
                out["https_reset"] = await checks.http(client, url(host, port, scheme="https"), 3)
            with serve(host, silent) as port:
                out["https_silent"] = await checks.http(
                    client, url(host, port, scheme="https"), 0.5
                )
        return out

    out = run(main())
    for code in (200, 404, 418):
        assert out[code].outcome == "ok" and out[code].success, code
    for code in (500, 503):
        # an answer all the same: success stays true, as the original counted it
        assert out[code].outcome == "http_error" and out[code].success, code
        assert isinstance(out[code].latency_ms, int)
    assert out["refused"].outcome == "refused" and isinstance(out["refused"].latency_ms, int)
    assert out["reset"].outcome == "reset" and not out["reset"].success
    assert out["eof"].outcome == "reset"  # closed without an answer
    assert out["silent"].outcome == "timeout"
    assert out["timeout"].outcome == "timeout"
    assert out["https"].outcome == "ok"
    assert out["https_reset"].outcome == "tls_failed"
    assert out["https_silent"].outcome == "tls_failed"


def test_http_to_an_address_the_kernel_refuses_is_unreachable():
    async def main():
        async with httpx.AsyncClient() as client:
            return await checks.http(client, "http://255.255.255.255/", 2)

    assert run(main()) == checks.Outcome("unreachable")


# ---------------------------------------------------------------- icmp


def test_icmp_outcome_arithmetic():
    assert checks.icmp_outcome(3, [10.0, 20.0, 10.4]) == checks.Outcome("ok", 13, 0.0, 10)
    assert checks.icmp_outcome(4, [5.0, 7.0]) == checks.Outcome("ok", 6, 50.0, 2)
    assert checks.icmp_outcome(3, [4.2]) == checks.Outcome("ok", 4, 66.7, None)
    assert checks.icmp_outcome(3, []) == checks.Outcome("unreachable", None, 100.0, None)
    assert checks.icmp_outcome(3, [1.0]).success and not checks.icmp_outcome(3, []).success


def _icmp_mode() -> bool:
    try:
        return checks.icmp_privileged()
    except ConfigError:
        pytest.skip("this user may not send ICMP (not root, no CAP_NET_RAW, no ping group)")


@pytest.mark.parametrize("host", HOSTS)
def test_icmp_several_packets_loss_and_jitter(host):
    privileged = _icmp_mode()

    async def main():
        pinger = checks.Pinger(privileged)
        try:
            t0 = time.monotonic()
            out = await pinger.ping(host, 1, count=5)
            took = time.monotonic() - t0
            # the kernel refuses an echo request to broadcast without SO_BROADCAST: nothing
            # is sent, all five are lost
            lost = await pinger.ping("255.255.255.255", 0.5, count=5) if ":" not in host else None
            single = await pinger.ping(host, 1)
        finally:
            await pinger.close()
        return out, took, lost, single

    try:
        out, took, lost, single = run(main())
    except PermissionError:
        pytest.skip("ICMP sockets not permitted here")
    assert out.outcome == "ok" and out.success
    assert out.loss_pct == 0.0 and isinstance(out.latency_ms, int)
    assert isinstance(out.jitter_ms, int) and out.jitter_ms >= 0
    assert 4 * checks.ICMP_SPACING * 0.9 <= took < 1  # spaced, not waiting for a timeout
    if lost is not None:
        assert lost == checks.Outcome("unreachable", None, 100.0, None)
    assert single.outcome == "ok" and single.loss_pct == 0.0 and single.jitter_ms is None


# ---------------------------------------------------------------- configuration


def test_new_settings_defaults_environment_and_flags():
    cfg = load({"source": "cn-bj"}, environ={})
    assert cfg.check_types == ("icmp", "tcp") and cfg.tls_ports == (443,)
    assert cfg.carrier is None and cfg.region is None and cfg.control is False
    assert cfg.data_probe is True and cfg.icmp_count == 3
    env = {
        "PROBE_SOURCE": "cn-sh-cu",
        "PROBE_TYPES": "icmp,tcp,tls,http",
        "PROBE_CARRIER": "CU",
        "PROBE_REGION": "  Shanghai 上海 ",
        "PROBE_CONTROL": "yes",
        "PROBE_TLS_PORTS": "443, 8443,443",
        "PROBE_DATA_PROBE": "off",
        "PROBE_ICMP_COUNT": "10",
    }
    cfg = load({}, environ=env)
    assert cfg.check_types == ("icmp", "tcp", "tls", "http")
    assert (cfg.carrier, cfg.region, cfg.control) == ("cu", "Shanghai 上海", True)
    assert cfg.tls_ports == (443, 8443) and cfg.data_probe is False and cfg.icmp_count == 10
    # flags over the environment
    cfg = load(
        {"control": False, "data_probe": True, "tls_ports": ["8443,9443", "10443"]}, environ=env
    )
    assert cfg.control is False and cfg.data_probe is True
    assert cfg.tls_ports == (8443, 9443, 10443)
    assert load({"source": "x", "carrier": " "}, environ={}).carrier is None


@pytest.mark.parametrize(
    "setting, value, message",
    [
        ("carrier", "telecom", "carrier: 'telecom' is not one of ct, cu, cm, cernet, other"),
        ("region", "x" * 65, "region: 65 characters, at most 64"),
        ("region", "Bei\njing", "region: control characters are not allowed"),
        ("region", "Bei\x1bjing", "region: control characters"),
        ("control", "maybe", "control: 'maybe' is not true or false"),
        ("data_probe", "2", "data_probe: '2' is not true or false"),
        ("tls_ports", "443,0", "tls_ports: 0 is out of range [1, 65535]"),
        ("tls_ports", "https", "tls_ports: 'https' is not a number"),
        ("tls_ports", ",", "tls_ports: none given"),
        ("icmp_count", "0", "icmp_count: 0 is out of range [1, 10]"),
        ("icmp_count", "11", "icmp_count: 11 is out of range [1, 10]"),
        ("icmp_count", "three", "icmp_count: 'three' is not a number"),
        ("check_types", "tcp,quic", "check_types: quic; expected some of icmp, tcp, tls, http"),
    ],
)
def test_new_settings_refuse_bad_values(setting, value, message):
    with pytest.raises(ConfigError) as err:
        load({"source": "cn-bj", setting: value}, environ={})
    assert message in str(err.value)
    env_name = {
        "carrier": "PROBE_CARRIER",
        "region": "PROBE_REGION",
        "control": "PROBE_CONTROL",
        "data_probe": "PROBE_DATA_PROBE",
        "tls_ports": "PROBE_TLS_PORTS",
        "icmp_count": "PROBE_ICMP_COUNT",
        "check_types": "PROBE_TYPES",
    }[setting]
    with pytest.raises(ConfigError, match=f"^{setting}: "):
        load({"source": "cn-bj"}, environ={env_name: value})


def test_cli_flags_reach_the_configuration(cli):
    r = cli("probe", "run", "--source", "cn-bj", "--carrier", "ctt", "--once")
    assert r.code == 2 and "carrier: 'ctt' is not one of" in r.err
    r = cli("probe", "run", "--source", "cn-bj", "--icmp-count", "20", "--once")
    assert r.code == 2 and "icmp_count: 20 is out of range" in r.err
    r = cli("probe", "run", "--source", "cn-bj", "--tls-port", "70000", "--once")
    assert r.code == 2 and "tls_ports: 70000" in r.err
    r = cli("probe", "run", "--source", "cn-bj", "--region", "x" * 70, "--once")
    assert r.code == 2 and "region: 70 characters" in r.err


# ---------------------------------------------------------------- references, report


def test_references_are_validated():
    from sigma.probe.runner import MAX_REFERENCES, parse_references

    refs, bad = parse_references(
        [
            {
                "name": "ok",
                "ip": "192.0.2.1",
                "check_type": "tcp",
                "port": 443,
                "expect": "reachable",
            },
            {
                "name": "ping",
                "ip": "2001:DB8::1",
                "check_type": "icmp",
                "port": 7,
                "expect": "blocked",
            },
            {"name": "bad-ip", "ip": "example.com", "check_type": "tcp", "port": 443},
            {"name": "bad-type", "ip": "192.0.2.1", "check_type": "udp", "port": 53},
            {"name": "bad-port", "ip": "192.0.2.1", "check_type": "tcp", "port": "443"},
            {"name": "bad-expect", "ip": "192.0.2.1", "check_type": "tcp", "expect": "maybe"},
            "not an object",
        ]
    )
    assert [r["name"] for r in refs] == ["ok", "ping"] and bad == 5
    assert refs[1]["ip"] == "2001:db8::1" and refs[1]["port"] is None
    many = [{"name": f"r{i}", "ip": "192.0.2.1", "check_type": "icmp"} for i in range(150)]
    refs, bad = parse_references(many)
    assert len(refs) == MAX_REFERENCES and bad == 50
    with pytest.raises(ValueError):
        parse_references({"references": []})


def _mock_probe(tmp_path, handler, **settings):
    """A Probe whose API is an httpx MockTransport (no server), checking loopback targets."""
    from sigma.probe.runner import Probe

    cfg = load(
        {
            "source": "cn-mock",
            "check_types": "tcp",
            "spool_dir": str(tmp_path / "spool"),
            "tcp_timeout": "0.5",
            **settings,
        },
        environ={},
    )
    api = httpx.AsyncClient(
        base_url="http://sigma.test/api", transport=httpx.MockTransport(handler)
    )
    return Probe(cfg, api=api)


def test_round_checks_references_and_reports_outcomes(tmp_path, caplog):
    seen: dict[str, list] = {"batches": [], "reports": [], "refs": 0}

    def main_round(port_up: int, port_closed: int):
        def handler(request: httpx.Request) -> httpx.Response:
            path = request.url.path
            if path == "/api/ip-checks/targets":
                return httpx.Response(
                    200,
                    json=[
                        {"vps_id": str(uuid.uuid4()), "ip": "127.0.0.1", "ssh_port": port_up},
                        {"vps_id": str(uuid.uuid4()), "ip": "::1", "ssh_port": port_closed},
                    ],
                )
            if path == "/api/probes/references":
                seen["refs"] += 1
                return httpx.Response(
                    200,
                    json=[
                        {
                            "name": "up",
                            "ip": "127.0.0.1",
                            "check_type": "tcp",
                            "port": port_up,
                            "expect": "reachable",
                        },
                        {
                            "name": "closed",
                            "ip": "127.0.0.1",
                            "check_type": "tcp",
                            "port": port_closed,
                            "expect": "blocked",
                        },
                    ],
                )
            if path == "/api/ip-checks/batch":
                checks_ = json.loads(request.content)["checks"]
                seen["batches"].append(checks_)
                return httpx.Response(200, json={"inserted": len(checks_), "rejected": []})
            if path == "/api/probes/report":
                seen["reports"].append(json.loads(request.content))
                return httpx.Response(200, json={})
            return httpx.Response(404, json={"error": "not found"})

        return handler

    async def main():
        with serve("127.0.0.1", silent) as up:
            closed = free_port()
            probe = _mock_probe(
                tmp_path, main_round(up, closed), carrier="ct", region="Beijing", tcp_ports="1"
            )
            try:
                return await probe.run_round(), probe
            finally:
                await probe.close()

    caplog.set_level(logging.INFO, "sigma.probe")
    stats, probe = run(main())
    import sigma

    results = [c for b in seen["batches"] for c in b]
    assert len(results) == stats.checks == 4  # each address: its SSH port and port 1
    assert {(c["ip"], c["port"], c["outcome"]) for c in results} >= {
        ("::1", 1, "refused"),
        ("127.0.0.1", 1, "refused"),
    }
    for c in results:
        assert c["check_type"] == "tcp" and c["success"] == (c["outcome"] == "ok")
        assert "loss_pct" not in c and "jitter_ms" not in c and c["source"] == "cn-mock"
        assert set(c) == {
            "id", "vps_id", "ip", "check_type", "source", "success", "outcome",
            "latency_ms", "port", "checked_at",
        }  # fmt: skip
    assert stats.outcomes == {"ok": 1, "refused": 3}
    line = stats.line("cn-mock", (0, 0))
    assert "outcomes: ok 1, refused 3;" in line, line
    assert "references 2 (1 as expected)" in line, line  # the closed one answers with an RST
    (report,) = seen["reports"]
    assert report["source"] == "cn-mock" and report["carrier"] == "ct"
    assert report["region"] == "Beijing" and report["control"] is False
    assert report["version"] == sigma.__version__
    assert report["round"]["checks"] == 4 and report["round"]["seconds"] >= 0
    refs = {r["name"]: r for r in report["references"]}
    assert refs["up"]["outcome"] == "ok" and refs["closed"]["outcome"] == "refused"
    assert set(refs["up"]) == {
        "name", "ip", "check_type", "port", "outcome", "latency_ms", "checked_at"
    }  # fmt: skip
    assert probe.report_status == 200


def test_an_older_server_without_references_or_reports(tmp_path, caplog):
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/api/ip-checks/targets":
            return httpx.Response(200, json=[])
        if request.url.path == "/api/ip-checks/batch":
            return httpx.Response(200, json={"rejected": []})
        return httpx.Response(404, json={"error": "Not Found"})

    async def main():
        probe = _mock_probe(tmp_path, handler)
        try:
            for _ in range(3):
                await probe.run_round()
        finally:
            await probe.close()

    caplog.set_level(logging.INFO, "sigma.probe")
    run(main())
    assert calls.count("/api/probes/references") == 3  # asked each round: it may come
    assert calls.count("/api/probes/report") == 1  # one 404 stops the reports
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert sum("no reference targets (404" in m for m in infos) == 1
    assert sum("takes no round reports (404" in m for m in infos) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_failing_references_and_report_are_warnings_not_failures(tmp_path, caplog):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/ip-checks/targets":
            return httpx.Response(200, json=[])
        if request.url.path == "/api/probes/references":
            return httpx.Response(500, json={"error": "boom"})
        if request.url.path == "/api/probes/report":
            return httpx.Response(422, json={"error": "region: too long"})
        return httpx.Response(200, json={"rejected": []})

    async def main():
        probe = _mock_probe(tmp_path, handler)
        try:
            return [await probe.run_round() for _ in range(2)]
        finally:
            await probe.close()

    caplog.set_level(logging.INFO, "sigma.probe")
    stats = run(main())
    assert all(not s.aborted for s in stats)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("no reference targets this round: API error (500): boom" in m for m in warnings) == 1
    assert (
        sum("round report refused: API error (422): region: too long" in m for m in warnings) == 2
    )


def test_a_slow_server_holds_the_checks_back(tmp_path):
    """Backpressure: however slow the server takes batches, the results not posted yet are
    at most a batch being posted and one being filled (or `concurrency` checks under way,
    when more): the checks wait."""
    posted = 0
    done = 0
    unposted: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posted
        if request.url.path == "/api/ip-checks/targets":
            return httpx.Response(
                200,
                json=[
                    {"vps_id": str(uuid.uuid4()), "ip": "127.0.0.1", "ssh_port": closed}
                    for _ in range(40)
                ],
            )
        if request.url.path == "/api/ip-checks/batch":
            unposted.append(done - posted)
            await asyncio.sleep(0.05)
            posted += len(json.loads(request.content)["checks"])
            return httpx.Response(200, json={"rejected": []})
        return httpx.Response(404)

    closed = free_port()

    async def main():
        nonlocal done
        probe = _mock_probe(tmp_path, handler, concurrency="4", batch_size="3")
        measure = probe.measure

        async def counted(http, job):
            nonlocal done
            o = await measure(http, job)
            done += 1
            return o

        probe.measure = counted
        try:
            return await probe.run_round()
        finally:
            await probe.close()

    stats = run(main())
    assert stats.checks == stats.posted == posted == 40
    assert unposted and max(unposted) <= 3 + 4, unposted


# ---------------------------------------------------------------- against a real server


@pytest.fixture(scope="module")
def ref_listeners():
    """A reachable reference (a TCP listener) and a blocked one (SYNs dropped)."""
    with serve("127.0.0.1", silent) as up, full_listener("127.0.0.1") as dropped:
        yield up, dropped


@pytest.fixture(scope="module")
def ref_server(tmp_path_factory, ref_listeners):
    up, dropped = ref_listeners
    refs = [
        {"name": "ref-up", "ip": "127.0.0.1", "check_type": "tcp", "port": up,
         "expect": "reachable"},
        {"name": "ref-blocked", "ip": "127.0.0.1", "check_type": "tcp", "port": dropped,
         "expect": "blocked"},
    ]  # fmt: skip
    work = tmp_path_factory.mktemp("ref-server")
    srv = Server(
        f"sqlite:///{work / 'sigma.db'}",
        work,
        extra_env={"SIGMA_PROBE_REFERENCES": json.dumps(refs)},
    ).start()
    yield srv
    srv.stop()


def test_a_round_against_the_server_with_every_new_field(ref_server, tls_server_context, tmp_path):
    """Every check type with its new fields is accepted and stored; the references are
    checked and the round report makes the probe healthy."""
    from sigma.probe.runner import Probe

    server = ref_server
    icmp = True
    try:
        checks.icmp_privileged()
    except ConfigError:
        icmp = False
    with (
        serve("127.0.0.1", silent) as ssh,
        serve("127.0.0.1", tls_answering(tls_server_context)) as tls_port,
        http_server("127.0.0.1") as http_port,
    ):
        with server.admin() as c:
            vps = c.post(
                "/api/vps",
                json={
                    "hostname": f"outcomes-{uuid.uuid4().hex[:6]}",
                    "status": "active",
                    "ssh_port": ssh,
                    "ip_addresses": [{"ip": "127.0.0.1", "label": "china-telecom"}],
                },
            ).json()
        cfg = load(
            {
                "source": "cn-outcomes",
                "api_url": server.api,
                "api_key": server.api_key("probe"),
                "check_types": ("icmp," if icmp else "") + "tcp,tls,http",
                "tls_ports": str(tls_port),
                "http_scheme": "http",
                "http_port": str(http_port),
                "tcp_ports": str(free_port()),  # closed: refused
                "tcp_timeout": "0.5",
                "icmp_timeout": "1",
                "carrier": "ct",
                "region": "Beijing",
                "spool_dir": str(tmp_path / "spool"),
            },
            environ={},
        )

        async def main():
            probe = Probe(cfg)
            try:
                return await probe.run_round(), probe
            finally:
                await probe.close()

        stats, probe = run(main())
    n = 4 + icmp
    assert stats.checks == n and stats.posted == n and stats.dropped == stats.spooled == 0
    with server.admin() as c:
        stored = c.get("/api/ip-checks", params={"per_page": 100, "vps_id": vps["id"]}).json()
        got = {
            (r["check_type"], r["port"]): r for r in stored["data"] if r["source"] == "cn-outcomes"
        }
        assert len(got) == n, stored
        assert got[("tcp", ssh)]["outcome"] == "ok" and got[("tcp", ssh)]["success"] is True
        assert got[("tcp", int(cfg.tcp_ports[0]))]["outcome"] == "refused"
        assert got[("tcp", int(cfg.tcp_ports[0]))]["success"] is False
        assert got[("tls", tls_port)]["outcome"] == "ok"
        assert got[("http", http_port)]["outcome"] == "ok"
        if icmp:
            ping = got[("icmp", None)]
            assert ping["outcome"] == "ok" and ping["loss_pct"] == 0.0
            assert ping["jitter_ms"] is not None and ping["jitter_ms"] >= 0
        # the references and the round report
        assert {r["name"]: r["outcome"] for r in stats.references} == {
            "ref-up": "ok",
            "ref-blocked": "timeout",
        }
        assert probe.report_status == 200
        (me,) = [p for p in c.get("/api/probes").json() if p["source"] == "cn-outcomes"]
        assert me["carrier"] == "ct" and me["region"] == "Beijing" and me["control"] is False
        assert me["health"] == "healthy", me
        assert me["last_round"]["checks"] == n
