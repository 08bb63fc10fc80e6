"""`sigma config show|path|set|unset`, settings precedence (defaults < config.yaml < SIGMA_*
environment < flags) and redaction of secrets and DSN passwords."""

from __future__ import annotations

import json
import os
import stat

import pytest
import yaml

pytestmark = pytest.mark.local_only("settings and the config file are read on this machine")


@pytest.fixture
def db_url(tmp_path):
    """Settings do not depend on the database: one (SQLite) is enough here."""
    return f"sqlite:///{tmp_path / 'sigma.db'}"


@pytest.fixture
def config_file(tmp_path):
    return tmp_path / "config.yaml"  # SIGMA_CONFIG points here (tests/conftest.py)


def shown(cli, *flags: str) -> dict:
    r = cli(*flags, "config", "show", "--format", "json")
    assert r.code == 0, r.err
    return r.json()


def test_defaults(cli, monkeypatch, tmp_path):
    monkeypatch.delenv("SIGMA_DATABASE_URL")
    s = shown(cli)
    assert s["database_url"] == f"sqlite:///{tmp_path / 'data' / 'sigma.db'}"
    assert s["server"] is None and s["jwt_expiry_hours"] == 24 and s["log_level"] == "INFO"


def test_precedence_file_env_flag(cli, monkeypatch, config_file, tmp_path):
    monkeypatch.delenv("SIGMA_DATABASE_URL")
    config_file.write_text(
        "database_url: sqlite:///from-file.db\nagent-interval: 30\nlog_level: DEBUG\n"
        "rate_limit_requests: 7\n"
    )
    s = shown(cli)
    assert (s["database_url"], s["agent_interval"], s["log_level"], s["rate_limit_requests"]) == (
        "sqlite:///from-file.db",
        30,
        "DEBUG",
        7,
    )
    monkeypatch.setenv("SIGMA_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("SIGMA_AGENT_INTERVAL", "45")
    s = shown(cli)
    assert (s["database_url"], s["agent_interval"], s["log_level"]) == (
        "sqlite:///from-env.db",
        45,
        "DEBUG",
    )
    s = shown(cli, "--database-url", "sqlite:///from-flag.db")
    assert (s["database_url"], s["agent_interval"]) == ("sqlite:///from-flag.db", 45)


def test_config_flag_reads_another_file(cli, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("log_level: WARNING\n")
    assert shown(cli, "--config", str(other))["log_level"] == "WARNING"


def test_the_flag_also_reaches_commands(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'flagged.db'}"
    assert cli("--database-url", url, "provider", "add", "OnlyThere").code == 0
    assert cli("provider", "list", "-q").out == ""
    assert len(cli("--database-url", url, "provider", "list", "-q").out.split()) == 1


@pytest.mark.parametrize(
    ("content", "word"),
    [
        ("colour: red\n", "colour"),
        ("agent_interval: soon\n", "agent_interval"),
        ("database_url: not-a-url\n", "database_url"),
        ("- just\n- a list\n", "mapping"),
        ("key: [unclosed\n", "config"),
    ],
)
def test_bad_config_file_is_one_line(cli, monkeypatch, config_file, content, word):
    monkeypatch.delenv("SIGMA_DATABASE_URL")
    config_file.write_text(content)
    r = cli("config", "show")
    assert r.code == 2
    assert r.err.count("\n") == 1 and word in r.err
    assert "Traceback" not in r.err


def test_bad_env_value(cli, monkeypatch):
    monkeypatch.setenv("SIGMA_JWT_EXPIRY_HOURS", "forever")
    r = cli("config", "show")
    assert r.code == 2 and "jwt_expiry_hours" in r.err and r.err.count("\n") == 1


SECRETS = {
    "SIGMA_DATABASE_URL": "postgresql+psycopg://u:topsecret@h/db",
    "SIGMA_JWT_SECRET": "jwt-topsecret-value",
    "SIGMA_API_KEY": "sk-topsecret-key",
    "SIGMA_REDIS_URL": "redis://:redis-topsecret@127.0.0.1:6379/0",
    "SIGMA_SERVER": "https://ops:srv-topsecret@sigma.example",
    "SIGMA_ADMIN_PASSWORD": "admin-topsecret",
    "SIGMA_TELEGRAM_BOT_TOKEN": "123:tg-topsecret",
    "SIGMA_WEBHOOK_SECRET": "hook-topsecret",
}


@pytest.mark.parametrize("fmt", ["table", "json", "yaml", "csv"])
def test_show_redacts_secrets_and_dsn_passwords(cli, monkeypatch, fmt):
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    r = cli("config", "show", "--format", fmt)
    assert r.code == 0, r.err
    assert "topsecret" not in r.out + r.err
    if fmt == "json":
        s = r.json()
        assert s["database_url"] == "postgresql+psycopg://u:***@h/db"
        assert s["jwt_secret"] == s["api_key"] == "********"
        assert s["server"] == "https://ops:***@sigma.example"
        assert s["redis_url"] == "redis://:***@127.0.0.1:6379/0"


def test_show_redacts_secrets_from_the_config_file(cli, monkeypatch, config_file):
    monkeypatch.delenv("SIGMA_DATABASE_URL")
    config_file.write_text(
        "database_url: postgresql://sigma:topsecret@db.internal:5432/sigma\n"
        "jwt_secret: topsecret2\n"
    )
    r = cli("config", "show", "--format", "yaml")
    assert r.code == 0 and "topsecret" not in r.out
    assert yaml.safe_load(r.out)["database_url"] == "postgresql://sigma:***@db.internal:5432/sigma"


def test_path(cli, monkeypatch, config_file):
    r = cli("config", "path")
    assert r.code == 0 and r.out.strip() == str(config_file)
    monkeypatch.delenv("SIGMA_CONFIG")
    from platformdirs import user_config_dir

    r = cli("config", "path")
    assert r.out.strip() == os.path.join(user_config_dir("sigma"), "config.yaml")


def test_set_and_unset(cli, config_file):
    r = cli("config", "set", "agent-interval", "20")
    assert r.code == 0 and str(config_file) in r.err
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert yaml.safe_load(config_file.read_text()) == {"agent_interval": "20"}
    assert shown(cli)["agent_interval"] == 20
    assert cli("config", "set", "agent_interval", "never").code == 2
    assert cli("config", "set", "colour", "red").code == 2
    assert yaml.safe_load(config_file.read_text()) == {"agent_interval": "20"}
    assert cli("config", "unset", "agent_interval").code == 0
    assert shown(cli)["agent_interval"] == 60


def test_show_json_is_stable_for_scripts(cli):
    r = cli("config", "show", "--format", "json")
    data = json.loads(r.out)
    assert {"database_url", "server", "api_key", "jwt_secret", "log_level"} <= set(data)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:topsecret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:top@secret@h/db", "postgresql://u:***@h/db"),  # unencoded '@'
        ("postgresql://u:top%40secret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:top/secret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p:topsecret@h/db", "postgresql://u:***@h/db"),
        (
            "postgresql+psycopg://u:topsecret@[::1]:5432/db",
            "postgresql+psycopg://u:***@[::1]:5432/db",
        ),
        (
            "postgresql://u@h/db?sslmode=require&password=topsecret",
            "postgresql://u@h/db?sslmode=require&password=***",
        ),
        ("redis://:topsecret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:////var/lib/a@b/sigma.db", "sqlite:////var/lib/a@b/sigma.db"),
    ],
)
def test_redact_url(url, expected):
    from sigma.settings import redact_url

    assert redact_url(url) == expected
    assert "topsecret" not in redact_url(f"error: could not reach {url}: timeout")


def test_unreachable_database_error_hides_query_password(cli, monkeypatch):
    monkeypatch.setenv(
        "SIGMA_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:1/db?password=topsecret"
    )
    r = cli("provider", "list")
    assert r.code == 5 and "topsecret" not in r.err and r.err.count("\n") == 1
    r = cli("config", "show")
    assert r.code == 0 and "topsecret" not in r.out
