"""Authentication: argon2id passwords, JWT access and TOTP-challenge tokens, RFC 6238 TOTP
with replay protection, managed API keys (stored as SHA-256 hashes), and turning request
credentials into an Actor."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.identity import ApiKey as ApiKeyRow
from sigma.db.models.identity import User as UserRow
from sigma.db.types import utcnow
from sigma.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from sigma.schemas.common import validate
from sigma.schemas.identity import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ChangePassword,
    LoginRequest,
    LoginResult,
    TotpLogin,
    TotpSetup,
    TotpState,
    User,
)
from sigma.services import audit
from sigma.services.actor import Actor
from sigma.settings import Settings

if TYPE_CHECKING:
    import pyotp
    from argon2 import PasswordHasher

API_KEY_PREFIX = "sigma_"
TOTP_ISSUER = "Sigma"
CHALLENGE_SECONDS = 300
LEGACY_KEY_EMAIL = "api-key"

# ---------------------------------------------------------------- passwords

_hasher: PasswordHasher | None = None


def _ph() -> PasswordHasher:
    global _hasher
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
    return _hasher


def hash_password(password: str) -> str:
    return _ph().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _ph().verify(password_hash, password)
    except VerificationError:
        return False
    except InvalidHashError:
        raise ValueError("stored password hash is malformed") from None


# a real hash to verify against when the email is unknown, so timing does not tell
_DUMMY_HASH: str | None = None


def _dummy_verify(password: str) -> None:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(8))
    verify_password(_DUMMY_HASH, password)


# ---------------------------------------------------------------- JWT


def make_token(settings: Settings, claims: dict[str, Any], seconds: int) -> str:
    import jwt

    now = int(time.time())
    return jwt.encode(
        {**claims, "iat": now, "exp": now + seconds}, _secret(settings), algorithm="HS256"
    )


def read_token(settings: Settings, token: str, *, purpose: str) -> dict[str, Any]:
    import jwt

    try:
        claims = jwt.decode(
            token,
            _secret(settings),
            algorithms=["HS256"],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.PyJWTError:
        raise NotAuthenticated("Unauthorized") from None
    if claims.get("purpose", "access") != purpose:
        raise NotAuthenticated("Unauthorized")
    return claims


_ephemeral_secret: str | None = None


def _secret(settings: Settings) -> str:
    if not settings.jwt_secret:
        # tests and loopback-only servers without a configured secret get a per-process one
        global _ephemeral_secret
        if _ephemeral_secret is None:
            _ephemeral_secret = secrets.token_urlsafe(32)
        return _ephemeral_secret
    return settings.jwt_secret


def access_token(settings: Settings, user: UserRow, auth_time: int | None = None) -> str:
    """An access token for `user`. `ep` is the user's session epoch (bumping it revokes the
    token); `auth_time` is when the user proved who they are (kept across refreshes, which
    stop after settings.session_max_hours)."""
    return make_token(
        settings,
        {
            "sub": str(user.id),
            "email": user.email,
            "role": user.role,
            "purpose": "access",
            "ep": user.session_epoch or 0,
            "auth_time": auth_time or int(time.time()),
        },
        settings.jwt_expiry_hours * 3600,
    )


def revoke_sessions(session: Session, user: UserRow) -> None:
    """Every access token issued to `user` so far stops working (next request: 401)."""
    user.session_epoch = (user.session_epoch or 0) + 1


# ---------------------------------------------------------------- TOTP (RFC 6238)


def _totp(secret: str) -> pyotp.TOTP:
    import pyotp

    return pyotp.TOTP(secret)  # SHA-1, 6 digits, 30 s: what authenticator apps expect


def totp_step(secret: str, code: str, *, at: float | None = None, window: int = 1) -> int | None:
    """The time step `code` is valid for (within +-window steps of `at`), else None."""
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = _totp(secret)
    now = time.time() if at is None else at
    for offset in range(-window, window + 1):
        t = now + offset * totp.interval
        if t < 0:
            continue
        if hmac.compare_digest(totp.at(t), code):
            return int(t // totp.interval)
    return None


def _consume_totp(session: Session, user: UserRow, code: str) -> None:
    """Accept `code` once: the step it belongs to is recorded by one conditional UPDATE,
    so of several requests racing with the same code exactly one wins, on any database."""
    step = totp_step(user.totp_secret or "", code)
    if step is None:
        raise InvalidInput("Invalid TOTP code", field="code")
    # a Core UPDATE returns a CursorResult, which Session.execute's type does not promise
    won = cast(
        CursorResult[Any],
        session.execute(
            update(UserRow)
            .where(
                col(UserRow.id) == user.id,
                or_(col(UserRow.totp_last_step).is_(None), col(UserRow.totp_last_step) < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if not won:
        raise InvalidInput("TOTP code already used; wait for the next one", field="code")
    session.refresh(user, ["totp_last_step"])


# ---------------------------------------------------------------- login


def login(
    session: Session, settings: Settings, data: LoginRequest | dict, client_ip: str | None = None
) -> LoginResult:
    data = validate(LoginRequest, data) if isinstance(data, dict) else data
    email = data.email.strip().lower()
    # no stored email contains NUL, and PostgreSQL cannot even compare one
    user = (
        None
        if "\x00" in email
        else session.scalar(select(UserRow).where(col(UserRow.email) == email))
    )
    if user is None:
        _dummy_verify(data.password)
        raise NotAuthenticated("Unauthorized")
    if not verify_password(user.password_hash, data.password) or not user.active:
        raise NotAuthenticated("Unauthorized")
    if user.totp_enabled:
        challenge = make_token(
            settings, {"sub": str(user.id), "purpose": "totp_challenge"}, CHALLENGE_SECONDS
        )
        return LoginResult(requires_totp=True, totp_token=challenge)
    actor = Actor(email=user.email, role=user.role, user_id=user.id, client_ip=client_ip)
    audit.record(session, actor, "login", "user", user.id, {"email": user.email})
    return LoginResult(token=access_token(settings, user), user=User.model_validate(user))


def login_totp(
    session: Session, settings: Settings, data: TotpLogin | dict, client_ip: str | None = None
) -> LoginResult:
    data = validate(TotpLogin, data) if isinstance(data, dict) else data
    claims = read_token(settings, data.totp_token, purpose="totp_challenge")
    user = _user_by_sub(session, claims["sub"])
    if not user.totp_secret or not user.active:
        raise NotAuthenticated("Unauthorized")
    _consume_totp(session, user, data.code)
    actor = Actor(email=user.email, role=user.role, user_id=user.id, client_ip=client_ip)
    audit.record(session, actor, "login", "user", user.id, {"email": user.email, "totp": True})
    return LoginResult(token=access_token(settings, user), user=User.model_validate(user))


def _user_by_sub(session: Session, sub: Any) -> UserRow:
    try:
        user = session.get(UserRow, uuid.UUID(str(sub)))
    except ValueError:
        user = None
    if user is None:
        raise NotAuthenticated("Unauthorized")
    return user


def _jwt_user(session: Session, actor: Actor) -> UserRow:
    if actor.via_api_key or actor.user_id is None:
        raise InvalidInput("this needs a logged-in user, not an API key")
    user = session.get(UserRow, actor.user_id)
    if user is None:
        raise NotAuthenticated("Unauthorized")
    return user


def me(session: Session, actor: Actor) -> User:
    if actor.user_id is None:
        now = utcnow()
        return User(
            id=uuid.UUID(int=0),
            email=actor.email,
            name="API Key",
            role=actor.role,
            active=True,
            force_password_change=False,
            totp_enabled=False,
            created_at=now,
            updated_at=now,
        )
    user = session.get(UserRow, actor.user_id)
    if user is None:
        raise NotAuthenticated("Unauthorized")
    return User.model_validate(user)


def refresh(session: Session, settings: Settings, actor: Actor) -> LoginResult:
    """A fresh token for the same sign-in: refreshing never outlives session_max_hours from
    the moment the password (and code) were given."""
    # an API key has nothing to refresh: 422 (like the other own-account routes), not a 401
    # that would tell the client its key is bad
    user = _jwt_user(session, actor)
    started = actor.auth_time or 0
    if time.time() - started > settings.session_max_hours * 3600:
        raise NotAuthenticated("Session expired: sign in again (`sigma login`)")
    return LoginResult(
        token=access_token(settings, user, auth_time=started), user=User.model_validate(user)
    )


def session_after_password_change(session: Session, settings: Settings, actor: Actor) -> str:
    """A new access token for the user who has just changed their password in this request
    (the change revoked every earlier token, the one in use included)."""
    user = _jwt_user(session, actor)
    return access_token(settings, user)


def logout_all(session: Session, actor: Actor) -> User:
    """Revoke every access token of the caller's user (`sigma logout --all`). API keys stay:
    they are revoked one by one (`sigma api-key revoke`)."""
    if actor.user_id is None:
        raise InvalidInput("this needs a user's token or key, not the shared legacy key")
    user = session.get(UserRow, actor.user_id)
    if user is None:
        raise NotAuthenticated("Unauthorized")
    revoke_sessions(session, user)
    session.flush()
    audit.record(session, actor, "logout-all", "user", user.id, {"email": user.email})
    return User.model_validate(user)


def change_password(session: Session, actor: Actor, data: ChangePassword | dict) -> User:
    data = validate(ChangePassword, data) if isinstance(data, dict) else data
    user = _jwt_user(session, actor)
    if not verify_password(user.password_hash, data.current_password):
        raise InvalidInput("Current password is incorrect", field="current_password")
    if data.new_password == data.current_password:
        raise InvalidInput(
            "new_password: must differ from the current password", field="new_password"
        )
    user.password_hash = hash_password(data.new_password)
    user.force_password_change = False
    revoke_sessions(session, user)  # a stolen token dies with the old password
    session.flush()
    audit.record(session, actor, "change-password", "user", user.id, {"email": user.email})
    return User.model_validate(user)


def totp_setup(session: Session, actor: Actor) -> TotpSetup:
    import pyotp

    user = _jwt_user(session, actor)
    if user.totp_enabled:
        raise InvalidInput("TOTP is already enabled. Disable it first.")
    user.totp_secret = pyotp.random_base32(32)  # 160 bits
    user.totp_last_step = None
    url = _totp(user.totp_secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    session.flush()
    audit.record(session, actor, "totp-setup", "user", user.id, {"email": user.email})
    return TotpSetup(secret=user.totp_secret, otpauth_url=url, qr_code=qr_png_base64(url))


def qr_png_base64(data: str) -> str:
    """The QR code as the original API gives it: a base64 PNG without a `data:` prefix (its
    web UI prepends one). segno writes PNG itself, no imaging library needed."""
    import base64
    import io

    import segno

    buf = io.BytesIO()
    segno.make(data, error="m").save(buf, kind="png", scale=5, border=2)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def totp_verify(session: Session, actor: Actor, code: str) -> TotpState:
    user = _jwt_user(session, actor)
    if not user.totp_secret:
        raise InvalidInput("TOTP not set up. Call /api/auth/totp/setup first.")
    _consume_totp(session, user, code)
    user.totp_enabled = True
    session.flush()
    audit.record(session, actor, "totp-enable", "user", user.id, {"email": user.email})
    return TotpState(totp_enabled=True)


def totp_disable(session: Session, actor: Actor, code: str) -> TotpState:
    user = _jwt_user(session, actor)
    if not user.totp_enabled:
        raise InvalidInput("TOTP is not enabled")
    _consume_totp(session, user, code)
    user.totp_enabled = False
    user.totp_secret = None
    session.flush()
    audit.record(session, actor, "totp-disable", "user", user.id, {"email": user.email})
    return TotpState(totp_enabled=False)


# ---------------------------------------------------------------- API keys


def _hash_key(key: str) -> str:
    # keys carry 256 bits of randomness: a fast hash is enough, and lookups stay O(1)
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    session: Session, actor: Actor, data: ApiKeyCreate | dict, user_ref: Any = None
) -> ApiKeyCreated:
    data = validate(ApiKeyCreate, data) if isinstance(data, dict) else data
    if user_ref is not None:
        actor.require(("admin",))
        from sigma.services.users import find as find_user

        owner = find_user(session, user_ref)
    else:
        owner = _jwt_user(session, actor)
    return issue_key(session, actor, owner, data)


def service_user(session: Session, email: str, role: str) -> UserRow:
    """The user that owns the keys of one kind of machine (agents, probes), created on
    first use with a password nobody knows: it never signs in, its keys do the work."""
    user = session.scalars(select(UserRow).where(col(UserRow.email) == email)).first()
    if user is None:
        user = UserRow(
            email=email,
            name=f"{role} keys",
            role=role,
            password_hash=hash_password(secrets.token_urlsafe(32)),
        )
        session.add(user)
        session.flush()
    elif user.role != role or not user.active:
        from sigma.errors import Conflict

        raise Conflict(
            f"user {email} exists with role {user.role}{'' if user.active else ' (disabled)'}; "
            f"it owns the {role} keys: give it back role {role} or remove it",
            field="user",
        )
    return user


def issue_key(
    session: Session,
    actor: Actor,
    owner: UserRow,
    data: ApiKeyCreate,
    *,
    vps_id: Any = None,
    details: dict[str, Any] | None = None,
) -> ApiKeyCreated:
    """A new key of `owner` (shown once, stored as a hash), bound to `vps_id` for an agent."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKeyRow(
        user_id=owner.id,
        name=data.name,
        prefix=key[: len(API_KEY_PREFIX) + 6],
        key_hash=_hash_key(key),
        read_only=data.read_only,
        expires_at=utcnow() + timedelta(days=data.expires_in_days)
        if data.expires_in_days
        else None,
        vps_id=vps_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "api_key",
        row.id,
        {"name": row.name, "owner": owner.email, "read_only": row.read_only, **(details or {})},
    )
    return ApiKeyCreated(**ApiKey.model_validate(row).model_dump(), key=key)


