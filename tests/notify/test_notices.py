"""The Apprise notices of attention items (services.notices), delivered for real to loopback
servers: Apprise's json://, form:// and xml:// webhooks to a recording HTTP server and
mailto:// to an aiosmtpd server wanting AUTH. Grouping (30 expiring VPS: one message), rules,
the daily digest, quiet hours and recoveries under a controlled clock; a channel answering
500 or hanging is retried with backoff while the others are delivered; exactly once across
concurrent runs; no secret in any output. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from sigma.schemas.attention import Item, Subject
from sigma.services import notices
from sigma.services.actor import local_actor
from sigma.settings import Settings

# the loopback SMTP server wants AUTH without TLS, on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a Monday, 06:00 UTC


def item(kind="expiring", n=0, severity="warning", fp="a", state="open", summary=None) -> Item:
    return Item(
        key=f"{kind}:vps:{n}",
        kind=kind,
        severity=severity,
        subject=Subject(type="vps", id=str(n), name=f"vps-{n:02d}"),
        vps_id=None,
        summary=summary or f"vps-{n:02d}: {kind} ({severity})",
        since=T0,
        link=f"/vps/{n}",
        fingerprint=fp,
        state=state,
    )


def conf(db_url, urls, **kw) -> Settings:
    return Settings(database_url=db_url, notify_urls=urls, **kw)


def go(sessions, settings, items, now=T0, dry_run=False):
    return notices.run(sessions, local_actor(), settings, dry_run=dry_run, now=now, items=items)


def log(sessions, **kw):
    from sigma.db.engine import unit_of_work

    with unit_of_work(sessions) as s:
        return notices.delivery_log(s, local_actor(), **kw)


def test_thirty_expiring_vps_are_one_message_per_channel(sessions, db_url, receiver, smtp):
    urls = [
        receiver.url("json", "/json"),
        receiver.url("form", "/form"),
        receiver.url("xml", "/xml"),
        smtp.url(),
    ]
    settings = conf(db_url, urls)
    items = [item(n=i) for i in range(30)] + [
        item("blocked", 100, "critical", summary="hk-1 1.2.3.4: blocked from China <b>&")
    ]
    out = go(sessions, settings, items)
    assert len(out) == 4 * 31 and {n.status for n in out} == {"sent"}
    [msg] = receiver.json("/json")
    assert msg["title"] == "sigma: 31 need attention (1 critical, 30 warning)"
    body = msg["message"]
    # worst kind first, each kind counted, at most 10 lines of it, then "and N more"
    assert body.startswith(
        "1 IPs blocked\n! hk-1 1.2.3.4: blocked from China <b>&\n\n30 VPS expiring"
    )
    assert body.count("\n- vps-") == notices.LINES_PER_KIND and body.endswith("and 20 more")
    assert msg["type"] == "failure"  # a critical item among them
    [form] = receiver.to("/form")
    fields = parse_qs(form["body"].decode())
    assert fields["title"] == [msg["title"]] and "30 VPS expiring" in fields["message"][0]
    [xml] = receiver.to("/xml")
    assert b"31 need attention" in xml["body"] and b"&lt;b&gt;&amp;" in xml["body"]
    [mail] = smtp.messages
    assert mail["to"] == ["ops@example.com"] and "31 need attention" in mail["content"]
    # the same items again: nothing is sent twice
    assert go(sessions, settings, items) == []
    assert len(receiver.requests) == 3 and len(smtp.messages) == 1
    rows = log(sessions, limit=1000)
    assert len(rows) == 4 * 31 and {r.status for r in rows} == {"sent"}


def test_changes_handled_items_and_recoveries(sessions, db_url, receiver):
    settings = conf(db_url, [receiver.url("json", "/j")])
    a, b, c = item(n=1), item(n=2), item("ticket", 3, "info", state="acknowledged")
    assert [n.item_key for n in go(sessions, settings, [a, b, c])] == [a.key, b.key]
    # a's facts changed (a new fingerprint): announced again; b is gone: recovered;
    # c (acknowledged) never announced, and never "recovered"
    a2 = item(n=1, fp="b")
    out = go(sessions, settings, [a2, c], now=T0 + timedelta(hours=1))
    assert sorted((n.item_key, n.event) for n in out) == [(a.key, "open"), (b.key, "recovered")]
    msg = receiver.json("/j")[-1]
    assert msg["title"] == "sigma: 1 need attention (1 warning), 1 recovered"
    assert msg["message"].endswith("Recovered (1)\n+ vps-02: expiring (warning)")
    # acknowledging a (still there) recovers nothing; a vanishing: one recovery, of b's
    # successor fingerprint only (the old one was superseded)
    a2_acked = a2.model_copy(update={"state": "acknowledged"})
    assert go(sessions, settings, [a2_acked, c], now=T0 + timedelta(hours=2)) == []
    out = go(sessions, settings, [c], now=T0 + timedelta(hours=3))
    assert [(n.item_key, n.event) for n in out] == [(a.key, "recovered")]
    assert receiver.json("/j")[-1]["type"] == "success"
    assert go(sessions, settings, [c], now=T0 + timedelta(hours=4)) == []
    assert len(receiver.requests) == 3


def test_rules_and_the_daily_digest(sessions, db_url, receiver):
    settings = conf(
        db_url,
        [receiver.url("json", "/crit"), receiver.url("json", "/daily")],
        notify_rules="1: severity=critical; 2: kind=expiring,overdue digest",
        notify_digest_at="08:30",
        notify_timezone="Europe/Berlin",  # UTC+1 in March: 08:30 local is 07:30 UTC
    )
    items = [item(n=i) for i in range(12)] + [
        item("overdue", 50, "critical"),
        item("blocked", 51, "critical"),
        item("degraded", 52, "warning"),
    ]
    out = go(sessions, settings, items, now=T0)  # 07:00 local: no digest yet
    assert sorted(n.item_key for n in out) == ["blocked:vps:51", "overdue:vps:50"]
    assert {n.channel for n in out} == {f"json://127.0.0.1:{receiver.port}/crit"}
    assert receiver.json("/daily") == []
    plan = go(sessions, settings, items, now=T0 + timedelta(minutes=90), dry_run=True)
    [digest] = plan
    assert (digest.event, digest.status, digest.items, digest.why) == (
        "digest",
        "pending",
        13,
        "digest of 2026-03-02",
    )
    go(sessions, settings, items, now=T0 + timedelta(minutes=90))  # 08:30 local
    [d] = receiver.json("/daily")
    assert d["title"] == "sigma daily digest 2026-03-02: 13 need attention (1 critical, 12 warning)"
    assert "1 VPS overdue" in d["message"] and "12 VPS expiring" in d["message"]
    assert "blocked" not in d["message"] and "degraded" not in d["message"]
    # later that day: no second digest; the next morning: the next one, even if empty
    assert go(sessions, settings, items, now=T0 + timedelta(hours=8)) == []
    out = go(sessions, settings, [], now=T0 + timedelta(hours=23))  # 06:00 local: no digest
    assert {(n.event, n.channel) for n in out} == {
        ("recovered", f"json://127.0.0.1:{receiver.port}/crit")  # the digest takes none
    }
    assert receiver.json("/crit")[-1]["title"] == "sigma: 2 recovered"
    [n] = go(sessions, settings, [], now=T0 + timedelta(days=1, hours=2))
    assert (n.event, n.status, n.items) == ("digest", "sent", 0)
    assert receiver.json("/daily")[-1]["title"] == (
        "sigma daily digest 2026-03-03: nothing needs attention"
    )


def test_quiet_hours_hold_all_but_critical(sessions, db_url, receiver):
    settings = conf(
        db_url,
        [receiver.url("json", "/q")],
        notify_quiet_hours="22:00-07:00",  # wraps midnight
        notify_timezone="Asia/Shanghai",  # UTC+8
    )
    night = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    items = [item(n=1), item("down", 2, "critical")]
    plan = go(sessions, settings, items, now=night, dry_run=True)
    assert sorted((n.item_key, n.status, n.why) for n in plan) == [
        ("down:vps:2", "pending", "instant"),
        ("expiring:vps:1", "held", "held: quiet hours until 07:00 Asia/Shanghai"),
    ]
    out = go(sessions, settings, items, now=night)
    assert sorted((n.item_key, n.status) for n in out) == [
        ("down:vps:2", "sent"),
        ("expiring:vps:1", "held"),
    ]
    assert [m["title"] for m in receiver.json("/q")] == ["sigma: 1 need attention (1 critical)"]
    # the critical one recovers in the night: its recovery waits too
    out = go(sessions, settings, items[:1], now=night + timedelta(hours=3))
    assert {n.status for n in out} == {"held"} and len(receiver.requests) == 1
    morning = night + timedelta(hours=7, minutes=31)  # 07:01 in Shanghai
    out = go(sessions, settings, items[:1], now=morning)
    assert sorted((n.item_key, n.event, n.status) for n in out) == [
        ("down:vps:2", "recovered", "sent"),
        ("expiring:vps:1", "open", "sent"),
    ]
    assert receiver.json("/q")[-1]["title"] == "sigma: 1 need attention (1 warning), 1 recovered"


def test_failing_channels_are_retried_with_backoff_and_never_block_others(
    sessions, db_url, receiver, smtp
):
    receiver.fail["/broken"] = 500
    receiver.hang["/slow"] = 3
    ok, broken, slow = (
        receiver.url("json", "/ok"),
        receiver.url("json", "/broken", rto="1"),
        receiver.url("json", "/slow", rto="1"),
    )
    bad_mail = smtp.url(password="wrong-Secret-77")
    settings = conf(db_url, [ok, broken, slow, bad_mail])
    items = [item(n=1), item(n=2)]
    out = go(sessions, settings, items)
    status = {(n.channel, n.status) for n in out}
    assert len(status) == 4 and {s for _, s in status} == {"sent", "failed"}
    assert len(receiver.json("/ok")) == 1 and smtp.messages == []
    errors = {n.channel: n.error for n in out if n.error}
    assert len(errors) == 3
    assert any("Internal server error" in e or "500" in e for e in errors.values())
    for e in errors.values():
        assert "wrong-Secret-77" not in e
    failed = log(sessions, failed=True)
    assert len(failed) == 6 and {r.attempts for r in failed} == {1}
    assert {r.next_attempt_at for r in failed} == {T0 + timedelta(minutes=1)}
    # 30 s later: still waiting (nothing sent); after a minute: retried, failing again
    plan = go(sessions, settings, items, now=T0 + timedelta(seconds=30), dry_run=True)
    assert {n.status for n in plan} == {"waiting"} and len(plan) == 6
    assert all(n.why.startswith("waiting: retry 2 at") for n in plan)
    assert go(sessions, settings, items, now=T0 + timedelta(seconds=30)) != []
    assert len(receiver.to("/broken")) == 0 and len(receiver.requests) == 3
    out = go(sessions, settings, items, now=T0 + timedelta(minutes=1))
    assert {(n.status, n.attempts) for n in out} == {("failed", 2)}
    assert {r.next_attempt_at for r in log(sessions, failed=True)} == {
        T0 + timedelta(minutes=3)  # 1 min + 2 min
    }
    # the channel answers again: the retry goes through, once; the log says so
    receiver.fail.clear()
    receiver.hang.clear()
    out = go(sessions, settings, items, now=T0 + timedelta(minutes=3))
    assert {(n.channel, n.status) for n in out} >= {
        (notices.channels(settings)[1].label, "sent"),
        (notices.channels(settings)[2].label, "sent"),
    }
    assert len(receiver.json("/broken")) == 1 and len(receiver.json("/slow")) == 1
    assert log(sessions, failed=True)[0].attempts == 3  # the mail is still refused
    assert notices.backoff(1) == timedelta(minutes=1)
    assert notices.backoff(30) == notices.BACKOFF_MAX


def test_concurrent_runs_deliver_each_item_once(sessions, db_url, receiver):
    """Two replicas at one moment, no lease: the claims alone keep each item to one send."""
    settings = conf(db_url, [receiver.url("json", "/c")])
    items = [item(n=i) for i in range(40)]
    barrier = threading.Barrier(2)
    results = []

    def replica():
        barrier.wait()
        results.append(go(sessions, settings, items))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(len(r) for r in results) == 40
    lines = [
        line
        for m in receiver.json("/c")
        for line in m["message"].splitlines()
        if line.startswith("- ")
    ]
    counted = sum(int(m["title"].split()[1]) for m in receiver.json("/c"))
    assert counted == 40 and len(lines) == len(set(lines))


def test_a_crashed_senders_claim_is_taken_over(sessions, db_url, receiver):
    from sigma.db.models.notify import NoticeDelivery

    settings = conf(db_url, [receiver.url("json", "/t")])
    [ch] = notices.channels(settings)
    with sessions() as s, s.begin():
        s.add(
            NoticeDelivery(
                channel=ch.id,
                channel_label=ch.label,
                item_key="expiring:vps:1",
                fingerprint="a",
                event="open",
                kind="expiring",
                severity="warning",
                summary="x",
                status="sending",
                claimed_at=T0 - timedelta(minutes=1),
            )
        )
    assert go(sessions, settings, [item(n=1)]) == []  # someone may be sending it right now
    out = go(sessions, settings, [item(n=1)], now=T0 + notices.CLAIM_TIMEOUT)
    assert [(n.status, n.attempts) for n in out] == [("sent", 2)]


def test_no_secret_in_any_output(sessions, db_url, receiver, smtp, capsys, caplog):
    token = "T0ken-very-secret-123"
    settings = conf(
        db_url,
        [receiver.url("json", f"/hooks/{token}", rto="1"), smtp.url(password="pw-" + token)],
    )
    receiver.fail[f"/hooks/{token}"] = 503
    out = go(sessions, settings, [item(n=1)])
    seen = json.dumps([n.model_dump(mode="json") for n in out])
    seen += json.dumps([r.model_dump(mode="json") for r in log(sessions)])
    seen += json.dumps(settings.redacted()) + capsys.readouterr().err + caplog.text
    seen += json.dumps(
        [r.model_dump() for r in notices.test(sessions, local_actor(), settings, all_channels=True)]
    )
    assert token not in seen and "failed" in seen
    assert "json://127.0.0.1" in seen and "/hooks/T...3" in seen


def test_test_notice(sessions, db_url, receiver, smtp):
    from sigma.errors import InvalidInput, PermissionDenied
    from sigma.services.actor import Actor

    settings = conf(db_url, [receiver.url("json", "/a"), smtp.url()])
    results = notices.test(sessions, local_actor(), settings, all_channels=True)
    assert [r.ok for r in results] == [True, True]
    assert receiver.json("/a")[0]["title"] == "sigma: test notice" and len(smtp.messages) == 1
    [r] = notices.test(sessions, local_actor(), settings, url=receiver.url("xml", "/x"))
    assert r.ok and r.channel == f"xml://127.0.0.1:{receiver.port}/x"
    [r] = notices.test(sessions, local_actor(), settings, url="json://127.0.0.1:9/refused")
    assert not r.ok and "Connection error" in r.error
    operator = Actor(email="op@example.com", role="operator")
    assert notices.test(sessions, operator, settings, all_channels=True)[0].ok
    with pytest.raises(PermissionDenied):  # any URL: admins only
        notices.test(sessions, operator, settings, url=receiver.url("json", "/a"))
    with pytest.raises(InvalidInput, match=r"bogus://\*\*\* unknown Apprise service"):
        notices.test(sessions, local_actor(), settings, url="bogus://user:secret@x")
    with pytest.raises(InvalidInput, match="no notify_urls"):
        notices.test(sessions, local_actor(), Settings(database_url=db_url), all_channels=True)


def test_the_job_and_the_lease(sessions, db_url, receiver):
    from sigma.server.jobs import jobs, run_once

    settings = conf(db_url, [receiver.url("json", "/job")], notify_interval=120)
    [job] = [j for j in jobs() if j.name == notices.JOB_NAME]
    assert job.interval(settings) == 120
    assert run_once(job, sessions, settings) and not run_once(job, sessions, settings)
    job.run(sessions, Settings(database_url=db_url))  # no notify_urls: nothing to do
