"""Provider and DNS accounts: add, list, show, change, test, remove, and rotate the key of
their credentials. Admins only: an account's token can create and destroy machines at the
provider, and its listing is the fleet's whole map.

Credentials are sealed by services.secrets before they reach a row, never returned (an
account shows which credential fields it holds, not their values), never in an audit row,
a log line or an error message (the adapters' errors name paths, never queries or headers).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.cloud import DNS_ADAPTERS, adapter
from sigma.cloud.base import Api, Credentials, ProviderError
from sigma.db.models.accounts import Account as AccountRow
from sigma.db.models.accounts import AccountInstance
from sigma.db.models.core import Provider as ProviderRow
from sigma.errors import Conflict, InvalidInput
from sigma.schemas.accounts import Account, AccountCreate, AccountKind, AccountUpdate
from sigma.schemas.common import validate
from sigma.services import audit, secrets
from sigma.services.actor import ADMINS, Actor
from sigma.services.refs import resolve
from sigma.settings import Settings
from sigma.vocab import ACCOUNT_KINDS


def role_of(kind: str) -> str:
    return "dns" if kind in DNS_ADAPTERS else "servers"


def kinds() -> list[AccountKind]:
    out = []
    for kind in ACCOUNT_KINDS:
        mod = adapter(kind)
        out.append(
            AccountKind(
                kind=kind,
                title=mod.TITLE,
                role=role_of(kind),
                needs=list(mod.NEEDS),
                api_base=mod.API_BASE,
                help=mod.HELP,
            )
        )
    return out


def find(session: Session, ref: Any) -> AccountRow:
    return resolve(
        session,
        AccountRow,
        ref,
        kind="account",
        name_column=AccountRow.name,
        describe=lambda a: f"{a.name} ({a.kind}, {a.id})",
        case_insensitive=True,
    )


def out(session: Session, row: AccountRow, settings: Settings | None = None) -> Account:
    a = Account.model_validate(row)
    a.role = role_of(row.kind)
    if row.provider_id is not None:
        provider = session.get(ProviderRow, row.provider_id)
        a.provider_name = provider.name if provider else None
    if settings is not None:
        try:
            a.credentials = sorted(secrets.unseal(settings, row.secret))
        except Exception:  # noqa: BLE001 - a lost key shows as no credentials, not a 500
            a.credentials = []
    a.instances = (
        session.scalar(
            select(func.count())
            .select_from(AccountInstance)
            .where(
                col(AccountInstance.account_id) == row.id,
                col(AccountInstance.gone_at).is_(None),
            )
        )
        or 0
    )
    return a


def list_accounts(session: Session, actor: Actor, settings: Settings) -> list[Account]:
    actor.require(ADMINS)
    rows = session.scalars(select(AccountRow).order_by(AccountRow.name))
    return [out(session, r, settings) for r in rows]


def get(session: Session, actor: Actor, settings: Settings, ref: Any) -> Account:
    actor.require(ADMINS)
    return out(session, find(session, ref), settings)


def _provider(session: Session, ref: str | None) -> uuid.UUID | None:
    if ref is None or not ref.strip():
        return None
    from sigma.services import providers

    return providers.find(session, ref.strip()).id


def _check_credentials(kind: str, values: dict[str, str]) -> None:
    needs = adapter(kind).NEEDS
    missing = [n for n in needs if not values.get(n)]
    if missing:
        raise InvalidInput(
            f"a {kind} account needs {', '.join(missing)} ({adapter(kind).HELP})",
            field=missing[0],
        )


def _check_api_base(kind: str, api_base: str) -> None:
    if not (api_base or adapter(kind).API_BASE):
        raise InvalidInput(
            f"a {kind} account needs its API base (api_base: the panel's address, e.g. "
            "https://panel.example.com:4083)",
            field="api_base",
        )


def _check_unique_name(session: Session, name: str, own_id: Any = None) -> None:
    clash = session.scalar(select(AccountRow).where(func.lower(AccountRow.name) == name.lower()))
    if clash is not None and clash.id != own_id:
        raise Conflict(f"account '{clash.name}' already exists ({str(clash.id)[:8]})", field="name")


def _summary(row: AccountRow, fields: list[str]) -> dict[str, Any]:
    """What an audit row says of an account: never a credential, only which ones."""
    return {"name": row.name, "kind": row.kind, "credentials": sorted(fields)}


def create(
    session: Session, actor: Actor, settings: Settings, data: AccountCreate | dict
) -> Account:
    actor.require(ADMINS)
    data = validate(AccountCreate, data) if isinstance(data, dict) else data
    values = data.values()
    _check_credentials(data.kind, values)
    _check_api_base(data.kind, data.api_base)
    _check_unique_name(session, data.name)
    row = AccountRow(
        name=data.name,
        kind=data.kind,
        provider_id=_provider(session, data.provider),
        api_base=data.api_base,
        secret=secrets.seal(settings, values),
        options=data.options,
        interval_minutes=data.interval_minutes,
        api_wins=data.api_wins,
        enabled=data.enabled,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "account", row.id, _summary(row, list(values)))
    return out(session, row, settings)


def update(
    session: Session, actor: Actor, settings: Settings, ref: Any, data: AccountUpdate | dict
) -> Account:
    actor.require(ADMINS)
    data = validate(AccountUpdate, data) if isinstance(data, dict) else data
    row = find(session, ref)
    changed: dict[str, Any] = {}
    fields = data.model_fields_set
    if "name" in fields and data.name is not None and data.name != row.name:
        _check_unique_name(session, data.name, row.id)
        changed["name"] = [row.name, data.name]
        row.name = data.name
    if "provider" in fields:
        provider_id = _provider(session, data.provider)
        if provider_id != row.provider_id:
            changed["provider_id"] = [str(row.provider_id), str(provider_id)]
            row.provider_id = provider_id
    for key in ("api_base", "options", "interval_minutes", "api_wins", "enabled"):
        value = getattr(data, key)
        if key in fields and value is not None and value != getattr(row, key):
            changed[key] = [getattr(row, key), value]
            setattr(row, key, value)
    _check_api_base(row.kind, row.api_base)
    new_secrets = data.values()
    if new_secrets:
        values = {**secrets.unseal_or_empty(settings, row.secret), **new_secrets}
        _check_credentials(row.kind, values)
        row.secret = secrets.seal(settings, values)
        changed["credentials"] = sorted(new_secrets)  # which ones, never their values
    if "enabled" in changed and row.enabled:
        row.next_sync_at = None  # a re-enabled account syncs at the next run
    if changed:
        session.flush()
        audit.record(
            session, actor, "update", "account", row.id, {"name": row.name, "changes": changed}
        )
    return out(session, row, settings)


def delete(session: Session, actor: Actor, ref: Any) -> Account:
    """Remove an account, its sync links and its DNS copy. Its VPS stay, as they are."""
    actor.require(ADMINS)
    row = find(session, ref)
    gone = out(session, row)
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "delete", "account", gone.id, {"name": gone.name, "kind": gone.kind}
    )
    return gone


def credentials(settings: Settings, row: AccountRow) -> Credentials:
    values = secrets.unseal(settings, row.secret)
    return Credentials(
        api_base=row.api_base or adapter(row.kind).API_BASE,
        token=values.get("token", ""),
        key_id=values.get("key_id", ""),
        secret=values.get("secret", ""),
        options={k: str(v) for k, v in (row.options or {}).items()},
    )


def open_api(settings: Settings, row: AccountRow, transport: Any = None) -> Api:
    creds = credentials(settings, row)
    return Api(creds, headers=adapter(row.kind).headers(creds), transport=transport)


def test(session: Session, actor: Actor, settings: Settings, ref: Any) -> dict[str, Any]:
    """Ask the provider's API with the account's credentials, change nothing: how many
    instances (or zones) it lists, or why it failed."""
    actor.require(ADMINS)
    row = find(session, ref)
    mod = adapter(row.kind)
    try:
        with open_api(settings, row) as api:
            listed = mod.zones(api) if row.kind in DNS_ADAPTERS else mod.instances(api)
    except ProviderError as exc:
        result: dict[str, Any] = {"account": row.name, "ok": False, "error": str(exc)}
    else:
        what = "zones" if row.kind in DNS_ADAPTERS else "instances"
        result = {"account": row.name, "ok": True, what: len(listed)}
    audit.record(session, actor, "test", "account", row.id, result)
    return result


def rotate_key(session: Session, actor: Actor, settings: Settings) -> dict[str, Any]:
    """Re-encrypt every account's credentials with the newest key (the first of
    account_key, or a new one put first in the key file). The old keys must still be
    configured; they may go once this has committed."""
    actor.require(ADMINS)
    rows = list(session.scalars(select(AccountRow).order_by(AccountRow.name)))
    made_key = False
    if not settings.account_key:
        path = secrets.key_path(settings)
        old = secrets.keys(settings, create=True)
        secrets.write_key_file(path, [secrets.new_key(), *old])
        made_key = True
    tokens = secrets.rotate(settings, [r.secret for r in rows])
    for row, token in zip(rows, tokens, strict=True):
        row.secret = token
    session.flush()
    audit.record(session, actor, "rotate-key", "account", None, {"accounts": len(rows)})
    return {"accounts": len(rows), "new_key_file": made_key}


def finish_rotation(settings: Settings) -> None:
    """After rotate_key committed: the key file keeps only its newest key."""
    if not settings.account_key:
        newest = secrets.keys(settings)[0]
        secrets.write_key_file(secrets.key_path(settings), [newest])