def list_api_keys(session: Session, actor: Actor, all_users: bool = False) -> list[ApiKey]:
    q = select(ApiKeyRow).order_by(col(ApiKeyRow.created_at).desc())
    if all_users:
        actor.require(("admin",))
    else:
        q = q.where(col(ApiKeyRow.user_id) == _jwt_user(session, actor).id)
    from sigma.db.models.core import Vps as VpsRow

    rows = session.execute(
        q.add_columns(col(UserRow.email), col(VpsRow.hostname))
        .join(UserRow, col(UserRow.id) == col(ApiKeyRow.user_id))
        .outerjoin(VpsRow, col(VpsRow.id) == col(ApiKeyRow.vps_id))
    ).all()
    return [
        ApiKey.model_validate(key).model_copy(update={"user_email": email, "vps_hostname": host})
        for key, email, host in rows
    ]


def revoke_api_key(session: Session, actor: Actor, ref: Any) -> ApiKey:
    rows = list(session.scalars(select(ApiKeyRow)))
    text = str(ref).strip()
    matches = [
        r
        for r in rows
        if str(r.id) == text or str(r.id).startswith(text) or r.prefix == text or r.name == text
    ]
    if actor.effective_role != "admin":
        matches = [r for r in matches if r.user_id == actor.user_id]
    if not matches or len(text) < 4:
        raise NotFound(f"API key '{ref}' not found", field="api_key")
    if len(matches) > 1:
        raise InvalidInput(f"API key reference '{ref}' is ambiguous", field="api_key")
    row = matches[0]
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit.record(session, actor, "revoke", "api_key", row.id, {"name": row.name})
    return ApiKey.model_validate(row)


