"""Reading served certificates: real TLS servers on 127.0.0.1 with certificates made here
(expired, valid 30 days, wildcard, common name only), chosen by SNI; and the servers that
have none to give (refusing, silent, plain HTTP, closing)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sigma.cloud import certs
from sigma.cloud.certs import CertError, CertInfo, certificate, check_many, covers

NOW = datetime.now(UTC).replace(microsecond=0)


def make_cert(
    directory: Path,
    label: str,
    common_name: str,
    sans: list[str] | None,
    not_after: datetime,
) -> ssl.SSLContext:
    """A self-signed certificate and a server context serving it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sigma Test CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{label} issuer"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=90))
        .not_valid_after(not_after)
    )
    if sans is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in sans]), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    cert_path, key_path = directory / f"{label}.crt", directory / f"{label}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


def serve(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that runs `handle` on each connection in a thread; yields
    its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=_handled, args=(handle, conn), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _handled(handle: Callable[[socket.socket], None], conn: socket.socket) -> None:
    try:
        conn.settimeout(5)
        handle(conn)
    except OSError:
        pass
    finally:
        conn.close()


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ssl.SSLContext]:
    directory = tmp_path_factory.mktemp("certs")
    return {
        "valid.test": make_cert(
            directory,
            "valid",
            "valid.test",
            ["valid.test", "www.valid.test"],
            NOW + timedelta(days=30),
        ),
        "expired.test": make_cert(
            directory, "expired", "expired.test", ["expired.test"], NOW - timedelta(days=1)
        ),
        "wild.test": make_cert(
            directory, "wild", "wild.test", ["*.wild.test", "wild.test"], NOW + timedelta(days=60)
        ),
        "cn-only.test": make_cert(directory, "cn", "cn-only.test", None, NOW + timedelta(days=10)),
    }


@pytest.fixture(scope="module")
def tls_port(contexts: dict[str, ssl.SSLContext]) -> Iterator[int]:
    """A TLS server choosing its certificate by SNI (valid.test's when the name is unknown)."""
    default = contexts["valid.test"]

    def choose(sslobj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        if name:
            for suffix, context in contexts.items():
                if name == suffix or name.endswith("." + suffix):
                    sslobj.context = context
                    return

    default.sni_callback = choose  # type: ignore[assignment]

    def handshake(conn: socket.socket) -> None:
        with default.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)  # until the client closes

    yield from serve(handshake)


def test_valid_certificate(tls_port: int) -> None:
    info = certificate("127.0.0.1", "valid.test", tls_port, timeout=2)
    assert isinstance(info, CertInfo)
    assert info.not_after == NOW + timedelta(days=30)
    assert info.not_after.tzinfo is not None and info.not_after.utcoffset() == timedelta(0)
    assert info.subject == "valid.test"
    assert "CN=valid issuer" in info.issuer and "O=Sigma Test CA" in info.issuer
    assert info.names == ["valid.test", "www.valid.test"]
    assert info.matches
    assert certificate("127.0.0.1", "WWW.Valid.Test.", tls_port, timeout=2).matches


def test_expired_certificate_is_read_all_the_same(tls_port: int) -> None:
    info = certificate("127.0.0.1", "expired.test", tls_port, timeout=2)
    assert info.not_after == NOW - timedelta(days=1)
    assert info.not_after < datetime.now(UTC)
    assert info.names == ["expired.test"]
    assert info.matches


def test_wildcard(tls_port: int) -> None:
    info = certificate("127.0.0.1", "api.wild.test", tls_port, timeout=2)
    assert info.names == ["*.wild.test", "wild.test"]
    assert info.matches
    assert certificate("127.0.0.1", "wild.test", tls_port, timeout=2).matches
    # one level only
    assert not certificate("127.0.0.1", "a.b.wild.test", tls_port, timeout=2).matches


def test_a_name_the_server_has_no_certificate_for(tls_port: int) -> None:
    info = certificate("127.0.0.1", "other.example", tls_port, timeout=2)
    assert info.subject == "valid.test"  # the default one
    assert not info.matches


def test_common_name_only(tls_port: int) -> None:
    info = certificate("127.0.0.1", "cn-only.test", tls_port, timeout=2)
    assert info.names == []
    assert info.subject == "cn-only.test"
    assert info.matches


@pytest.mark.parametrize(
    "pattern, name, expected",
    [
        ("example.com", "example.com", True),
        ("Example.COM.", "example.com", True),
        ("example.com", "www.example.com", False),
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.com", "example.com", False),
        ("w*.example.com", "www.example.com", False),
        ("*.*.example.com", "a.b.example.com", False),
        ("", "example.com", False),
    ],
)
def test_covers(pattern: str, name: str, expected: bool) -> None:
    assert covers(pattern, name) is expected


