"""`sigma vps` billing, traffic and replacement end to end (issue 16, part B), with the local
and the remote backend on SQLite and PostgreSQL: the new add/edit options, `show` with the
period's traffic, `list --over-quota`, `renew`, `replace`, and bad input (exit code, one
stderr line naming the field, nothing written)."""

from __future__ import annotations

from datetime import date

import pytest


def ok(r):
    assert r.code == 0, f"exit {r.code}: {r.err}"
    return r


def show(cli, ref: str) -> dict:
    return ok(cli("vps", "show", ref, "--format", "json")).json()


def test_add_and_edit_billing_and_traffic(cli):
    ok(
        cli(
            "vps",
            "add",
            "hk-exit-01",
            "--billing-cycle",
            "Quarterly",
            "--auto-renew",
            "--traffic-quota",
            "1000",
            "--traffic-direction",
            "out",
            "--traffic-reset-day",
            "15",
            "-q",
        )
    )
    v = show(cli, "hk-exit-01")
    assert (v["billing_cycle"], v["auto_renew"]) == ("quarterly", True)
    assert (v["traffic_quota_gb"], v["traffic_direction"], v["traffic_reset_day"]) == (
        1000,
        "out",
        15,
    )
    assert v["traffic"]["quota_bytes"] == 1000 * 10**9  # a quota, no report yet
    ok(cli("vps", "add", "plain-1", "-q"))
    p = show(cli, "plain-1")
    assert (p["billing_cycle"], p["auto_renew"], p["traffic_quota_gb"]) == ("monthly", False, None)
    assert (p["traffic_direction"], p["traffic_reset_day"], p["traffic"]) == ("sum", 1, None)
    ok(
        cli(
            "vps",
            "edit",
            "hk-exit-01",
            "--billing-cycle",
            "45d",
            "--no-auto-renew",
            "--traffic-quota",
            "",
            "--traffic-reset-day",
            "28",
        )
    )
    v = show(cli, "hk-exit-01")
    assert (v["billing_cycle"], v["auto_renew"], v["traffic_quota_gb"]) == ("45d", False, None)
    assert v["traffic_reset_day"] == 28
    table = ok(cli("vps", "show", "hk-exit-01")).out
    assert "billing_cycle" in table and "45d" in table


@pytest.mark.parametrize(
    "args, field",
    [
        (["--billing-cycle", "0d"], "billing_cycle"),
        (["--billing-cycle", "12h"], "billing_cycle"),
        (["--traffic-reset-day", "29"], "traffic_reset_day"),
        (["--traffic-reset-day", "0"], "traffic_reset_day"),
        (["--traffic-quota", "-5"], "traffic_quota_gb"),
        (["--traffic-direction", "sideways"], "traffic_direction"),
    ],
)
def test_bad_fields_exit_2_naming_the_field(cli, snapshot, args, field):
    ok(cli("vps", "add", "base-1", "-q"))
    before = snapshot()
    for command in (["vps", "add", "bad-1"], ["vps", "edit", "base-1"]):
        r = cli(*command, *args)
        assert r.code == 2, r
        assert field in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert snapshot() == before


