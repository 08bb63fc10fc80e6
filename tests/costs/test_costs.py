"""Exchange rates and cost reports: exact decimals, conversion with direct and inverse rates,
a missing rate naming the pair, monthly attribution; service on both databases, routes, CLI."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from sigma.errors import InvalidInput, NotFound, PermissionDenied
from sigma.services import costs, providers, vps
from sigma.services.actor import Actor

TODAY = date.today()
MONTH = TODAY.replace(day=1)


def _prev(d: date, n: int) -> date:
    y, m = d.year, d.month - n
    while m < 1:
        y, m = y - 1, m + 12
    return date(y, m, 1)


@pytest.fixture
def fleet(run):
    dmit = run(providers.create, {"name": "DMIT"})
    hetz = run(providers.create, {"name": "Hetzner"})
    rows = [
        dict(
            hostname="a",
            provider_id=dmit.id,
            country="HK",
            purpose="vpn-exit",
            cost_monthly="10.10",
            currency="USD",
            status="active",
        ),
        dict(
            hostname="b",
            provider_id=dmit.id,
            country="HK",
            purpose="vpn-exit",
            cost_monthly="0.20",
            currency="USD",
            status="active",
        ),
        dict(
            hostname="c",
            provider_id=hetz.id,
            country="DE",
            cost_monthly="4.51",
            currency="EUR",
            status="active",
            purchase_date=_prev(MONTH, 2),
            expire_date=_prev(MONTH, 1) + timedelta(days=3),
        ),
        dict(
            hostname="d", country="JP", cost_monthly="1000", currency="JPY", status="provisioning"
        ),
        dict(hostname="e", country="HK", cost_monthly="99.99", currency="USD", status="retired"),
        dict(hostname="f", country="HK", status="active"),  # no cost: not counted
    ]
    for r in rows:
        run(vps.create, r)
    return {"dmit": dmit, "hetz": hetz}


def test_rates_upsert_list_delete_and_audit(run, sessions):
    r1 = run(costs.set_rate, {"from_currency": "eur", "to_currency": "USD", "rate": "1.08"})
    r2 = run(costs.set_rate, {"from_currency": "EUR", "to_currency": "USD", "rate": 1.1})
    assert r1.id == r2.id and r2.rate == Decimal("1.100000")
    assert r2.model_dump(mode="json")["rate"] == "1.100000"
    run(costs.set_rate, {"from_currency": "USD", "to_currency": "JPY", "rate": "150.123456"})
    page = run(costs.list_rates)
    assert [(r.from_currency, r.to_currency) for r in page.data] == [("EUR", "USD"), ("USD", "JPY")]
    assert run(costs.list_rates, None, "JPY").total == 1
    assert run(costs.get_rate, "eur-usd").id == r1.id
    assert run(costs.update_rate, str(r1.id), {"rate": "1.2"}).rate == Decimal("1.2")
    for bad, field in [
        ({"from_currency": "EUR", "to_currency": "EUR", "rate": 1}, "to_currency"),
        ({"from_currency": "EUR", "to_currency": "USD", "rate": 0}, "rate"),
        ({"from_currency": "EUR", "to_currency": "USD", "rate": "1.1234567"}, "rate"),
        ({"from_currency": "EURO", "to_currency": "USD", "rate": 1}, "from_currency"),
    ]:
        with pytest.raises(InvalidInput) as err:
            run(costs.set_rate, bad)
        assert err.value.field == field
    gone = run(costs.delete_rate, "EUR/USD")
    assert gone.id == r1.id
    with pytest.raises(NotFound):
        run(costs.delete_rate, "EUR-USD")
    with pytest.raises(PermissionDenied):
        run(
            costs.set_rate,
            {"from_currency": "EUR", "to_currency": "USD", "rate": 1},
            actor=Actor(email="ro@example.com", role="readonly"),
        )
    from sqlalchemy import select

    from sigma.db.models.audit import AuditLog

    with sessions() as s:
        actions = [
            (a.action, a.details.get("pair"))
            for a in s.scalars(
                select(AuditLog)
                .where(AuditLog.resource == "exchange_rate")
                .order_by(AuditLog.created_at)
            )
        ]
    assert actions == [
        ("create", "EUR-USD"),
        ("update", "EUR-USD"),
        ("create", "USD-JPY"),
        ("update", "EUR-USD"),
        ("delete", "EUR-USD"),
    ]


def test_summary_exact_and_converted(run, fleet):
    s = run(costs.summary)
    assert [(c.currency, c.vps_count, c.total_cost) for c in s.per_currency] == [
        ("EUR", 1, Decimal("4.51")),
        ("JPY", 1, Decimal("1000.00")),
        ("USD", 2, Decimal("10.30")),
    ]
    assert s.model_dump(mode="json")["per_currency"][2]["total_cost"] == "10.30"  # not 10.299999
    assert s.converted_total is None
    # a missing rate names the pair to add
    with pytest.raises(InvalidInput) as err:
        run(costs.summary, {"convert_to": "USD"})
    assert "EUR -> USD" in err.value.message and "sigma cost rate set EUR USD" in err.value.message
    run(costs.set_rate, {"from_currency": "EUR", "to_currency": "USD", "rate": "1.085"})
    run(
        costs.set_rate, {"from_currency": "USD", "to_currency": "JPY", "rate": "150"}
    )  # only the inverse exists
    c = run(costs.summary, {"convert_to": "usd"}).converted_total
    # 4.51 x 1.085 = 4.89335; 1000 / 150 = 6.66666667 (8 places); + 10.30
    assert c.currency == "USD" and c.amount == Decimal("21.86001667")
    assert [(r.from_currency, r.to_currency, r.inverse) for r in c.rates] == [
        ("EUR", "USD", False),
        ("USD", "JPY", True),
    ]
    # status filter: only that status, retired included when asked
    assert [c.currency for c in run(costs.summary, {"status": "retired"}).per_currency] == ["USD"]
    assert run(costs.summary, {"include_retired": True}).per_currency[2].total_cost == Decimal(
        "110.29"
    )
    assert run(costs.summary, {"country": "hk"}).per_currency[0].vps_count == 2
    assert run(costs.summary, {"provider_id": fleet["hetz"].id}).per_currency[0].currency == "EUR"


def test_summary_by_group(run, fleet):
    run(costs.set_rate, {"from_currency": "EUR", "to_currency": "USD", "rate": "2"})
    run(costs.set_rate, {"from_currency": "JPY", "to_currency": "USD", "rate": "0.01"})
    s = run(costs.summary, {"by": "provider", "convert_to": "USD"})
    assert s.by == "provider"
    assert [(g.key, g.converted_total.amount) for g in s.groups] == [
        ("(unassigned)", Decimal("10.00000000")),
        ("DMIT", Decimal("10.30")),
        ("Hetzner", Decimal("9.02000000")),
    ]
    g = {x.key: x for x in run(costs.summary, {"by": "purpose"}).groups}
    assert set(g) == {"(none)", "vpn-exit"} and g["vpn-exit"].per_currency[0].total_cost == Decimal(
        "10.30"
    )
    assert [x.key for x in run(costs.summary, {"by": "country"}).groups] == ["DE", "HK", "JP"]
    with pytest.raises(InvalidInput) as err:
        run(costs.summary, {"by": "colour"})
    assert err.value.field == "by"


def test_monthly(run, fleet):
    m = run(costs.monthly, {"months": 4})
    months = {x.month: x for x in m.months}
    assert [x.month for x in m.months] == [MONTH, _prev(MONTH, 1), _prev(MONTH, 2), _prev(MONTH, 3)]
    # c (EUR) lives from two months ago to early last month
    assert [p.currency for p in months[MONTH].per_currency] == ["JPY", "USD"]
    assert [(p.currency, p.vps_count, p.total_cost) for p in months[_prev(MONTH, 1)].per_currency][
        0
    ] == ("EUR", 1, Decimal("4.51"))
    assert (
        months[_prev(MONTH, 3)].per_currency[-1].vps_count == 2
    )  # a real count, not the original's 0
    only_eur = run(costs.monthly, {"months": 6, "provider_id": fleet["hetz"].id})
    assert [x.month for x in only_eur.months] == [
        _prev(MONTH, 1),
        _prev(MONTH, 2),
    ]  # empty months left out
    run(costs.set_rate, {"from_currency": "USD", "to_currency": "EUR", "rate": "0.5"})
    with pytest.raises(InvalidInput) as err:
        run(costs.monthly, {"convert_to": "EUR"})
    assert "JPY -> EUR" in err.value.message
    run(costs.set_rate, {"from_currency": "JPY", "to_currency": "EUR", "rate": "0.006"})
    conv = run(costs.monthly, {"convert_to": "EUR", "months": 2, "by": "country"})
    assert conv.months[0].converted_total.amount == Decimal(
        "11.15000000"
    )  # 10.30 x 0.5 + 1000 x 0.006
    assert [g.key for g in conv.months[1].groups] == ["DE", "HK", "JP"]
    assert run(costs.monthly, {"months": 500}).months[-1].month == _prev(MONTH, 119)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"by": "country", "months": 3},
        {"by": "provider", "convert_to": "EUR"},
        {"convert": True},
    ],
)
def test_overview_is_summary_and_monthly_in_one_read(run, fleet, query):
    """The costs page's one read gives what summary() and monthly() give on their own, and
    unconverted totals with the error when a currency has no path."""
    run(costs.set_rate, {"from_currency": "USD", "to_currency": "EUR", "rate": "0.5"})
    if query.get("convert_to") == "EUR" or query.get("convert"):  # JPY has no path
        run(costs.set_rate, {"from_currency": "JPY", "to_currency": "EUR", "rate": "0.006"})
    report = run(costs.overview, query)
    assert report.error is None
    assert report.summary == run(costs.summary, query)
    assert report.monthly == run(costs.monthly, query)
    assert report.currencies == ["EUR", "JPY", "USD"]
    # a currency without a path: unconverted totals, and the error naming the pair
    run(costs.set_rate, {"from_currency": "GBP", "to_currency": "CHF", "rate": "1.1"})
    report = run(costs.overview, {**query, "convert_to": "CHF"})
    assert report.error is not None and "JPY -> CHF" in report.error.message
    plain = {k: v for k, v in query.items() if k not in ("convert", "convert_to")}
    assert report.summary == run(costs.summary, plain)
    assert report.monthly == run(costs.monthly, plain)


def test_routes(api, run, fleet):
    h = api.headers()
    r = api.client.post(
        "/api/exchange-rates",
        headers=h,
        json={"from_currency": "EUR", "to_currency": "USD", "rate": 1.085},
    )
    assert r.status_code == 200 and r.json()["rate"] == "1.085000"
    rid = r.json()["id"]
    assert (
        api.client.post(
            "/api/exchange-rates",
            headers=h,
            json={"from_currency": "JPY", "to_currency": "USD", "rate": 0.0067},
        ).status_code
        == 200
    )
    assert api.client.get("/api/exchange-rates", headers=h).json()["total"] == 2
    assert (
        api.client.put(f"/api/exchange-rates/{rid}", headers=h, json={"rate": "1.1"}).json()["rate"]
        == "1.100000"
    )
    s = api.client.get("/api/costs/summary", headers=h, params={"convert_to": "USD"}).json()
    assert s["per_currency"][0] == {"currency": "EUR", "vps_count": 1, "total_cost": "4.51"}
    assert s["converted_total"]["amount"] == "21.96100000"  # 4.961 + 6.7 + 10.30
    r = api.client.get("/api/costs/summary", headers=h, params={"convert_to": "GBP"})
    assert r.status_code == 422 and "EUR -> GBP" in r.json()["error"]
    m = api.client.get("/api/costs/monthly", headers=h, params={"months": 2}).json()
    assert m["months"][0]["month"] == MONTH.isoformat()
    ro = api.user("readonly")
    assert api.client.get("/api/costs/monthly", headers=api.headers(ro)).status_code == 200
    assert (
        api.client.delete(f"/api/exchange-rates/{rid}", headers=api.headers(ro)).status_code == 403
    )
    assert api.client.delete("/api/exchange-rates/EUR-USD", headers=h).json() == {"deleted": True}
    assert api.client.get(f"/api/exchange-rates/{rid}", headers=h).status_code == 404


def test_cli(cli, fleet):
    r = cli("cost", "rate", "set", "EUR", "USD", "1.085")
    assert r.code == 0 and "1 EUR = 1.085000 USD" in r.err
    assert cli("cost", "rate", "set", "JPY", "USD", "0.0067").code == 0
    r = cli("cost", "rate", "list", "--format", "json")
    assert [(x["from_currency"], x["rate"]) for x in r.json()] == [
        ("EUR", "1.085000"),
        ("JPY", "0.006700"),
    ]
    r = cli("cost", "summary", "--convert-to", "USD", "--format", "json")
    assert r.json()["converted_total"]["amount"] == "21.89335000"
    r = cli("cost", "summary", "--convert-to", "USD")
    assert r.code == 0 and "21.89 USD per month" in r.err and "10.30" in r.out
    r = cli("cost", "summary", "--by", "provider", "--provider", "DMIT")
    assert r.code == 0 and "DMIT" in r.out and "Hetzner" not in r.out
    r = cli("cost", "monthly", "--months", "3", "--by", "country", "--convert-to", "USD")
    assert r.code == 0, r.err
    assert MONTH.strftime("%Y-%m") in r.out and "DE" in r.out
    r = cli("cost", "summary", "--convert-to", "GBP")
    assert r.code == 2 and "No exchange rate found for EUR -> GBP" in r.err
    assert cli("cost", "rate", "rm", "EUR", "USD").code == 0
    assert cli("cost", "rate", "rm", "EUR", "USD").code == 3
    assert cli("cost", "rate", "set", "EUR", "USD", "-1").code == 2