def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_refused() -> None:
    with pytest.raises(CertError, match="refused"):
        certificate("127.0.0.1", "valid.test", refused_port(), timeout=0.5)


def test_a_server_that_never_answers_times_out() -> None:
    def silent(conn: socket.socket) -> None:
        time.sleep(3)

    for port in serve(silent):
        started = time.monotonic()
        with pytest.raises(CertError, match="no answer within 0.5 s"):
            certificate("127.0.0.1", "valid.test", port, timeout=0.5)
        assert time.monotonic() - started < 1.5


def test_a_server_dripping_bytes_is_still_bounded_by_the_timeout() -> None:
    def drip(conn: socket.socket) -> None:
        # a TLS record header, then one byte at a time, each well within the timeout
        conn.sendall(b"\x16\x03\x03\x40\x00")
        for _ in range(30):
            time.sleep(0.1)
            conn.sendall(b"\x02")

    for port in serve(drip):
        started = time.monotonic()
        with pytest.raises(CertError):
            certificate("127.0.0.1", "valid.test", port, timeout=0.5)
        assert time.monotonic() - started < 1.5


def test_plain_http() -> None:
    def http(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    for port in serve(http):
        with pytest.raises(CertError, match="does not speak TLS|closed"):
            certificate("127.0.0.1", "valid.test", port, timeout=2)


def test_a_server_that_hangs_up() -> None:
    def hang_up(conn: socket.socket) -> None:
        conn.recv(4096)

    for port in serve(hang_up):
        with pytest.raises(CertError, match="closed"):
            certificate("127.0.0.1", "valid.test", port, timeout=2)


def test_no_certificate_or_an_unreadable_one(
    tls_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ssl.SSLSocket, "getpeercert", lambda self, binary_form=False: None)
    with pytest.raises(CertError, match="no certificate"):
        certificate("127.0.0.1", "valid.test", tls_port, timeout=2)
    monkeypatch.setattr(ssl.SSLSocket, "getpeercert", lambda self, binary_form=False: b"\x30\x03x")
    with pytest.raises(CertError, match="cannot be read"):
        certificate("127.0.0.1", "valid.test", tls_port, timeout=2)


@pytest.mark.parametrize("host", ["valid.test", "localhost", "", "999.1.1.1"])
def test_the_host_must_be_an_address(host: str) -> None:
    with pytest.raises(CertError, match="not an IP address"):
        certificate(host, "valid.test", 443, timeout=0.5)


@pytest.mark.parametrize(
    "name", ["", ".", "a..b", "x" * 64 + ".test", "127.0.0.1", "a b.test", "*.test"]
)
def test_the_server_name_must_be_a_name(name: str) -> None:
    with pytest.raises(CertError):
        certificate("127.0.0.1", name, refused_port(), timeout=0.5)


def test_many_names_stay_bounded(tls_port: int) -> None:
    refused = refused_port()
    targets = [
        ("127.0.0.1", "valid.test", tls_port),
        ("127.0.0.1", "expired.test", tls_port),
        ("127.0.0.1", "api.wild.test", tls_port),
        ("127.0.0.1", "valid.test", refused),
        ("localhost", "valid.test", tls_port),
        ("127.0.0.1", "valid.test", tls_port),  # twice: checked once
    ]
    results = check_many(targets, timeout=2, workers=3)
    assert list(results) == targets[:5]
    assert isinstance(results[targets[0]], CertInfo)
    assert results[targets[1]].not_after < datetime.now(UTC)  # type: ignore[union-attr]
    assert results[targets[2]].matches  # type: ignore[union-attr]
    assert isinstance(results[targets[3]], CertError)
    assert isinstance(results[targets[4]], CertError)
    assert check_many([], timeout=1) == {}


def test_many_silent_servers_take_one_timeout_per_round() -> None:
    def silent(conn: socket.socket) -> None:
        time.sleep(3)

    for port in serve(silent):
        targets = [("127.0.0.1", f"n{n}.test", port) for n in range(8)]
        started = time.monotonic()
        results = check_many(targets, timeout=0.5, workers=8)
        assert time.monotonic() - started < 1.5
        assert all(isinstance(result, CertError) for result in results.values())


def test_the_pool_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = certs.ThreadPoolExecutor

    def spy(max_workers: int, **kwargs: object) -> object:
        sizes.append(max_workers)
        return real(max_workers=max_workers, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(certs, "ThreadPoolExecutor", spy)
    targets = [("127.0.0.1", f"{n}.test", 0) for n in range(100)]
    results = check_many(targets, timeout=0.1, workers=1000)
    assert sizes == [certs.MAX_WORKERS]
    assert all(isinstance(result, CertError) for result in results.values())  # port 0