def test_renew(cli, snapshot):
    ok(
        cli(
            "vps",
            "add",
            "jp-1",
            "--cost",
            "15.99",
            "--purchase-date",
            "2023-12-31",
            "--expire-date",
            "2024-01-31",
            "-q",
        )
    )
    r = ok(cli("vps", "renew", "jp-1"))
    assert "until 2024-02-29" in r.err and "15.99 USD" in r.err  # done(): on stderr
    data = ok(cli("vps", "renew", "jp-1", "--cycles", "2", "--format", "json")).json()
    assert data["vps"]["expire_date"] == "2024-04-30"
    assert data["renewal"]["amount"] == "31.98"
    assert data["renewal"]["expire_before"] == "2024-02-29"
    history = ok(cli("vps", "history", "jp-1", "--kind", "renewed", "--format", "json")).json()
    assert len(history) == 2
    # paid today: this month's cost report shows it
    table = ok(cli("cost", "monthly", "--months", "1")).out
    assert "Renewals paid" in table and "47.97" in table
    [month] = ok(cli("cost", "monthly", "--months", "1", "--format", "json")).json()["months"]
    assert month["renewals"] == [{"currency": "USD", "vps_count": 1, "total_cost": "47.97"}]
    before = snapshot()
    for args, code, words in (
        (["vps", "renew", "jp-1", "--cycles", "0"], 2, "cycles"),
        (["vps", "renew", "nobody"], 3, "nobody"),
    ):
        r = cli(*args)
        assert r.code == code and words in r.err, r
    assert snapshot() == before
    ok(cli("vps", "add", "no-date", "-q"))
    r = ok(cli("vps", "renew", "no-date", "--format", "json")).json()
    assert r["renewal"]["expire_before"] == r["renewal"]["paid_on"]  # from today
    ok(cli("vps", "retire", "jp-1"))
    before = snapshot()
    r = cli("vps", "renew", "jp-1")
    assert r.code == 4 and "retired" in r.err
    assert snapshot() == before


def test_renewals_due_and_their_totals(cli):
    from datetime import timedelta

    def day(n: int) -> str:
        return (date.today() + timedelta(days=n)).isoformat()

    for args in (
        ["hk-exit-01", "--cost", "4.50", "--billing-cycle", "quarterly", "--expire-date", day(3)],
        ["cn-1", "--cost", "30", "--currency", "CNY", "--expire-date", day(-2), "--auto-renew"],
        ["cn-2", "--currency", "CNY", "--expire-date", day(1)],  # no cost
        ["later-1", "--cost", "3", "--expire-date", day(20)],
        ["gone-1", "--cost", "3", "--expire-date", day(1), "--status", "retired"],
        ["bin-1", "--cost", "3", "--expire-date", day(1)],
    ):
        ok(cli("vps", "add", *args, "-q"))
    ok(cli("vps", "rm", "bin-1", "--yes"))  # in the trash: not due
    r = ok(cli("vps", "renewals"))
    rows = r.out.splitlines()[1:]
    assert [line.split()[0] for line in rows] == ["cn-1", "cn-2", "hk-exit-01"]
    assert "13.50 USD" in r.out and "monthly (auto)" in r.out
    assert "30.00 CNY for 2 VPS (1 without a cost); 13.50 USD for 1 VPS" in r.err  # the footer
    data = ok(cli("vps", "renewals", "--within", "30", "--format", "json")).json()
    assert [i["hostname"] for i in data["items"]] == ["cn-1", "cn-2", "hk-exit-01", "later-1"]
    assert data["totals"] == [
        {"currency": "CNY", "vps_count": 2, "amount": "30.00", "without_cost": 1},
        {"currency": "USD", "vps_count": 2, "amount": "16.50", "without_cost": 0},
    ]
    assert data["items"][0]["days_left"] == -2 and data["until"] == day(30)
    assert len(ok(cli("vps", "renewals", "-q")).out.split()) == 3
    assert ok(cli("vps", "renewals", "--within", "0", "--format", "csv")).out.startswith("vps_id,")
    for bad in ("-1", "367"):
        r = cli("vps", "renewals", "--within", bad)
        assert r.code == 2 and "within" in r.err, r


