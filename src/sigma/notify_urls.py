"""Apprise URLs (the `notify_urls` setting, issue 18): splitting a configured list, checking
each with Apprise, and keeping their secrets out of every output.

An Apprise URL carries its service's credentials (a bot token, a webhook key, an SMTP
password), often outside the user:password place that `config_file.redact_url` knows, so:

- `label(url)` is what every face shows for a channel: Apprise's own privacy form of the URL
  (it knows where each of its 100+ services keeps a secret), without the query string, its
  password and long path segments masked as well;
- `channel_id(url)` is the stable, non-secret name of a channel in the database (a digest);
- `scrub(text, url)` takes the URL's secret-looking parts out of a message (Apprise's log
  lines, exceptions) before it is logged, stored or returned.

Apprise is imported on first use (it loads its plugins then, ~0.25 s).
"""

from __future__ import annotations

import hashlib
import logging
import re
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from sigma.config_file import redact_url

# a URL ends at whitespace, or at a comma that starts the next URL (a comma inside a URL, as
# in mailto's to=a@x,b@y, stays)
_SEPARATOR = re.compile(r"\s+|,(?=\s*[A-Za-z][\w+.-]*://)")
_SCHEME = re.compile(r"^[A-Za-z][\w+.-]*://")
_HOSTNAME = re.compile(r"^(localhost|[\w-]+(\.[\w-]+)+|\[[0-9a-fA-F:.]+\])$")
MAX_URL = 4096


def split_urls(value: str) -> list[str]:
    """'json://a, mailto://b?to=x@y,z@y  ntfy://c' -> the three URLs."""
    return [p.strip().strip(",") for p in _SEPARATOR.split(value) if p.strip().strip(",")]


def _quiet_apprise() -> Any:
    """Apprise, with its logger kept out of the process's logs: its lines only half-mask
    secrets (p...s); sigma logs its own, scrubbed line about each failure."""
    import apprise

    logging.getLogger("apprise").propagate = False
    return apprise


def instantiate(url: str) -> Any:
    """Apprise's plugin object for `url`, or None when Apprise cannot read it."""
    apprise = _quiet_apprise()
    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


@lru_cache(maxsize=256)
def problem(url: str) -> str | None:
    """Why `url` is not an Apprise URL this installation can send to (None: it is)."""
    if not url or len(url) > MAX_URL or any(ord(c) < 32 or c == "\x7f" for c in url):
        return "is empty, too long or has control characters"
    if not _SCHEME.match(url):
        return "is not a URL (expected e.g. json://host/path, mailto://user:pass@host, tgram://...)"
    scheme = url.split("://", 1)[0].lower()
    if scheme not in _schemes():
        return f"unknown Apprise service '{scheme}://'"
    if instantiate(url) is None:
        return f"Apprise cannot read this {scheme}:// URL (see its documentation for the syntax)"
    return None


@lru_cache(maxsize=1)
def _schemes() -> frozenset[str]:
    _quiet_apprise()
    from apprise.manager_plugins import NotificationManager

    return frozenset(s.lower() for s in NotificationManager().schemas())


def channel_id(url: str) -> str:
    """The channel's name in the database: a digest of the URL, stable and not secret."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def _mask(part: str) -> str:
    return f"{part[0]}...{part[-1]}" if len(part) >= 8 else part


@lru_cache(maxsize=256)
def label(url: str) -> str:
    """The URL as shown anywhere: Apprise's privacy form, no query, secrets masked."""
    inst = None
    try:
        inst = instantiate(url)
    except Exception:  # noqa: BLE001 - a URL Apprise cannot read is shown by its scheme only
        inst = None
    if inst is None:
        scheme = url.split("://", 1)[0] if _SCHEME.match(url) else "?"
        return f"{scheme[:20]}://***"
    shown = str(inst.url(privacy=True)).split("?", 1)[0].rstrip("/")
    scheme, _, rest = shown.partition("://")
    authority, _, path = rest.partition("/")
    parts = [p if p.startswith("*") or "..." in p else _mask(p) for p in path.split("/")]
    shown = f"{scheme}://{authority}" + ("/" + "/".join(parts) if path else "")
    return redact_url(shown)


def secrets(url: str) -> list[str]:
    """The parts of `url` that may be secret, longest first: the password, and every piece
    of 6+ characters that is not a hostname or a query parameter's name."""
    body = url.split("://", 1)[-1]
    out: set[str] = set()
    try:
        parts = urlsplit(url)
        if parts.password:
            out.add(parts.password)
            out.add(unquote(parts.password))
    except ValueError:
        pass
    for piece in re.split(r"[/:@?&#,;+ ]", body):
        name, eq, value = piece.partition("=")
        for p in (value,) if eq else (name,):
            if len(p) >= 6 and not _HOSTNAME.match(p):
                out.add(p)
                out.add(unquote(p))
    return sorted((s for s in out if len(s) >= 4), key=len, reverse=True)


def scrub(text: str, *urls: str) -> str:
    """`text` with the secrets of `urls` replaced by ***, and any URL password masked."""
    for url in urls:
        for secret in secrets(url):
            text = text.replace(secret, "***")
    return redact_url(text)
