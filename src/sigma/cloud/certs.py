"""The TLS certificate a server presents for a name: when it expires, whom it names.

`certificate(host, server_name)` connects to an address (never a DNS lookup: the DNS sync
knows which address a name points at), sends `server_name` as SNI and reads the certificate
served, WITHOUT verifying it: an expired, self-signed or mismatched certificate is exactly
what this is for. Connecting and the handshake together take at most `timeout` seconds.

`check_many` does many at once on a bounded pool of threads, so a sync of N names takes
about ceil(N / workers) * timeout at worst.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import NameOID

from sigma.cloud.base import text

MAX_NAMES = 100  # SAN names kept of one certificate
NAME_LIMIT = 255  # characters kept of each
MAX_WORKERS = 32  # threads of one check_many, whatever it is asked

_CLOSED = "the server closed the connection in the TLS handshake"

Target = tuple[str, str, int]  # (address, server name, port)


class CertError(Exception):
    """The certificate could not be read: the message says why, briefly, for the operator."""


@dataclass(frozen=True)
class CertInfo:
    not_after: datetime  # aware, UTC
    subject: str  # the subject's common name ("" if none)
    issuer: str  # the issuer's distinguished name (RFC 4514)
    names: list[str] = field(default_factory=list)  # SAN DNS names, lower case
    matches: bool = False  # whether the certificate covers the server name asked for


def certificate(host: str, server_name: str, port: int = 443, timeout: float = 5.0) -> CertInfo:
    """The certificate `host`:`port` serves for `server_name` (sent as SNI). Raises CertError
    when there is none to read: refused, timed out, not TLS, no certificate."""
    address = _address(host)
    name = _server_name(server_name)
    if not 0 < port < 65536:
        raise CertError(f"{port} is not a port")
    where = f"{address}:{port}" if ":" not in address else f"[{address}]:{port}"
    deadline = time.monotonic() + timeout
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # read what is served, whatever it is
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw:
            raw.settimeout(max(0.001, deadline - time.monotonic()))
            with context.wrap_socket(
                raw, server_hostname=name, do_handshake_on_connect=False
            ) as tls:
                tls.do_handshake()  # bounded by the socket's timeout as a whole
                der = tls.getpeercert(binary_form=True)
    except TimeoutError:
        raise CertError(f"{where}: no answer within {timeout:g} s") from None
    except ConnectionRefusedError:
        raise CertError(f"{where}: connection refused") from None
    except ssl.SSLError as exc:
        reason = (exc.reason or "").replace("_", " ").lower()
        if isinstance(exc, ssl.SSLEOFError) or "eof" in reason:
            raise CertError(f"{where}: {_CLOSED}") from None
        if "wrong version number" in reason or "record layer" in reason:
            raise CertError(f"{where}: the server does not speak TLS") from None
        raise CertError(f"{where}: TLS handshake failed ({text(reason, 80) or 'error'})") from None
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        raise CertError(f"{where}: {_CLOSED}") from None
    except OSError as exc:
        reason = text(exc.strerror or type(exc).__name__, 80)
        raise CertError(f"{where}: cannot connect ({reason})") from None
    if not der:
        raise CertError(f"{where}: the server sent no certificate")
    return parse(der, name)


def parse(der: bytes, server_name: str = "") -> CertInfo:
    """A CertInfo of a DER certificate; `matches` for `server_name` (an A-label name)."""
    try:
        cert = x509.load_der_x509_certificate(der)
        not_after = cert.not_valid_after_utc
    except ValueError:
        raise CertError("the certificate served cannot be read") from None
    try:
        subject = _common_name(cert.subject)
    except ValueError:
        subject = ""
    try:
        issuer = text(cert.issuer.rfc4514_string())
    except ValueError:
        issuer = ""
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for value in san.get_values_for_type(x509.DNSName)[:MAX_NAMES]:
            cut = text(value, NAME_LIMIT).lower()
            if cut and cut not in names:
                names.append(cut)
    except (x509.ExtensionNotFound, ValueError):
        pass  # no SAN, or extensions that do not parse: the common name alone
    # RFC 6125: the common name counts only for a certificate without DNS names
    covered = names or ([subject.lower()] if subject else [])
    name = server_name.lower().removesuffix(".")
    return CertInfo(
        not_after=not_after,
        subject=subject,
        issuer=issuer,
        names=names,
        matches=bool(name) and any(covers(pattern, name) for pattern in covered),
    )


def covers(pattern: str, name: str) -> bool:
    """Whether a certificate name covers a host name: equal (case aside), or a wildcard
    "*.example.com" for exactly one more label ("a.example.com", not "example.com" nor
    "a.b.example.com"). A wildcard needs two labels under it ("*.com" covers nothing)."""
    pattern = pattern.lower().removesuffix(".")
    name = name.lower().removesuffix(".")
    if not pattern or not name:
        return False
    if not pattern.startswith("*."):
        return "*" not in pattern and pattern == name
    parent = pattern[2:]
    if "*" in parent or "." not in parent:
        return False
    label, _, rest = name.partition(".")
    return bool(label) and label != "*" and rest == parent


def check_many(
    targets: Iterable[Target], timeout: float = 5.0, workers: int = 8
) -> dict[Target, CertInfo | CertError]:
    """certificate() of each (address, server name, port), `workers` at a time (at most
    MAX_WORKERS): a CertInfo, or the CertError that says why there is none."""
    unique = list(dict.fromkeys(targets))
    if not unique:
        return {}
    pool = max(1, min(workers, MAX_WORKERS, len(unique)))
    with ThreadPoolExecutor(max_workers=pool, thread_name_prefix="sigma-cert") as executor:
        results = executor.map(lambda target: _one(target, timeout), unique)
        return dict(zip(unique, results, strict=True))


def _one(target: Target, timeout: float) -> CertInfo | CertError:
    host, server_name, port = target
    try:
        return certificate(host, server_name, port, timeout)
    except CertError as exc:
        return exc
    except Exception as exc:  # one odd server must not end the others' checks
        return CertError(f"{host}:{port}: {type(exc).__name__}")


def _address(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host.strip().strip("[]")))
    except ValueError:
        raise CertError(f"{text(host, 80)!r} is not an IP address") from None


def _server_name(server_name: str) -> str:
    """The SNI name as sent: A-labels, lower case, no trailing dot."""
    name = server_name.strip().lower().removesuffix(".")
    try:
        ascii_name = name.encode("idna").decode("ascii") if name else ""
    except UnicodeError:
        ascii_name = ""
    labels = ascii_name.split(".")
    if (
        not ascii_name
        or len(ascii_name) > 253
        or any(not label or len(label) > 63 for label in labels)
        or not all(c.isalnum() or c in "-_" for c in ascii_name.replace(".", ""))
    ):
        raise CertError(f"{text(server_name, 80)!r} is not a valid host name")
    try:
        ipaddress.ip_address(ascii_name)
    except ValueError:
        return ascii_name
    raise CertError(f"{ascii_name!r} is an address, not a name to send as SNI")


def _common_name(name: x509.Name) -> str:
    attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return ""
    value = attributes[0].value
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return text(value)
