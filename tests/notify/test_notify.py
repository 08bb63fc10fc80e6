"""Expiry notifications against loopback servers standing in for Telegram and a webhook
receiver: message formats (HTML-escaped, split under 4,096 characters), 429 retry_after,
HMAC signatures, each notice at most once (recorded in the database, also across concurrent
runs), failed sends retried, overdue reported once; the job in `sigma serve`, the CLI and the
route."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import date, timedelta

import pytest

from sigma.services import notify, providers, vps
from sigma.services.actor import local_actor
from sigma.settings import Settings

TODAY = date.today()
TOKEN = "123456:SECRET-bot-token"
SECRET = "webhook-s3cret"


@pytest.fixture
def conf(db_url, telegram, webhook):
    return Settings(
        database_url=db_url,
        telegram_bot_token=TOKEN,
        telegram_chat_id="-1001",
        telegram_api_base=telegram.url,
        webhook_url=webhook.url + "/hook",
        webhook_secret=SECRET,
    )


def go(sessions, conf, today=TODAY, **kw):
    return notify.run(sessions, local_actor(), conf, today=today, **kw)


def add(run, hostname, days, **kw):
    values = {"hostname": hostname, "status": "active", "expire_date": TODAY + timedelta(days=days)}
    return run(vps.create, values | kw)


def webhook_events(webhook):
    return [
        (r["json"]["hostname"], r["json"]["event"], r["json"]["days_remaining"])
        for r in webhook.requests
    ]


def test_messages_signatures_and_once_only(run, sessions, conf, telegram, webhook):
    dmit = run(providers.create, {"name": "D&M <IT>", "country": "US"})
    add(
        run,
        "hk-01",
        2,
        alias="a&b <i>",
        provider_id=dmit.id,
        country="HK",
        ip_addresses=[{"ip": "103.1.2.3", "label": "china-telecom"}, {"ip": "2001:db8::1"}],
    )
    add(run, "later", 30)
    add(run, "retired-soon", 1, status="retired")
    report = go(sessions, conf)
    assert (report.sent, report.failed, report.already_sent) == (2, 0, 0)
    assert report.channels == ["telegram", "webhook"]
    # Telegram: the Bot API call, HTML parse mode, escaped text, the contract's lines
    [tg] = telegram.requests
    assert tg["path"] == f"/bot{TOKEN}/sendMessage"
    assert tg["json"]["chat_id"] == "-1001" and tg["json"]["parse_mode"] == "HTML"
    assert tg["json"]["text"] == "\n".join(
        [
            "⚠️ <b>VPS Expiring Soon</b>",
            "Host: <code>hk-01 (a&amp;b &lt;i&gt;)</code>",
            "Provider: D&amp;M &lt;IT&gt; / HK",
            "IPs: <code>103.1.2.3 (china-telecom), 2001:db8::1</code>",
            f"Expires: <b>{(TODAY + timedelta(days=2)).isoformat()}</b> (2 days)",
        ]
    )
    # webhook: the contract's JSON, signed with HMAC-SHA256 over the exact body
    [wh] = webhook.requests
    assert wh["path"] == "/hook"
    expected = "sha256=" + hmac.new(SECRET.encode(), wh["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(wh["headers"]["X-Sigma-Signature-256"], expected)
    assert wh["headers"]["X-Sigma-Event"] == "vps_expiring"
    body = wh["json"]
    assert {
        k: body[k]
        for k in (
            "event",
            "hostname",
            "alias",
            "provider",
            "country",
            "ip_addresses",
            "expire_date",
            "days_remaining",
        )
    } == {
        "event": "vps_expiring",
        "hostname": "hk-01",
        "alias": "a&b <i>",
        "provider": "D&M <IT>",
        "country": "HK",
        "ip_addresses": [
            {"ip": "103.1.2.3", "label": "china-telecom"},
            {"ip": "2001:db8::1", "label": ""},
        ],
        "expire_date": (TODAY + timedelta(days=2)).isoformat(),
        "days_remaining": 2,
    }
    assert (
        body["threshold"] == 3
    )  # first seen 2 days before: one notice (T=3), not two (T=7 and T=3)

    # the same day again (a restart, a second replica): nothing more
    again = go(sessions, conf)
    assert (again.sent, again.already_sent) == (0, 2)
    assert len(telegram.requests) == 1 and len(webhook.requests) == 1
    # next day: the 1-day notice; the day of expiry: nothing new; then overdue, once
    assert go(sessions, conf, TODAY + timedelta(days=1)).sent == 2
    assert go(sessions, conf, TODAY + timedelta(days=2)).sent == 0
    r = go(sessions, conf, TODAY + timedelta(days=3))
    assert r.sent == 2 and {n.kind for n in r.notices} == {"overdue"}
    assert webhook_events(webhook)[-1] == ("hk-01", "vps_overdue", -1)
    assert "🚨 <b>VPS Overdue</b>" in telegram.requests[-1]["json"]["text"]
    assert "(1 day ago)" in telegram.requests[-1]["json"]["text"]
    assert go(sessions, conf, TODAY + timedelta(days=4)).sent == 0
    late = go(sessions, conf, TODAY + timedelta(days=40))  # hk is done; "later" is now overdue
    assert {(n.hostname, n.kind) for n in late.notices} == {("later", "overdue")}


def test_a_new_expiry_date_is_notified_again(run, sessions, conf, webhook):
    v = add(run, "renewed", 3)
    assert go(sessions, conf).sent == 2
    run(vps.update, v.id, {"expire_date": TODAY + timedelta(days=33)})  # renewed for a month
    assert go(sessions, conf, TODAY + timedelta(days=30)).sent == 2
    assert [e[2] for e in webhook_events(webhook)] == [3, 3]


def test_telegram_429_retry_after_is_honoured(run, sessions, conf, telegram):
    add(run, "hk-1", 1)
    telegram.responses.append(
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            },
        )
    )
    r = go(sessions, conf)
    assert r.sent == 2 and r.failed == 0
    first, second = telegram.requests
    assert second["json"] == first["json"]
    assert second["at"] - first["at"] >= 1.0  # waited retry_after seconds before retrying


def test_failed_send_is_retried_next_run(run, sessions, conf, telegram, webhook):
    add(run, "hk-1", 1)
    webhook.responses.append((500, {"error": "boom"}))
    telegram.responses += [(400, {"ok": False, "description": "Bad Request: chat not found"})]
    r = go(sessions, conf)
    assert (r.sent, r.failed) == (0, 2)
    errors = {n.channel: n.error for n in r.notices}
    assert errors == {
        "telegram": "telegram: HTTP 400 Bad Request: chat not found",
        "webhook": "webhook: HTTP 500",
    }
    from sqlalchemy import func, select

    from sigma.db.models.notify import NotificationLog

    with sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(NotificationLog)) == 0
        )  # a failure is not recorded
    r = go(sessions, conf)
    assert (r.sent, r.failed) == (2, 0)
    assert len(webhook.requests) == 2 and len(telegram.requests) == 2


def test_unreachable_channel_never_shows_the_token(run, sessions, conf):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    add(run, "hk-1", 1)
    dead = conf.model_copy(
        update={"telegram_api_base": f"http://127.0.0.1:{port}", "webhook_url": None}
    )
    r = go(sessions, dead)
    assert r.failed == 1 and r.notices[0].error == "telegram: ConnectError"
    assert TOKEN not in r.model_dump_json()


def test_long_lists_are_split_under_4096_characters(run, sessions, conf, telegram):
    for i in range(60):
        add(
            run,
            f"edge-{i:02d}-" + "x" * 40,
            1 + i % 3,
            alias="<&>" * 10,
            ip_addresses=[
                {"ip": f"2001:db8::{i + 1}", "label": "overseas"},
                {"ip": f"198.51.100.{i + 1}"},
            ],
        )
    conf = conf.model_copy(update={"webhook_url": None})
    r = go(sessions, conf)
    assert r.sent == 60
    texts = [q["json"]["text"] for q in telegram.requests]
    assert len(texts) > 1
    assert all(len(t) < 4096 for t in texts)
    assert sum(t.count("VPS Expiring Soon") for t in texts) == 60
    for t in texts:  # every message is well-formed on its own
        assert t.count("<code>") == t.count("</code>") and t.count("<b>") == t.count("</b>")


def test_concurrent_runs_send_each_notice_once(run, sessions, conf, webhook, telegram):
    """Two replicas at the same moment, no job lock: the database claims alone prevent doubles."""
    for i in range(15):
        add(run, f"vps-{i:02d}", 1 + i % 7)
    conf = conf.model_copy(update={"telegram_bot_token": None})
    results = []
    barrier = threading.Barrier(2)

    def replica():
        barrier.wait()
        results.append(go(sessions, conf))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.sent for r in results) == 15
    hosts = [e[0] for e in webhook_events(webhook)]
    assert sorted(hosts) == sorted(set(hosts)) and len(hosts) == 15


def test_a_crashed_senders_claim_is_taken_over(run, sessions, conf, webhook):
    from sigma.db.models.notify import NotificationLog
    from sigma.db.types import utcnow

    v = add(run, "hk-1", 1)
    conf = conf.model_copy(update={"telegram_bot_token": None})
    with sessions() as s, s.begin():  # a claim that was never confirmed
        s.add(
            NotificationLog(
                vps_id=v.id,
                threshold=1,
                expire_date=v.expire_date,
                channel="webhook",
                claimed_at=utcnow() - timedelta(minutes=1),
            )
        )
    r = go(sessions, conf)
    assert r.sent == 0 and r.already_sent == 1  # fresh: someone may be sending it right now
    with sessions() as s, s.begin():
        row = s.query(NotificationLog).one()
        row.claimed_at = utcnow() - timedelta(hours=1)
    assert go(sessions, conf).sent == 1


def test_dry_run_and_thresholds(run, sessions, conf, webhook):
    add(run, "in-6", 6)
    add(run, "in-0", 0)
    add(run, "late-5", -5)
    add(run, "late-90", -90)  # older than notify_overdue_days
    add(run, "prov", 2, status="provisioning")
    r = go(sessions, conf, dry_run=True)
    assert r.dry_run and r.sent == 0
    due = sorted({(n.hostname, n.kind, n.threshold) for n in r.notices})
    assert due == [
        ("in-0", "expiring", 1),
        ("in-6", "expiring", 7),
        ("late-5", "overdue", -1),
        ("prov", "expiring", 3),
    ]
    assert webhook.requests == []
    custom = conf.model_copy(update={"notify_before_days": [14, 2], "telegram_bot_token": None})
    assert sorted(
        (n.hostname, n.threshold) for n in go(sessions, custom, dry_run=True).notices
    ) == [("in-0", 2), ("in-6", 14), ("late-5", -1), ("prov", 2)]


def test_settings_parse_and_validate():
    s = Settings(notify_before_days="7, 3,1", telegram_bot_token="", webhook_url="")
    assert (
        s.notify_before_days == [7, 3, 1] and s.telegram_bot_token is None and s.webhook_url is None
    )
    assert notify.channels(s) == []
    with pytest.raises(Exception, match="not a whole number"):
        Settings(notify_before_days="7,soon")
    with pytest.raises(Exception, match="http"):
        Settings(webhook_url="ftp://example.com/hook")
    assert (
        Settings(telegram_bot_token="x", webhook_secret="y").redacted()["telegram_bot_token"]
        == "********"
    )


def test_the_job_in_serve(run, sessions, conf, webhook):
    from sigma.server.jobs import jobs, run_once

    [job] = [j for j in jobs() if j.name == notify.JOB_NAME]
    assert job.interval(conf) == 3600
    add(run, "hk-1", 1)
    assert run_once(job, sessions, conf)
    assert len(webhook.requests) == 1
    # another replica's scheduler, a moment later: the job ran less than an interval ago
    assert not run_once(job, sessions, conf) and len(webhook.requests) == 1
    job.run(sessions, Settings(database_url=conf.database_url))  # no channel: does nothing


@pytest.mark.local_only("the channels come from the local settings (the server's are tested above)")
def test_cli_local(cli, run, monkeypatch, webhook):
    add(run, "hk-1", 1)
    r = cli("notify", "run")
    assert r.code == 2 and "no notification channel configured" in r.err
    r = cli("notify", "run", "--dry-run")
    assert r.code == 0 and "hk-1" in r.out and "(none)" in r.out
    monkeypatch.setenv("SIGMA_WEBHOOK_URL", webhook.url + "/hook")
    r = cli("notify", "run", "--dry-run", "--format", "json")
    assert r.code == 0 and [n["channel"] for n in r.json()] == ["webhook"]
    r = cli("notify", "run")
    assert r.code == 0 and "1 sent, 0 failed, 0 already sent (webhook)" in r.err
    assert cli("notify", "run").err.strip().endswith("0 sent, 0 failed, 1 already sent (webhook)")
    monkeypatch.setenv("SIGMA_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # discard port: refused
    add(run, "hk-2", 1)
    r = cli("notify", "run")
    assert r.code == 1 and "could not be sent" in r.err


@pytest.fixture
def api_settings(db_url, webhook):
    return Settings(
        database_url=db_url,
        jwt_secret="test-jwt-secret-0123456789abcdef",
        rate_limit_requests=100_000,
        rate_limit_login=100_000,
        jobs_enabled=False,
        webhook_url=webhook.url + "/hook",
        webhook_secret=SECRET,
    )


def test_route(api, run, webhook):
    add(run, "hk-1", 1)
    ro = api.user("readonly")
    assert api.client.post("/api/notify/run", headers=api.headers(ro)).status_code == 403
    r = api.client.post("/api/notify/run", headers=api.headers(), params={"dry_run": "true"})
    assert r.status_code == 200 and r.json()["notices"][0]["status"] == "pending"
    assert webhook.requests == []
    r = api.client.post("/api/notify/run", headers=api.headers())
    assert r.status_code == 200 and r.json()["sent"] == 1 and r.json()["channels"] == ["webhook"]
    assert api.client.post("/api/notify/run", headers=api.headers()).json()["already_sent"] == 1
    assert len(webhook.requests) == 1


def test_cli_dry_run(cli, run):
    """Local and remote alike (neither has a channel here): what is due, nothing sent."""
    add(run, "hk-1", 1)
    r = cli("notify", "run", "--dry-run", "--format", "json")
    assert r.code == 0, r.err
    assert [(n["hostname"], n["channel"], n["status"]) for n in r.json()] == [
        ("hk-1", "(none)", "pending")
    ]
    r = cli("notify", "run")
    assert r.code == 2 and "no notification channel configured" in r.err


# ---------------------------------------------------------------- traffic quotas

GB = 1_000_000_000


def _traffic(sessions, hostname, sent):
    """One heartbeat's counters for `hostname` now (the first is the baseline)."""
    from sigma.db.engine import unit_of_work
    from sigma.services import traffic

    with unit_of_work(sessions) as s:
        traffic.record(s, vps.find(s, hostname), 0, sent)


