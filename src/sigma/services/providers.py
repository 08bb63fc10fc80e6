"""Providers: create, list, show, partial update, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.core import Provider as ProviderRow
from sigma.db.models.core import Vps as VpsRow
from sigma.errors import Conflict, InvalidInput
from sigma.schemas.common import Page, clamp_page, validate
from sigma.schemas.inventory import Provider, ProviderCreate, ProviderUpdate
from sigma.services import audit
from sigma.services.actor import READERS, WRITERS, Actor
from sigma.services.refs import resolve


def find(session: Session, ref: Any) -> ProviderRow:
    return resolve(
        session,
        ProviderRow,
        ref,
        kind="provider",
        name_column=ProviderRow.name,
        describe=lambda p: f"{p.name} ({p.id})",
        case_insensitive=True,
    )


def list_providers(
    session: Session, actor: Actor, page: int = 1, per_page: int = 25
) -> Page[Provider]:
    actor.require(READERS)
    try:
        page, per_page = clamp_page(page, per_page)
    except ValueError as exc:
        raise InvalidInput(f"page: {exc}", field="page") from None
    total = session.scalar(select(func.count()).select_from(ProviderRow)) or 0
    rows = session.scalars(
        select(ProviderRow).order_by(ProviderRow.name).offset((page - 1) * per_page).limit(per_page)
    )
    return Page[Provider](
        data=[Provider.model_validate(r) for r in rows], total=total, page=page, per_page=per_page
    )


def all_providers(session: Session, actor: Actor) -> list[Provider]:
    actor.require(READERS)
    rows = session.scalars(select(ProviderRow).order_by(ProviderRow.name))
    return [Provider.model_validate(r) for r in rows]


def get(session: Session, actor: Actor, ref: Any) -> Provider:
    actor.require(READERS)
    return Provider.model_validate(find(session, ref))


def _check_unique_name(session: Session, name: str, own_id: Any = None) -> None:
    clash = session.scalar(select(ProviderRow).where(func.lower(ProviderRow.name) == name.lower()))
    if clash is not None and clash.id != own_id:
        raise Conflict(
            f"provider '{clash.name}' already exists ({str(clash.id)[:8]})", field="name"
        )


def create(session: Session, actor: Actor, data: ProviderCreate | dict) -> Provider:
    actor.require(WRITERS)
    data = validate(ProviderCreate, data) if isinstance(data, dict) else data
    _check_unique_name(session, data.name)
    row = ProviderRow(**data.model_dump())
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "provider", row.id, {"name": row.name})
    return Provider.model_validate(row)


def update(session: Session, actor: Actor, ref: Any, data: ProviderUpdate | dict) -> Provider:
    actor.require(WRITERS)
    data = validate(ProviderUpdate, data) if isinstance(data, dict) else data
    row = find(session, ref)
    before = Provider.model_validate(row)
    changes = {k: getattr(data, k) for k in data.model_fields_set}
    if "name" in changes:
        _check_unique_name(session, changes["name"], row.id)
    for key, value in changes.items():
        setattr(row, key, value)
    session.flush()
    after = Provider.model_validate(row)
    delta = audit.diff(before, after)
    if delta:
        audit.record(
            session, actor, "update", "provider", row.id, {"name": row.name, "changes": delta}
        )
    return after


def delete(session: Session, actor: Actor, ref: Any) -> Provider:
    actor.require(WRITERS)
    row = find(session, ref)
    count = session.scalar(select(func.count()).where(col(VpsRow.provider_id) == row.id)) or 0
    if count:
        names = list(
            session.scalars(
                select(col(VpsRow.hostname)).where(col(VpsRow.provider_id) == row.id).limit(5)
            )
        )
        more = f" and {count - len(names)} more" if count > len(names) else ""
        raise Conflict(
            f"provider '{row.name}' still has {count} VPS ({', '.join(names)}{more}); "
            "delete them or move them to another provider first (VPS in the trash count "
            "until purged: sigma vps rm --purge)",
            field="provider",
        )
    gone = Provider.model_validate(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "delete", "provider", gone.id, {"name": gone.name})
    return gone
