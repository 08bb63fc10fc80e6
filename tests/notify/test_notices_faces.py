"""`sigma notify test|log|run --dry-run` for the Apprise notices, locally and against a server
(whose own notify_urls are used), the routes' roles, the settings' errors naming the field,
and no secret in any output."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest

from sigma.services import vps
from sigma.settings import Settings

TOKEN = "Tok3n-s3cret-98765"


@pytest.fixture
def configure(request, monkeypatch):
    """configure(name=value...): settings for the side that sends (the local command, or the
    server the remote command talks to)."""

    def _configure(**values: str) -> None:
        if os.environ.get("SIGMA_SERVER"):
            app = request.getfixturevalue("remote_cli_server")
            app.state.settings = Settings(**(app.state.settings.model_dump() | values))
        else:
            for name, value in values.items():
                monkeypatch.setenv(f"SIGMA_{name.upper()}", value)

    return _configure


def test_cli_dry_run_run_log_and_test(cli, run, receiver, configure):
    hook = receiver.url("json", f"/hooks/{TOKEN}")
    configure(notify_urls=hook, notify_rules="*: kind=expiring,overdue")
    run(
        vps.create,
        {"hostname": "hk-01", "status": "active", "expire_date": date.today() + timedelta(days=2)},
    )
    outputs = []

    def sigma(*args):
        r = cli(*args)
        outputs.append(r.out + r.err)
        return r

    r = sigma("notify", "run", "--dry-run", "--format", "json")
    assert r.code == 0, r.err
    [d] = [n for n in r.json() if "event" in n]
    assert (d["event"], d["kind"], d["why"], d["status"]) == (
        "open",
        "expiring",
        "instant",
        "pending",
    )
    assert (
        d["channel"] == f"json://127.0.0.1:{receiver.port}/hooks/T...5" and "hk-01" in d["summary"]
    )
    r = sigma("notify", "run", "--dry-run")
    assert r.code == 0 and "hk-01" in r.out and "1 notice(s) due" in r.err
    assert receiver.requests == []
    r = sigma("notify", "run")
    assert r.code == 0 and "1 sent, 0 failed" in r.err, r.err
    [msg] = receiver.json(f"/hooks/{TOKEN}")
    assert msg["title"] == "sigma: 1 need attention (1 warning)" and "hk-01" in msg["message"]
    assert sigma("notify", "run").err.startswith("0 sent, 0 failed")
    r = sigma("notify", "log", "--format", "json")
    assert r.code == 0
    [row] = r.json()
    assert (row["status"], row["attempts"], row["event"]) == ("sent", 1, "open")
    assert sigma("notify", "log", "--failed", "--format", "json").json() == []
    r = sigma("notify", "log")
    assert r.code == 0 and "sent" in r.out
    r = sigma("notify", "test", "--all")
    assert r.code == 0 and "1 test notice(s) sent" in r.err
    assert receiver.json(f"/hooks/{TOKEN}")[-1]["title"] == "sigma: test notice"
    r = sigma("notify", "test", f"json://user:{TOKEN}@127.0.0.1:9/refused")
    assert r.code == 1 and "failed: A Connection error" in r.out and "could not be sent" in r.err
    r = sigma("notify", "test", f"bogus://user:{TOKEN}@host/x")
    assert r.code == 2 and "unknown Apprise service" in r.err
    r = sigma("notify", "test")
    assert r.code == 2 and "--all" in r.err
    r = sigma("config", "show", "--format", "json")
    assert r.code == 0
    assert all(TOKEN not in o for o in outputs), [o for o in outputs if TOKEN in o]


@pytest.mark.local_only("a setting's error is the local command's own")
def test_bad_settings_name_the_field(cli, monkeypatch, each):
    cases = [
        ("NOTIFY_URLS", f"json://127.0.0.1/x,bogus://u:{TOKEN}@h", "notify_urls", "URL 2"),
        ("NOTIFY_URLS", f"mailto://u:{TOKEN}@127.0.0.1?to=a@b.c", "notify_urls", "URL 1"),
        ("NOTIFY_RULES", "*: kind=expired", "notify_rules", "unknown kind 'expired'"),
        ("NOTIFY_RULES", "*: severity=high", "notify_rules", "unknown severity 'high'"),
        ("NOTIFY_RULES", "3: digest", "notify_rules", "names URL 3"),
        ("NOTIFY_RULES", "*: sometimes", "notify_rules", "'sometimes' is not"),
        ("NOTIFY_QUIET_HOURS", "22:00", "notify_quiet_hours", "HH:MM-HH:MM"),
        ("NOTIFY_QUIET_HOURS", "22:00-25:00", "notify_quiet_hours", "'25:00'"),
        ("NOTIFY_QUIET_HOURS", "07:00-07:00", "notify_quiet_hours", "same time"),
        ("NOTIFY_TIMEZONE", "Mars/Olympus", "notify_timezone", "unknown time zone"),
        ("NOTIFY_TIMEZONE", "../../etc/passwd", "notify_timezone", "not an IANA time zone"),
        ("NOTIFY_DIGEST_AT", "8am", "notify_digest_at", "HH:MM"),
    ]

    def check(var, value, field, message):
        with monkeypatch.context() as m:
            m.setenv("SIGMA_NOTIFY_URLS", "json://127.0.0.1/a json://127.0.0.1/b")
            m.setenv(f"SIGMA_{var}", value)
            r = cli("notify", "log")
            assert r.code == 2, r.err
            assert f"invalid setting {field}" in r.err and message in r.err, r.err
            assert TOKEN not in r.err

    each(cases, check)


def test_settings_parse():
    s = Settings(
        notify_urls="json://127.0.0.1/a, mailto://u:p@localhost?to=a@example.com,b@example.com"
        "\nform://127.0.0.1/c",
        notify_rules="1: severity=critical; 2,3: kind=overdue,expiring digest\n*: kind=ticket",
        notify_quiet_hours=" 22:00-7:00 ",
        notify_digest_at="7:05",
        notify_timezone="Asia/Shanghai",
    )
    assert len(s.notify_urls) == 3 and s.notify_urls[1].endswith("b@example.com")
    assert s.notify_rules == [
        "1: severity=critical instant",
        "2,3: kind=overdue,expiring digest",
        "*: kind=ticket instant",
    ]
    assert (s.notify_quiet_hours, s.notify_digest_at) == ("22:00-07:00", "07:05")
    assert s.redacted()["notify_urls"][1].startswith("mailto://u:***@localhost")
    yaml_style = Settings(notify_urls=["json://127.0.0.1/a"], notify_rules=["*: digest"])
    assert yaml_style.notify_rules == ["*: digest"]


def test_every_attention_kind_may_be_named_in_a_rule():
    from sigma.services import attention
    from sigma.vocab import ATTENTION_KINDS

    assert set(ATTENTION_KINDS) == set(attention.KINDS)


@pytest.fixture
def api_settings(db_url, receiver):
    return Settings(
        database_url=db_url,
        jwt_secret="test-jwt-secret-0123456789abcdef",
        rate_limit_requests=100_000,
        rate_limit_login=100_000,
        jobs_enabled=False,
        notify_urls=[receiver.url("json", f"/r/{TOKEN}")],
    )


def test_routes_and_roles(api, receiver):
    op, ro = api.user("operator"), api.user("readonly")
    post = api.client.post
    r = post("/api/notify/test", headers=api.headers(op), json={"all": True})
    assert r.status_code == 200 and r.json()[0]["ok"] is True
    # any URL: the server would send wherever it is told: admins only
    r = post("/api/notify/test", headers=api.headers(op), json={"url": receiver.url("xml", "/x")})
    assert r.status_code == 403
    r = post("/api/notify/test", headers=api.headers(), json={"url": receiver.url("xml", "/x")})
    assert r.status_code == 200 and r.json() == [
        {"channel": f"xml://127.0.0.1:{receiver.port}/x", "ok": True, "error": None}
    ]
    r = post("/api/notify/test", headers=api.headers(), json={"url": "x" * 5000})
    assert r.status_code == 422
    assert post("/api/notify/test", headers=api.headers(ro), json={"all": True}).status_code == 403
    assert api.client.get("/api/notify/log", headers=api.headers(ro)).status_code == 403
    r = api.client.get("/api/notify/log", headers=api.headers(op), params={"limit": 5000})
    assert r.status_code == 422
    r = post("/api/notify/run", headers=api.headers(op), params={"dry_run": "true"})
    assert r.status_code == 200 and r.json()["channels"] == [
        f"json://127.0.0.1:{receiver.port}/r/T...5"
    ]
    assert TOKEN not in r.text
    audit = api.client.get("/api/audit-logs", headers=api.headers(), params={"resource": "notify"})
    assert audit.status_code == 200 and TOKEN not in audit.text
    tests = [e for e in audit.json()["data"] if e["action"] == "test"]
    assert len(tests) == 2 and tests[0]["details"]["failed"] == 0