def test_replace(cli, snapshot):
    ok(cli("vps", "add", "hk-old", "--purpose", "vpn-exit", "--tag", "cn", "-q"))
    ok(cli("vps", "add", "hk-new", "--tag", "fresh", "-q"))
    ok(cli("ticket", "open", "blocked again", "--vps", "hk-old", "-q"))
    r = ok(cli("vps", "replace", "hk-old", "--with", "hk-new"))
    assert "hk-old is retiring" in r.err and "1 open ticket moved" in r.err
    old, new = show(cli, "hk-old"), show(cli, "hk-new")
    assert old["status"] == "retiring" and old["extra"]["replaced_by"] == new["id"]
    assert new["extra"]["replaces"] == [old["id"]]
    assert (new["purpose"], new["tags"]) == ("vpn-exit", ["fresh", "cn"])
    events = ok(cli("vps", "history", "hk-new", "--kind", "replaces", "--format", "json")).json()
    assert events[0]["details"]["replaces"] == old["id"]
    # a new VPS with add options, without the tags
    data = ok(
        cli(
            "vps",
            "replace",
            "hk-new",
            "--new-hostname",
            "hk-newer",
            "--country",
            "HK",
            "--no-tags",
            "--format",
            "json",
        )
    ).json()
    assert data["created"] is True
    assert (data["new"]["hostname"], data["new"]["country"], data["new"]["tags"]) == (
        "hk-newer",
        "HK",
        [],
    )
    before = snapshot()
    for args, code, field in (
        (["vps", "replace", "hk-newer", "--with", "hk-newer"], 2, "with"),
        (["vps", "replace", "hk-newer", "--with", "ghost"], 3, "with"),
        (["vps", "replace", "hk-newer"], 2, "with"),
        (["vps", "replace", "hk-newer", "--with", "hk-old", "--country", "HK"], 2, "with"),
        (["vps", "replace", "ghost", "--with", "hk-newer"], 3, "vps"),
        (["vps", "replace", "hk-newer", "--new-hostname", "bad_host"], 2, "hostname"),
    ):
        r = cli(*args)
        assert r.code == code and field in r.err, (args, r)
    assert snapshot() == before


@pytest.mark.local_only("the usage rows are written straight into the database")
def test_show_and_list_over_quota(cli, db_url):
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import make_engine, unit_of_work
    from sigma.db.models.lifecycle import VpsTraffic
    from sigma.db.types import utcnow
    from sigma.services import traffic, vps
    from sigma.services.actor import local_actor

    ok(cli("vps", "add", "hot-1", "--traffic-quota", "100", "--traffic-direction", "out", "-q"))
    ok(cli("vps", "add", "cool-1", "--traffic-quota", "100", "-q"))
    ok(cli("vps", "add", "free-1", "-q"))
    start = traffic.period_start(utcnow().date(), 1)
    eng = make_engine(db_url)
    with unit_of_work(sessionmaker(eng)) as s:
        for host, used in (("hot-1", 90 * 10**9), ("cool-1", 10 * 10**9), ("free-1", 10**15)):
            row = vps.get(s, local_actor(), host)
            s.add(
                VpsTraffic(
                    vps_id=row.id,
                    period_start=start,
                    bytes_in=1,
                    bytes_out=used,
                    last_rx=1,
                    last_tx=used,
                )
            )
    eng.dispose()
    r = ok(cli("vps", "list", "--over-quota", "80", "-q"))
    assert len(r.out.split()) == 1
    assert r.out.strip() == show(cli, "hot-1")["id"]
    assert len(ok(cli("vps", "list", "--over-quota", "5", "-q")).out.split()) == 2
    table = ok(cli("vps", "show", "hot-1")).out
    assert "90.0 GB / 100.0 GB (90.0 %)" in table
    r = cli("vps", "list", "--over-quota", "lots")
    assert r.code == 2 and "over_quota" in r.err


def test_list_over_quota_remote_and_local(cli):
    """The filter goes through both backends (the remote one as a query parameter)."""
    ok(cli("vps", "add", "q-1", "--traffic-quota", "10", "-q"))
    assert ok(cli("vps", "list", "--over-quota", "0", "-q")).out.split() == [show(cli, "q-1")["id"]]
    assert ok(cli("vps", "list", "--over-quota", "50", "-q")).out.strip() == ""
    assert date.today()  # the period is today's
