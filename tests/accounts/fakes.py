"""Loopback stand-ins of the Hetzner Cloud and Cloudflare APIs on one FakeApi (each account
is told apart by its token), the accounts that point at them, and a TLS server serving a
certificate made here."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.cloud.fakeapi import FakeApi, Reply, Request

UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "unable to authenticate"}}


# ---------------------------------------------------------------------------- Hetzner


def server(
    ident: int,
    name: str,
    ipv4: str | None = "203.0.113.10",
    ipv6: str | None = None,
    *,
    location: str = "fsn1",
    country: str = "DE",
    city: str = "Falkenstein",
    price: str = "4.5101",
    traffic: int | None = 21990232555520,
    status: str = "running",
    cores: int = 2,
    memory: float = 4.0,
    disk: int = 40,
    **extra: Any,
) -> dict[str, Any]:
    """One server as `GET /v1/servers` lists it (the fields the adapter reads)."""
    item = {
        "id": ident,
        "name": name,
        "status": status,
        "public_net": {
            "ipv4": {"ip": ipv4} if ipv4 is not None else None,
            "ipv6": {"ip": ipv6} if ipv6 is not None else None,
        },
        "server_type": {
            "name": "cx22",
            "cores": cores,
            "memory": memory,
            "disk": disk,
            "prices": [
                {
                    "location": location,
                    "price_monthly": {"net": "3.79", "gross": price},
                    "included_traffic": traffic,
                }
            ],
        },
        "location": {"name": location, "country": country, "city": city},
        "included_traffic": traffic,
        "outgoing_traffic": 123456789,
    }
    item.update(extra)
    return item


class HetznerFake:
    """`GET /v1/servers`: each token's servers, `per_page` to a page; an unknown token is a
    401. `fail[token]` is a function of (request, page) returning a Reply to send instead
    (or None to answer normally); `delay` seconds before each answer."""

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.servers: dict[str, list[dict[str, Any]]] = {}
        self.fail: dict[str, Callable[[Request, int], Reply | None]] = {}
        self.per_page = 50
        self.delay = 0.0
        api.route("GET", "/v1/servers", self._handle)

    @property
    def url(self) -> str:
        return self.api.url

    def requests_of(self, token: str) -> list[Request]:
        return [r for r in self.api.requests if r.headers.get("authorization") == f"Bearer {token}"]

    def _handle(self, request: Request) -> Any:
        if self.delay:
            time.sleep(self.delay)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        page = int(request.arg("page", "1") or "1")
        if token in self.fail:
            reply = self.fail[token](request, page)
            if reply is not None:
                return reply
        if token not in self.servers:
            return Reply(401, UNAUTHORIZED)
        servers = self.servers[token]
        chunk = servers[(page - 1) * self.per_page : page * self.per_page]
        more = page * self.per_page < len(servers)
        return {
            "servers": chunk,
            "meta": {
                "pagination": {
                    "page": page,
                    "per_page": self.per_page,
                    "previous_page": page - 1 or None,
                    "next_page": page + 1 if more else None,
                    "last_page": max(1, -(-len(servers) // self.per_page)),
                    "total_entries": len(servers),
                }
            },
        }


# ------------------------------------------------------------------------- Cloudflare

CF_ACCOUNT = "a" * 32


def zone_id(n: int) -> str:
    return f"{n:032x}"


def envelope(result: Any, page: int = 1, total_pages: int = 1) -> dict[str, Any]:
    return {
        "success": True,
        "errors": [],
        "messages": [],
        "result": result,
        "result_info": {"page": page, "per_page": 100, "total_pages": total_pages},
    }


class CloudflareFake:
    """API v4 under /client/v4: `zones` {zone number: name}, `records` {zone number: [record
    items]}, `expiry` {domain name: ISO time} from Registrar. One token only (`token`); any
    other gets Cloudflare's 403."""

    def __init__(self, api: FakeApi, token: str = "cf-token-Zq8") -> None:
        self.api = api
        self.token = token
        self.zones: dict[int, str] = {}
        self.records: dict[int, list[dict[str, Any]]] = {}
        self.expiry: dict[str, str] = {}
        self.fail: Reply | None = None
        api.route("GET", "/client/v4/zones", self._zones)
        api.route("GET", f"/client/v4/accounts/{CF_ACCOUNT}/registrar/domains", self._registrar)

    @property
    def url(self) -> str:
        return self.api.url + "/client/v4"

    def _refused(self, request: Request) -> Reply | None:
        if self.fail is not None:
            return self.fail
        if request.headers.get("authorization") != f"Bearer {self.token}":
            failure = {"code": 10000, "message": "Authentication error"}
            return Reply(403, {"success": False, "errors": [failure], "result": None})
        return None

    def _zones(self, request: Request) -> Any:
        if (refused := self._refused(request)) is not None:
            return refused
        for n in self.zones:  # (re)route each zone's records
            self.api.route("GET", f"/client/v4/zones/{zone_id(n)}/dns_records", self._records_of(n))
        return envelope(
            [
                {"id": zone_id(n), "name": name, "status": "active", "account": {"id": CF_ACCOUNT}}
                for n, name in self.zones.items()
            ]
        )

    def _records_of(self, n: int) -> Callable[[Request], Any]:
        def handler(request: Request) -> Any:
            if (refused := self._refused(request)) is not None:
                return refused
            return envelope(self.records.get(n, []))

        return handler

    def _registrar(self, request: Request) -> Any:
        if (refused := self._refused(request)) is not None:
            return refused
        return envelope([{"name": name, "expires_at": when} for name, when in self.expiry.items()])


def record(
    rid: str, name: str, content: str, type_: str = "A", proxied: bool = False
) -> dict[str, Any]:
    return {
        "id": rid,
        "name": name,
        "type": type_,
        "content": content,
        "proxied": proxied,
        "ttl": 300,
    }


# ------------------------------------------------------------------------------ TLS


def tls_context(directory: Path, common_name: str, not_after: datetime) -> ssl.SSLContext:
    """A server context serving a self-signed certificate for `common_name`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=90))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
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


@contextmanager
def tls_server(context: ssl.SSLContext, host: str = "127.0.0.1") -> Iterator[int]:
    """A TLS server on `host` that completes each handshake; yields its port."""
    listener = socket.create_server((host, 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        try:
            conn.settimeout(3)
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except OSError:
            pass
        finally:
            conn.close()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        listener.close()
