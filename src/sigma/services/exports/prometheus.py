"""Prometheus file_sd / http_sd targets (contract 2.6), with IPv6 targets bracketed and the
scrape address chosen by label (first non-internal IP by default)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from sqlalchemy.orm import Session

from sigma.db.models.core import Vps as VpsRow
from sigma.errors import InvalidInput
from sigma.schemas.common import parse_label
from sigma.services.actor import READERS, Actor
from sigma.services.exports import cached_document, dumps, primary_ip, select_running


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


def targets(
    session: Session, actor: Actor, address_label: str | None = None
) -> list[dict[str, Any]]:
    """One target group per monitored active/provisioning VPS with at least one IP."""
    groups: list[dict[str, Any]] = json.loads(targets_json(session, actor, address_label))
    return groups


V = VpsRow.__table__.c
_COLUMNS = (
    V.alias,
    V.ip_addresses,
    V.country,
    V.city,
    V.dc_name,
    V.status,
    V.purpose,
    V.vpn_protocol,
    V.tags,
    V.node_exporter_port,
    V.expire_date,
)


def _build(session: Session, label: str | None) -> list[dict[str, Any]]:
    """One target group per row: plain tuples in, one dict out (this loop runs once per
    exported VPS and scrape)."""
    loads = orjson.loads
    out: list[dict[str, Any]] = []
    append = out.append
    rows, providers = select_running(session, _COLUMNS, monitored_only=True)
    provider_name = providers.get
    for (
        hostname,
        _,
        provider_id,
        alias,
        ips_text,
        country,
        city,
        dc,
        status,
        purpose,
        vpn,
        tags_text,
        port,
        expire,
    ) in rows:
        ip = primary_ip(loads(ips_text) or (), label)
        if ip is None:
            continue
        labels = {
            "instance_name": hostname,
            "provider": provider_name(provider_id) or "",
            "country": country,
            "status": status,
        }
        if alias:
            labels["alias"] = alias
        if city:
            labels["city"] = city
        if dc:
            labels["dc"] = dc
        if purpose:
            labels["purpose"] = purpose
        if vpn:
            labels["vpn_protocol"] = vpn
        if tags_text != "[]":
            tags = ",".join(loads(tags_text) or ())
            if tags:
                labels["tags"] = tags
        if expire:
            labels["expire_date"] = expire
        append({"targets": [f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"], "labels": labels})
    return out