# ---------------------------------------------------------------- credentials -> Actor


def authenticate(
    session: Session,
    settings: Settings,
    *,
    bearer: str | None,
    api_key: str | None,
    client_ip: str | None = None,
) -> Actor:
    """The principal behind a request, or NotAuthenticated. Every route but login,
    health and the OpenAPI document needs one (no anonymous-admin mode)."""
    if bearer and bearer.startswith(API_KEY_PREFIX):
        api_key, bearer = bearer, None
    if bearer:
        claims = read_token(settings, bearer, purpose="access")
        user = _user_by_sub(session, claims["sub"])
        if not user.active or claims.get("ep", 0) != (user.session_epoch or 0):
            raise NotAuthenticated("Unauthorized")
        return Actor(
            email=user.email,
            role=user.role,
            user_id=user.id,
            client_ip=client_ip,
            password_change_required=user.force_password_change,
            session_epoch=user.session_epoch or 0,
            auth_time=int(claims.get("auth_time") or claims["iat"]),
        )
    if api_key:
        if settings.api_key and hmac.compare_digest(api_key, settings.api_key):
            return Actor(
                email=LEGACY_KEY_EMAIL, role="admin", client_ip=client_ip, via_api_key=True
            )
        row = session.scalar(select(ApiKeyRow).where(col(ApiKeyRow.key_hash) == _hash_key(api_key)))
        now = utcnow()
        if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
            raise NotAuthenticated("Unauthorized")
        owner = session.get(UserRow, row.user_id)
        if owner is None or not owner.active:
            raise NotAuthenticated("Unauthorized")
        # last_used_at at minute resolution: no write on every request of a busy agent
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            row.last_used_at = now
        return Actor(
            email=owner.email,
            role=owner.role,
            user_id=owner.id,
            client_ip=client_ip,
            via_api_key=True,
            read_only_key=row.read_only,
            api_key_id=row.id,
            password_change_required=owner.force_password_change,
        )
    raise NotAuthenticated("Unauthorized")


