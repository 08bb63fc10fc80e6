"""Where `sigma login` keeps the token: the OS keyring, or a 0600 file in the data dir
when no keyring backend exists (servers, containers).

A server's secret is kept in one place only: saving it to the keyring drops the file's
entry. So `load` reads the file first and asks the keyring only when the file has nothing
for that server: importing keyring and finding its backend would otherwise slow every
remote command of a machine without a keyring (bench/README.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType

SERVICE = "sigma"


def _file() -> Path:
    from sigma.config_file import data_dir

    return data_dir() / "credentials.json"


def _keyring() -> ModuleType | None:
    try:
        import keyring
        from keyring.backends.fail import Keyring as FailKeyring

        kr = keyring.get_keyring()
        if (
            isinstance(kr, FailKeyring)
            or type(kr).__name__ in ("ChainerBackend",)
            and not getattr(kr, "backends", None)
        ):
            return None
        return keyring
    except Exception:  # noqa: BLE001 - any keyring trouble means: use the file
        return None


def _read_file() -> dict[str, str]:
    try:
        data: dict[str, str] = json.loads(_file().read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError):
        return {}


def _write_file(data: dict[str, str]) -> None:
    path = _file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def save(server: str, secret: str) -> str:
    """Store the secret for `server`; returns where it went (for the user's information)."""
    kr = _keyring()
    data = _read_file()
    if kr is not None:
        try:
            kr.set_password(SERVICE, server, secret)
            # a keyring that accepts and forgets (keyring's null backend) is no keyring
            kept = kr.get_password(SERVICE, server) == secret
        except Exception:  # noqa: BLE001
            kept = False
        if kept:
            if data.pop(server, None) is not None:  # an older secret must not shadow this one
                _write_file(data)
            return "the OS keyring"
    data[server] = secret
    _write_file(data)
    return str(_file())


def load(server: str) -> str | None:
    secret = _read_file().get(server)
    if secret:
        return secret
    kr = _keyring()
    if kr is not None:
        try:
            value: str | None = kr.get_password(SERVICE, server)
            if value:
                return value
        except Exception:  # noqa: BLE001
            pass
    return None


def delete(server: str) -> bool:
    found = False
    kr = _keyring()
    if kr is not None:
        try:
            kr.delete_password(SERVICE, server)
            found = True
        except Exception:  # noqa: BLE001
            pass
    data = _read_file()
    if data.pop(server, None) is not None:
        _write_file(data)
        found = True
    return found
