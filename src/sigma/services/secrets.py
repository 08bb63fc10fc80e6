"""The accounts' credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256, from the
cryptography library) with a key that is never in the database.

Where the key comes from: the `account_key` setting (SIGMA_ACCOUNT_KEY), else the key file
(`account_key_file`, default account.key in the data dir), created with mode 0600 the first
time a credential is stored. Either may hold several keys (comma- or line-separated): the
first encrypts, every one decrypts. Rotation (`sigma account rotate-key`): a new key goes
first, every stored credential is re-encrypted with it in one transaction, then the old keys
can go. Replicas of `sigma serve` must share the key (the setting, or the same file).

A database copied without its key holds nothing usable; a key lost means the accounts'
credentials are entered again (`sigma account set-credentials`).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from sigma.errors import InvalidInput, Unavailable
from sigma.settings import Settings, data_dir

KEY_FILE = "account.key"


def key_path(settings: Settings) -> Path:
    return Path(settings.account_key_file) if settings.account_key_file else data_dir() / KEY_FILE


def _parse(text: str, where: str) -> list[bytes]:
    keys = [k.strip() for k in text.replace("\n", ",").split(",") if k.strip()]
    for k in keys:
        try:
            Fernet(k)
        except ValueError:
            raise InvalidInput(
                f"{where}: not a Fernet key (32 url-safe base64-encoded bytes; "
                "`sigma account rotate-key` makes one)",
                field="account_key",
            ) from None
    return [k.encode() for k in keys]


def keys(settings: Settings, *, create: bool = False) -> list[bytes]:
    """The keys, newest first. With `create`, a missing key file is made (0600)."""
    if settings.account_key:
        return _parse(settings.account_key, "account_key")
    path = key_path(settings)
    try:
        return _parse(path.read_text(), str(path))
    except FileNotFoundError:
        if not create:
            raise Unavailable(
                f"no key for the accounts' credentials: set account_key or keep {path} "
                "(it is created when the first account is added)"
            ) from None
    # two processes adding the first account at once (serve's workers) must end with one
    # key: the file is made whole under a private name and linked into place, which fails
    # for the second one; that one reads the winner's key
    key = Fernet.generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    write_key_file(tmp, [key])
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _parse(path.read_text(), str(path))
    finally:
        tmp.unlink(missing_ok=True)
    return [key]


def write_key_file(path: Path, new_keys: list[bytes]) -> None:
    """Write the key file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(k.decode() for k in new_keys) + "\n")
    os.replace(tmp, path)


def _fernet(settings: Settings, *, create: bool = False) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys(settings, create=create)])


def seal(settings: Settings, values: dict[str, str]) -> str:
    """The credentials as one Fernet token (text)."""
    return _fernet(settings, create=True).encrypt(json.dumps(values).encode()).decode()


def unseal(settings: Settings, token: str) -> dict[str, str]:
    try:
        raw = _fernet(settings).decrypt(token.encode())
    except InvalidToken:
        raise Unavailable(
            "the account's credentials cannot be decrypted with the configured key (was "
            "account_key or the key file changed?); enter them again with "
            "`sigma account set-credentials`"
        ) from None
    values = json.loads(raw)
    return {k: str(v) for k, v in values.items()} if isinstance(values, dict) else {}


def unseal_or_empty(settings: Settings, token: str) -> dict[str, str]:
    """The stored credentials, or none when they cannot be decrypted (replacing them all)."""
    try:
        return unseal(settings, token)
    except Unavailable:
        return {}


def rotate(settings: Settings, tokens: list[str]) -> list[str]:
    """Each token re-encrypted with the first key (the others must still decrypt it)."""
    fernet = _fernet(settings)
    try:
        return [fernet.rotate(t.encode()).decode() for t in tokens]
    except InvalidToken:
        raise Unavailable(
            "a stored credential cannot be decrypted with any configured key; keep the old "
            "key after the new one until the rotation has run"
        ) from None


def new_key() -> bytes:
    return Fernet.generate_key()
