"""Prometheus file_sd / http_sd targets (contract 2.6), with IPv6 targets bracketed and the
scrape address chosen by label (first non-internal IP by default)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from sigma.errors import InvalidInput
from sigma.schemas import parse_label
from sigma.services.actor import READERS, Actor
from sigma.services.exports import cached_document, dumps, primary_ip, running


def host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def check_label(address_label: str | None) -> str | None:
    if address_label is None:
        return None
    try:
        return parse_label(address_label)
    except ValueError as exc:
        raise InvalidInput(f"address_label: {exc}", field="address_label") from None


def targets_json(session: Session, actor: Actor, address_label: str | None = None) -> str:
    """The targets as JSON text (what GET /api/prometheus/targets serves), cached while the
    inventory is unchanged."""
    actor.require(READERS)
    label = check_label(address_label)
    return cached_document(session, "prometheus", (label,), lambda: dumps(_build(session, label)))


def targets(session: Session, actor: Actor, address_label: str | None = None) -> list[dict[str, Any]]:
    """One target group per monitored active/provisioning VPS with at least one IP."""
    return json.loads(targets_json(session, actor, address_label))


def _build(session: Session, label: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in running(session, monitored_only=True):
        ip = primary_ip(r.ip_addresses, label)
        if ip is None:
            continue
        labels = {
            "instance_name": r.hostname,
            "provider": r.provider or "",
            "country": r.country,
            "status": r.status,
        }
        optional = {
            "alias": r.alias,
            "city": r.city,
            "dc": r.dc_name,
            "purpose": r.purpose,
            "vpn_protocol": r.vpn_protocol,
            "tags": ",".join(r.tags or ()),
            "expire_date": r.expire_date or "",
        }
        labels.update({k: v for k, v in optional.items() if v})
        out.append({"targets": [host_port(ip, r.node_exporter_port)], "labels": labels})
    return out
