"""Where `sigma login` keeps a server's secret: in one place only (the OS keyring, or the 0600
file without one), so that reading the file first is right and a remote command on a machine
without a keyring never imports keyring (~100-150 ms, bench/README.md)."""

from __future__ import annotations

import pytest

from sigma.client import credentials


class FakeKeyring:
    def __init__(self):
        self.store: dict[tuple[str, str], str] = {}

    def set_password(self, service, server, secret):
        self.store[(service, server)] = secret

    def get_password(self, service, server):
        return self.store.get((service, server))

    def delete_password(self, service, server):
        del self.store[(service, server)]


def test_without_a_keyring_the_file_holds_the_secret():
    where = credentials.save("http://a", "token-1")
    assert where.endswith("credentials.json")
    assert credentials.load("http://a") == "token-1"
    assert credentials.load("http://b") is None
    assert credentials.delete("http://a") and credentials.load("http://a") is None


def test_a_secret_saved_to_the_keyring_replaces_the_files_copy(monkeypatch):
    credentials.save("http://a", "old-token")  # no keyring at the time: the file
    kr = FakeKeyring()
    monkeypatch.setattr(credentials, "_keyring", lambda: kr)
    assert credentials.save("http://a", "new-token") == "the OS keyring"
    assert "http://a" not in credentials._read_file()
    assert credentials.load("http://a") == "new-token"


def test_a_secret_in_the_file_is_read_without_the_keyring(monkeypatch):
    credentials.save("http://a", "file-token")

    def no_keyring():
        pytest.fail("the keyring was consulted although the file has the secret")

    monkeypatch.setattr(credentials, "_keyring", no_keyring)
    assert credentials.load("http://a") == "file-token"
