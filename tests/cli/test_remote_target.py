"""config_file.light_remote: the server URL and API key read without the Settings model, for
remote commands that need nothing else. Whenever it answers, load_settings (the same layering,
validated) must agree; whenever the configuration holds anything more, it must step aside
(None) so load_settings judges it."""

from __future__ import annotations

import pytest

from sigma.config_file import layered, light_remote
from sigma.settings import load_settings


def remote_settings(flags, *, local=False):
    return light_remote(layered(flags), local=local)


@pytest.fixture
def config(tmp_path, monkeypatch):
    # the suite's own SIGMA_ variable (tests/conftest.py) is "anything more": not here
    monkeypatch.delenv("SIGMA_ATTENTION_CACHE_SECONDS", raising=False)
    path = tmp_path / "config.yaml"

    def write(text: str):
        path.write_text(text)
        return path

    return write


def agrees(flags):
    got = remote_settings(flags)
    s = load_settings(flags)
    assert got == (s.server, s.api_key)
    return got


@pytest.mark.parametrize(
    ("text", "env", "flags", "expected"),
    [
        ("server: http://a.example\n", {}, {}, ("http://a.example", None)),
        ("server: http://a.example\napi_key: sigma_k\n", {}, {}, ("http://a.example", "sigma_k")),
        (
            "server: http://a.example\n",
            {"SIGMA_SERVER": "http://b.example"},
            {},
            ("http://b.example", None),
        ),
        (
            "server: http://a.example\n",
            {"SIGMA_SERVER": "http://b.example"},
            {"server": "http://c.example"},
            ("http://c.example", None),
        ),
        (
            "",
            {"SIGMA_API_URL": "https://old.example/api/", "SIGMA_API_KEY": "k"},
            {},
            ("https://old.example", "k"),
        ),
        (
            "",
            {"SIGMA_API_URL": "https://old.example/api", "SIGMA_SERVER": "https://new.example"},
            {},
            ("https://new.example", None),
        ),
    ],
)
def test_agrees_with_load_settings(config, monkeypatch, text, env, flags, expected):
    config(text)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert agrees({"database_url": None, "server": None, **flags}) == expected


@pytest.mark.parametrize(
    ("text", "env", "flags"),
    [
        ("", {}, {}),  # no server: local mode
        ("server: http://a.example\nlog_level: DEBUG\n", {}, {}),  # another setting
        (
            "server: http://a.example\ncolour: red\n",
            {},
            {},
        ),  # an unknown one: load_settings refuses it
        ("server: 8080\n", {}, {}),  # not a string
        (
            "server: http://a.example\n",
            {"SIGMA_JWT_EXPIRY_HOURS": "forever"},
            {},
        ),  # another variable
        ("server: http://a.example\n", {}, {"database_url": "sqlite:///x.db"}),  # another flag
    ],
)
def test_steps_aside_for_anything_else(config, monkeypatch, text, env, flags):
    config(text)  # where SIGMA_CONFIG points (tests/conftest.py)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert remote_settings({"database_url": None, "server": None, **flags}) is None


def test_a_broken_config_file_is_the_same_error_either_way(config):
    from sigma.errors import InvalidInput

    config("server: [unclosed\n")
    with pytest.raises(InvalidInput, match="not valid YAML") as light:
        remote_settings({"database_url": None, "server": None})
    with pytest.raises(InvalidInput, match="not valid YAML") as full:
        load_settings({"database_url": None, "server": None})
    assert light.value.message == full.value.message


def test_local_flag(config):
    config("server: http://a.example\n")
    assert remote_settings({"database_url": None, "server": None}, local=True) is None
