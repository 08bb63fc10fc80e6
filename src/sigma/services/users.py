"""Users (admin): create, list, show, update, delete; the first admin on an empty server."""

from __future__ import annotations

import secrets
from typing import Any, cast

from sqlalchemy import CursorResult, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.identity import User as UserRow
from sigma.errors import Conflict, InvalidInput, PermissionDenied
from sigma.schemas.common import Page, validate
from sigma.schemas.identity import User, UserCreate, UserUpdate
from sigma.services import audit
from sigma.services.actor import ADMINS, Actor
from sigma.services.auth import hash_password, revoke_sessions
from sigma.services.refs import resolve


def find(session: Session, ref: Any) -> UserRow:
    return resolve(
        session,
        UserRow,
        ref,
        kind="user",
        name_column=UserRow.email,
        describe=lambda u: f"{u.email} ({str(u.id)[:8]})",
        case_insensitive=True,
    )


def _check_unique_email(session: Session, email: str, own_id: Any = None) -> None:
    clash = session.scalar(select(UserRow).where(func.lower(UserRow.email) == email.lower()))
    if clash is not None and clash.id != own_id:
        raise Conflict(f"Email '{email}' already exists", field="email")


def list_users(
    session: Session, actor: Actor, role: str | None = None, page: int = 1, per_page: int = 25
) -> Page[User]:
    actor.require(ADMINS)
    page, per_page = max(page, 1), min(max(per_page, 1), 100)
    q = select(UserRow)
    if role:
        q = q.where(col(UserRow.role) == role)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(col(UserRow.created_at).desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return Page[User](
        data=[User.model_validate(r) for r in rows], total=total, page=page, per_page=per_page
    )


def get(session: Session, actor: Actor, ref: Any) -> User:
    actor.require(ADMINS)
    return User.model_validate(find(session, ref))


def create(session: Session, actor: Actor, data: UserCreate | dict) -> User:
    actor.require(ADMINS)
    data = validate(UserCreate, data) if isinstance(data, dict) else data
    _check_unique_email(session, data.email)
    row = UserRow(
        email=data.email,
        name=data.name,
        role=data.role,
        password_hash=hash_password(data.password),
        force_password_change=data.force_password_change,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "user", row.id, {"email": row.email, "role": row.role})
    return User.model_validate(row)


def update(session: Session, actor: Actor, ref: Any, data: UserUpdate | dict) -> User:
    actor.require(ADMINS)
    data = validate(UserUpdate, data) if isinstance(data, dict) else data
    row = find(session, ref)
    before = User.model_validate(row)
    changes = {k: getattr(data, k) for k in data.model_fields_set}
    if "email" in changes:
        _check_unique_email(session, changes["email"], row.id)
    if row.id == actor.user_id:
        if changes.get("role", "admin") != "admin" or changes.get("active") is False:
            raise InvalidInput(
                "you cannot demote or disable yourself; ask another admin", field="role"
            )
        # an admin's own password and MFA need the same proofs as anyone's: a stolen admin
        # session must not be able to lock the owner out
        if "password" in changes:
            raise PermissionDenied(
                "Forbidden: change your own password with the current one "
                "(`sigma user passwd`, POST /api/auth/change-password)"
            )
        if changes.get("totp_enabled") is False:
            raise PermissionDenied(
                "Forbidden: turn off your own two-factor authentication with a "
                "current code (`sigma mfa disable`, POST /api/auth/totp/disable)"
            )
    password = changes.pop("password", None)
    revoked_keys = 0
    if password is not None:
        # a reset: whoever held the old password (or a token, or a key made with it) is out
        row.password_hash = hash_password(password)
        revoke_sessions(session, row)
        revoked_keys = _revoke_keys(session, row.id)
    if changes.pop("totp_enabled", None) is False:
        row.totp_enabled, row.totp_secret, row.totp_last_step = False, None, None
    if changes.get("active") is False and row.active:
        revoke_sessions(session, row)
    for key, value in changes.items():
        setattr(row, key, value)
    session.flush()
    after = User.model_validate(row)
    delta = audit.diff(before, after)
    if password is not None:
        delta["password"] = {"from": "********", "to": "********"}
    if delta:
        details: dict[str, Any] = {"email": row.email, "role": row.role, "changes": delta}
        if password is not None:
            details["api_keys_revoked"] = revoked_keys
        audit.record(session, actor, "update", "user", row.id, details)
    return after


def _revoke_keys(session: Session, user_id: Any) -> int:
    from sqlalchemy import update

    from sigma.db.models.identity import ApiKey as ApiKeyRow
    from sigma.db.types import utcnow

    # a Core UPDATE returns a CursorResult, which Session.execute's type does not promise
    result = cast(
        CursorResult[Any],
        session.execute(
            update(ApiKeyRow)
            .where(col(ApiKeyRow.user_id) == user_id, col(ApiKeyRow.revoked_at).is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount or 0


def delete(session: Session, actor: Actor, ref: Any) -> User:
    actor.require(ADMINS)
    row = find(session, ref)
    if row.id == actor.user_id:
        raise InvalidInput("Cannot delete yourself")
    gone = User.model_validate(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "delete", "user", gone.id, {"email": gone.email})
    return gone


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UserRow)) or 0


def bootstrap_admin(
    session: Session, email: str | None, password: str | None
) -> tuple[User, str | None] | None:
    """On a server with no users, create the first admin. Returns (user, one-time password)
    when a random password was generated, so the caller prints it once."""
    if count(session):
        return None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    from sigma.services.actor import SYSTEM

    user = create(
        session,
        SYSTEM,
        UserCreate(
            email=email or "admin@sigma.local",
            password=password,
            name="Admin",
            role="admin",
            force_password_change=generated is not None,
        ),
    )
    return user, generated
