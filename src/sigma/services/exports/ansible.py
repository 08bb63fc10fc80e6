"""Ansible dynamic inventory (contract 2.7) in the current script protocol form: every group
an object with `hosts`, `all` and `ungrouped` always present, `_meta.hostvars` always
present (so ansible never calls `--host` per host), group names valid Ansible identifiers.

Host variables come from the inventory, which agents and imports write: every string among
them is sent as `{"__ansible_unsafe": "..."}` (the inventory protocol's marker), which Ansible
never templates, so a `{{ lookup('pipe', ...) }}` in an alias stays text on the controller.
Host names are RFC 1123 host names; a row stored before that rule gets `vps-<id>` instead."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from sqlalchemy.orm import Session

from sigma.db.models.core import Vps as VpsRow
from sigma.schemas.common import check_hostname
from sigma.services.actor import READERS, Actor
from sigma.services.exports import cached_document, dumps, primary_ip, select_running, uuid_text

_NOT_WORD = re.compile(r"[^a-z0-9]")


def slug(value: str) -> str:
    """Lowercase, every character other than ASCII letters and digits becomes '_'."""
    return _NOT_WORD.sub("_", value.strip().lower())


def inventory_json(session: Session, actor: Actor) -> str:
    """The `--list` document as JSON text, cached while the inventory is unchanged."""
    actor.require(READERS)
    return cached_document(session, "ansible", (), lambda: dumps(_build(session)))


def inventory(session: Session, actor: Actor) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(inventory_json(session, actor))
    return document


V = VpsRow.__table__.c
_COLUMNS = (
    V.alias,
    V.ip_addresses,
    V.ssh_port,
    V.country,
    V.city,
    V.dc_name,
    V.cpu_cores,
    V.ram_mb,
    V.disk_gb,
    V.status,
    V.purpose,
    V.vpn_protocol,
    V.tags,
    V.monitoring_enabled,
    V.node_exporter_port,
    V.expire_date,
)


def unsafe(value: str) -> dict[str, str]:
    """A string Ansible must not template."""
    return {"__ansible_unsafe": value}


def _host_name(hostname: str, id_: str) -> str:
    try:
        return check_hostname(hostname)
    except ValueError:
        return f"vps-{id_[:8]}"


def _build(session: Session) -> dict[str, Any]:
    """One host per row: plain tuples in, and each distinct group value slugged once (this
    loop runs once per exported VPS and build)."""
    loads = orjson.loads
    groups: dict[str, list[str]] = {}
    hostvars: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    group_of: dict[tuple[str, str], str | None] = {}  # (prefix, value) -> group name or None

    def group(prefix: str, value: str) -> str | None:
        s = slug(value)
        name = group_of[(prefix, value)] = f"{prefix}_{s}" if s.strip("_") else None
        return name

    rows, providers = select_running(session, _COLUMNS)
    provider_name = providers.get
    for (
        hostname,
        id_,
        provider_id,
        alias,
        ips_text,
        ssh_port,
        country,
        city,
        dc,
        cpu,
        ram,
        disk,
        status,
        purpose,
        vpn,
        tags_text,
        monitoring,
        exporter_port,
        expire,
    ) in rows:
        id_ = uuid_text(id_)
        name = _host_name(hostname, id_)
        if name in hostvars:  # hostnames are not unique: later twins get their id prefix
            name = f"{name}-{id_[:8]}"
        names.append(name)
        ips = loads(ips_text) or ()
        hv: dict[str, Any] = {}
        ip = primary_ip(ips)
        if ip is not None:
            hv["ansible_host"] = unsafe(ip)
        hv["ansible_port"] = ssh_port
        hv["sigma_id"] = id_
        if alias:
            hv["sigma_alias"] = unsafe(alias)
        hv["sigma_country"] = unsafe(country)
        if city:
            hv["sigma_city"] = unsafe(city)
        if dc:
            hv["sigma_dc"] = unsafe(dc)
        provider = provider_name(provider_id) or ""
        hv["sigma_provider"] = unsafe(provider)
        hv["sigma_status"] = unsafe(status)
        if purpose:
            hv["sigma_purpose"] = unsafe(purpose)
        if vpn:
            hv["sigma_vpn_protocol"] = unsafe(vpn)
        tags = loads(tags_text) or ()
        if tags:
            hv["sigma_tags"] = [unsafe(t) for t in tags]
        hv["sigma_ip_addresses"] = [
            {"ip": unsafe(e["ip"]), "label": unsafe(e.get("label", ""))} for e in ips
        ]
        if cpu is not None:
            hv["sigma_cpu_cores"] = cpu
        if ram is not None:
            hv["sigma_ram_mb"] = ram
        if disk is not None:
            hv["sigma_disk_gb"] = disk
        hv["sigma_monitoring_enabled"] = bool(monitoring)
        hv["sigma_node_exporter_port"] = exporter_port
        if expire:
            hv["sigma_expire_date"] = unsafe(str(expire))
        hostvars[name] = hv

        for key in (
            ("status", status),
            ("country", country),
            ("purpose", purpose),
            ("provider", provider),
            *(("tag", t) for t in tags),
        ):
            g = group_of[key] if key in group_of else group(*key)
            if g is not None:
                hosts = groups.get(g)
                if hosts is None:
                    groups[g] = [name]
                elif hosts[-1] != name:
                    hosts.append(name)

    grouped = {h for hosts in groups.values() for h in hosts}
    out: dict[str, Any] = {
        "all": {"hosts": names},
        "ungrouped": {"hosts": [n for n in names if n not in grouped]},
    }
    for g in sorted(groups):
        out[g] = {"hosts": groups[g]}
    out["_meta"] = {"hostvars": hostvars}
    return out


def host(session: Session, actor: Actor, name: str) -> dict[str, Any]:
    """`--host NAME`: that host's variables, or {} for a host the inventory does not have."""
    hostvars: dict[str, Any] = inventory(session, actor)["_meta"]["hostvars"].get(name, {})
    return hostvars