def test_quota_thresholds_are_notified_once_per_period(run, sessions, conf, telegram, webhook):
    from sigma.services import traffic

    v = run(
        vps.create,
        {
            "hostname": "jp-relay",
            "alias": "<b>",
            "status": "active",
            "traffic_quota_gb": 100,
            "traffic_direction": "out",
            "expire_date": TODAY + timedelta(days=2),  # an expiry notice too: its own key
        },
    )
    for host in ("retired-q", "light-q"):
        run(vps.create, {"hostname": host, "status": "active", "traffic_quota_gb": 100})
        _traffic(sessions, host, 0)
    _traffic(sessions, "light-q", 50 * GB)  # 50 %: nothing due
    _traffic(sessions, "retired-q", 99 * GB)
    run(vps.update, "retired-q", {"status": "retired"})  # retired: not notified
    _traffic(sessions, "jp-relay", 0)
    _traffic(sessions, "jp-relay", 85 * GB)
    report = go(sessions, conf)
    kinds = sorted((n.kind, n.threshold, n.channel) for n in report.notices)
    assert kinds == [
        ("expiring", 3, "telegram"),
        ("expiring", 3, "webhook"),
        ("quota", 80, "telegram"),
        ("quota", 80, "webhook"),
    ]
    assert report.sent == 4 and report.failed == 0
    [tg] = telegram.requests  # both notices in one message, the alias escaped
    start = traffic.period_start(TODAY, 1).isoformat()
    assert "📶 <b>VPS Traffic at 80% of Quota</b>" in tg["json"]["text"]
    assert "Host: <code>jp-relay (&lt;b&gt;)</code>" in tg["json"]["text"]
    assert f"Traffic (out): <b>85.0 of 100 GB</b> since {start}" in tg["json"]["text"]
    quota = next(r["json"] for r in webhook.requests if r["json"]["event"] == "vps_traffic_quota")
    assert quota["threshold"] == 80 and quota["used_bytes"] == 85 * GB
    assert (quota["quota_gb"], quota["direction"], quota["period_start"]) == (100, "out", start)
    assert quota["vps_id"] == str(v.id)

    # the same facts again: nothing new; the next threshold: one notice for it
    assert go(sessions, conf).sent == 0
    _traffic(sessions, "jp-relay", 96 * GB)
    again = go(sessions, conf)
    assert [(n.kind, n.threshold) for n in again.notices] == [("quota", 95), ("quota", 95)]
    # a raised quota lowers the share: nothing is due any more
    run(vps.update, "jp-relay", {"traffic_quota_gb": 1000})
    assert go(sessions, conf, dry_run=True).notices == []


def test_a_quota_reached_at_once_is_one_notice(run, sessions, conf, webhook):
    run(vps.create, {"hostname": "q-1", "status": "active", "traffic_quota_gb": 1})
    _traffic(sessions, "q-1", 0)
    _traffic(sessions, "q-1", 5 * GB)  # 500 %: 100 reached, not 80 then 95 then 100
    go(sessions, conf)
    assert [(r["json"]["event"], r["json"]["threshold"]) for r in webhook.requests] == [
        ("vps_traffic_quota", 100)
    ]


def test_cli_shows_quota_notices(cli, run, sessions):
    run(vps.create, {"hostname": "q-1", "status": "active", "traffic_quota_gb": 10})
    _traffic(sessions, "q-1", 0)
    _traffic(sessions, "q-1", 9_500_000_000)
    r = cli("notify", "run", "--dry-run")
    assert r.code == 0, r.err
    assert "traffic 95% (9.5 of 10 GB)" in r.out
