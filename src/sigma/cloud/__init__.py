"""Clients of the provider and DNS APIs an account syncs from (issue 19).

Each adapter is one module with a small interface (sigma.cloud.base): it lists what the
account holds as normalised records, and knows nothing of the database, the services or the
faces (an import contract says so). Which module serves which account kind is ADAPTERS; the
rules of what a record does to the inventory live in sigma.services.sync and
sigma.services.dns.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# account kind -> the module of its adapter (imported when an account of the kind syncs)
SERVER_ADAPTERS = {
    "hetzner": "sigma.cloud.hetzner",
    "vultr": "sigma.cloud.vultr",
    "digitalocean": "sigma.cloud.digitalocean",
    "linode": "sigma.cloud.linode",
    "alibaba": "sigma.cloud.alibaba",
    "virtualizor": "sigma.cloud.virtualizor",
    "kiwivm": "sigma.cloud.kiwivm",
}
DNS_ADAPTERS = {
    "cloudflare": "sigma.cloud.cloudflare",
}
ADAPTERS = {**SERVER_ADAPTERS, **DNS_ADAPTERS}


def adapter(kind: str) -> ModuleType:
    """The module of `kind`'s adapter (a KeyError for an unknown kind: the services check
    kinds against sigma.vocab.ACCOUNT_KINDS first)."""
    return importlib.import_module(ADAPTERS[kind])
