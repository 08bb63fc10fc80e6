"""The iCalendar feed of expiry dates, parsed by the `icalendar` library, over the route
(header or ?key= auth, for calendar apps) and `sigma export ical`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from inventory_seed import TODAY, seed_fleet

icalendar = pytest.importorskip("icalendar")


def _events(text: str):
    cal = icalendar.Calendar.from_ical(text)
    return {str(e["SUMMARY"]): e for e in cal.walk("VEVENT")}


def test_feed_parses_and_lists_live_expiry_dates(api, run):
    from sigma.services import vps

    seed_fleet(run)
    long_alias = "Ünïcode alias, with; special\\chars " + "é" * 60
    odd = run(
        vps.create,
        {
            "hostname": "odd",
            "alias": long_alias,
            "status": "suspended",
            "expire_date": TODAY + timedelta(days=40),
            "cost_monthly": "3.50",
            "currency": "EUR",
        },
    )
    run(vps.create, {"hostname": "gone", "status": "retired", "expire_date": TODAY})
    key = api.api_key("readonly", read_only=True)
    r = api.client.get("/api/calendar.ics", params={"key": key})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    assert all(len(line.encode()) <= 75 for line in r.text.split("\r\n")), (
        "lines are folded at 75 octets"
    )
    assert r.text.endswith("END:VCALENDAR\r\n")
    events = _events(r.text)
    # not retired, with an expiry date
    assert set(events) == {
        "VPS expires: hk-exit-01 (HK Exit 1) [DMIT]",
        f"VPS expires: odd ({long_alias})",
    }
    hk = events["VPS expires: hk-exit-01 (HK Exit 1) [DMIT]"]
    assert hk["DTSTART"].dt == TODAY + timedelta(days=5)
    assert hk["DTEND"].dt == TODAY + timedelta(days=6)
    assert "103.1.2.3 (china-telecom)" in str(hk["DESCRIPTION"])
    assert "Cost: 15.99 USD/month" in str(hk["DESCRIPTION"])
    assert hk.walk("VALARM")[0]["TRIGGER"].dt == -timedelta(days=3)
    ev = events[f"VPS expires: odd ({long_alias})"]
    assert str(ev["UID"]) == f"{odd.id}-{(TODAY + timedelta(days=40)).strftime('%Y%m%d')}@sigma"
    # same data, same feed (stable UIDs and stamps: subscribed calendars do not churn)
    assert api.client.get("/api/calendar.ics", headers={"X-Api-Key": key}).text == r.text
    assert api.client.get("/api/calendar.ics").status_code == 401
    assert api.client.get("/api/calendar.ics", params={"key": "sigma_wrong"}).status_code == 401


def test_export_ical(cli, run, tmp_path):
    seed_fleet(run)
    r = cli("export", "ical")
    assert r.code == 0, r.err
    assert "VPS expires: hk-exit-01 (HK Exit 1) [DMIT]" in _events(r.out)
    out = tmp_path / "sigma.ics"
    r = cli("export", "ical", "-o", out)
    assert r.code == 0 and "Wrote 1 expiry dates" in r.err
    assert out.read_text(encoding="utf-8").replace("\r\n", "\n") == cli(
        "export", "ical"
    ).out.replace("\r\n", "\n")
