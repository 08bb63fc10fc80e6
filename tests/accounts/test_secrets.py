"""The key of the accounts' credentials: made once however many processes ask for it first,
readable by its owner only, refused when it is not a Fernet key."""

from __future__ import annotations

import stat
import threading

import pytest
from cryptography.fernet import Fernet

from sigma.errors import InvalidInput, Unavailable
from sigma.services import secrets
from sigma.settings import Settings


def test_the_first_key_is_made_once_by_concurrent_callers(tmp_path) -> None:
    settings = Settings(account_key_file=str(tmp_path / "keys" / "account.key"))
    barrier = threading.Barrier(8)
    got: list[list[bytes]] = []

    def ask() -> None:
        barrier.wait()
        got.append(secrets.keys(settings, create=True))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(k == got[0] for k in got)
    path = secrets.key_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["account.key"]  # no leftovers
    token = secrets.seal(settings, {"token": "t0k"})
    assert secrets.unseal(settings, token) == {"token": "t0k"}


def test_a_missing_key_is_not_made_when_reading(tmp_path) -> None:
    settings = Settings(account_key_file=str(tmp_path / "none.key"))
    with pytest.raises(Unavailable):
        secrets.keys(settings)
    assert not (tmp_path / "none.key").exists()


def test_keys_that_are_not_fernet_keys_are_refused(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="not a Fernet key"):
        secrets.keys(Settings(account_key="not-a-key"))
    good = Fernet.generate_key().decode()
    assert len(secrets.keys(Settings(account_key=f"{good}, {Fernet.generate_key().decode()}"))) == 2


def test_rotation_reencrypts_with_the_first_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = secrets.seal(Settings(account_key=old), {"token": "abc"})
    both = Settings(account_key=f"{new},{old}")
    [rotated] = secrets.rotate(both, [token])
    assert secrets.unseal(Settings(account_key=new), rotated) == {"token": "abc"}
    with pytest.raises(Unavailable):
        secrets.unseal(Settings(account_key=new), token)