@dataclass(frozen=True)
class HeartbeatCredential:
    """A heartbeat's credential, in the form the batch statement checks it against the
    database (services.agents.HEARTBEAT_BATCH_SQL): a managed API key by its hash, a user's
    session (a verified token's user and epoch), or the legacy shared key."""

    key_hash: str | None = None
    user_id: uuid.UUID | None = None
    epoch: int | None = None
    legacy: bool = False


def heartbeat_credential(
    settings: Settings, *, bearer: str | None, api_key: str | None
) -> HeartbeatCredential | None:
    """The credential of a heartbeat without a query: the legacy key compared, an API key
    hashed, a token's signature and expiry verified (its user is checked by the batch). None
    for what only authenticate() can judge (a bad token: it answers 401)."""
    if bearer and bearer.startswith(API_KEY_PREFIX):
        api_key, bearer = bearer, None
    if api_key:
        if settings.api_key and hmac.compare_digest(api_key, settings.api_key):
            return HeartbeatCredential(legacy=True)
        return HeartbeatCredential(key_hash=_hash_key(api_key))
    if bearer:
        try:
            claims = read_token(settings, bearer, purpose="access")
            return HeartbeatCredential(
                user_id=uuid.UUID(str(claims["sub"])), epoch=int(claims.get("ep", 0))
            )
        except (NotAuthenticated, ValueError, TypeError):
            return None
    return None


