"""Ansible dynamic inventory (contract 2.7) in the current script protocol form: every group
an object with `hosts`, `all` and `ungrouped` always present, `_meta.hostvars` always
present (so ansible never calls `--host` per host), group names valid Ansible identifiers."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy.orm import Session

from sigma.services.actor import READERS, Actor
from sigma.services.exports import cached_document, dumps, primary_ip, running

_NOT_WORD = re.compile(r"[^a-z0-9]")


def slug(value: str) -> str:
    """Lowercase, every character other than ASCII letters and digits becomes '_'."""
    return _NOT_WORD.sub("_", value.strip().lower())


def inventory_json(session: Session, actor: Actor) -> str:
    """The `--list` document as JSON text, cached while the inventory is unchanged."""
    actor.require(READERS)
    return cached_document(session, "ansible", (), lambda: dumps(_build(session)))


def inventory(session: Session, actor: Actor) -> dict[str, Any]:
    return json.loads(inventory_json(session, actor))


def _build(session: Session) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    hostvars: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    for r in running(session):
        name = r.hostname
        if name in hostvars:  # hostnames are not unique: later twins get their id prefix
            name = f"{r.hostname}-{r.id[:8]}"
        names.append(name)
        hv: dict[str, Any] = {}
        ip = primary_ip(r.ip_addresses)
        if ip is not None:
            hv["ansible_host"] = ip
        hv["ansible_port"] = r.ssh_port
        hv["sigma_id"] = r.id
        optional = {"sigma_alias": r.alias}
        hv.update({k: v for k, v in optional.items() if v})
        hv["sigma_country"] = r.country
        if r.city:
            hv["sigma_city"] = r.city
        if r.dc_name:
            hv["sigma_dc"] = r.dc_name
        hv["sigma_provider"] = r.provider or ""
        hv["sigma_status"] = r.status
        for key, value in (("sigma_purpose", r.purpose), ("sigma_vpn_protocol", r.vpn_protocol)):
            if value:
                hv[key] = value
        if r.tags:
            hv["sigma_tags"] = list(r.tags)
        hv["sigma_ip_addresses"] = [{"ip": e["ip"], "label": e.get("label", "")} for e in r.ip_addresses or ()]
        for key, value in (("sigma_cpu_cores", r.cpu_cores), ("sigma_ram_mb", r.ram_mb), ("sigma_disk_gb", r.disk_gb)):
            if value is not None:
                hv[key] = value
        hv["sigma_monitoring_enabled"] = r.monitoring_enabled
        hv["sigma_node_exporter_port"] = r.node_exporter_port
        if r.expire_date:
            hv["sigma_expire_date"] = r.expire_date
        hostvars[name] = hv

        member = [("status", r.status), ("country", r.country), ("purpose", r.purpose), ("provider", r.provider or "")]
        member += [("tag", t) for t in r.tags or ()]
        for prefix, value in member:
            s = slug(value)
            if s.strip("_"):
                hosts = groups.setdefault(f"{prefix}_{s}", [])
                if not hosts or hosts[-1] != name:
                    hosts.append(name)

    grouped = {h for hosts in groups.values() for h in hosts}
    out: dict[str, Any] = {
        "all": {"hosts": names},
        "ungrouped": {"hosts": [n for n in names if n not in grouped]},
    }
    for group in sorted(groups):
        out[group] = {"hosts": groups[group]}
    out["_meta"] = {"hostvars": hostvars}
    return out


def host(session: Session, actor: Actor, name: str) -> dict[str, Any]:
    """`--host NAME`: that host's variables, or {} for a host the inventory does not have."""
    return inventory(session, actor)["_meta"]["hostvars"].get(name, {})