def still_valid(session: Session, actor: Actor) -> bool:
    """Whether the credential `actor` was built from still holds now (a cached actor may be
    minutes old): the key not revoked or expired, the user active with the same role, the
    token's epoch current. The legacy key and the terminal have nothing to re-check."""
    if actor.user_id is None:
        return True
    user = session.get(UserRow, actor.user_id)
    if user is None or not user.active or user.role != actor.role:
        return False
    if actor.api_key_id is not None:
        key = session.get(ApiKeyRow, actor.api_key_id)
        now = utcnow()
        return (
            key is not None
            and key.revoked_at is None
            and not (key.expires_at and key.expires_at <= now)
        )
    if actor.session_epoch is not None:
        return actor.session_epoch == (user.session_epoch or 0)
    return True


# what a user who must change the password may still do: change it, see who they are, leave
PASSWORD_CHANGE_PATHS = ("/api/auth/change-password", "/api/auth/me", "/api/auth/logout-all")


def require_password_changed(actor: Actor, path: str = "") -> None:
    if actor.password_change_required and path not in PASSWORD_CHANGE_PATHS:
        raise PermissionDenied(
            "Forbidden: the password must be changed first: `sigma user passwd` "
            "(POST /api/auth/change-password) or the web UI's Change password page"
        )
