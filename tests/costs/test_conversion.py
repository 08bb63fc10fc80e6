"""Conversion on a mixed-currency fleet: direct, inverse and through one pivot currency,
exact decimals rounded once, an error naming every currency without a path; the base
currency travelling with the session. On SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest

from sigma.errors import InvalidInput
from sigma.schemas.costs import display_amount
from sigma.services import costs, vps

EIGHT = Decimal("0.00000001")


def _exact(value: str) -> Decimal:
    return Decimal(value).quantize(EIGHT, rounding=ROUND_HALF_EVEN)


def _div(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return (a / b).quantize(EIGHT, rounding=ROUND_HALF_EVEN)


@pytest.fixture
def mixed(run):
    """100 CAD + 4.51 EUR + 10.00 USD a month; rates CAD->USD and EUR->USD only."""
    for host, cost, currency in [
        ("ca-1", "60.00", "CAD"),
        ("ca-2", "40.00", "CAD"),
        ("de-1", "4.51", "EUR"),
        ("us-1", "10.00", "USD"),
    ]:
        run(vps.create, {"hostname": host, "cost_monthly": cost, "currency": currency})
    run(costs.set_rate, {"from_currency": "CAD", "to_currency": "USD", "rate": "0.73"})
    run(costs.set_rate, {"from_currency": "EUR", "to_currency": "USD", "rate": "1.085"})


def test_direct_and_inverse(run, mixed):
    c = run(costs.summary, {"convert_to": "USD"}).converted_total
    # 100 x 0.73 + 4.51 x 1.085 + 10.00: every step direct, exact
    assert c.amount == Decimal("73.00") + Decimal("4.89335") + Decimal("10.00")
    assert [(r.from_currency, r.to_currency, r.inverse) for r in c.rates] == [
        ("CAD", "USD", False),
        ("EUR", "USD", False),
    ]
    assert c.rounded_amount == Decimal("87.89")
    # to CAD: USD by the inverse of CAD->USD, EUR through USD (direct, then inverse)
    c = run(costs.summary, {"convert_to": "CAD"}).converted_total
    usd = _div(Decimal("10.00"), Decimal("0.73"))
    eur = _div(Decimal("4.51") * Decimal("1.085"), Decimal("0.73"))
    assert c.amount == Decimal("100.00") + usd + eur
    parts = {p.from_currency: (p.converted, p.via) for p in c.conversions}
    assert parts == {"EUR": (eur, "USD"), "USD": (usd, None)}


def test_through_a_pivot(run, mixed):
    """The case that failed: CAD -> EUR with only CAD->USD and EUR->USD stored."""
    s = run(costs.summary, {"convert_to": "EUR"})
    c = s.converted_total
    # one division per currency, at full precision, rounded once to 8 places
    cad = _div(Decimal("100.00") * Decimal("0.73"), Decimal("1.085"))
    usd = _div(Decimal("10.00"), Decimal("1.085"))
    assert (cad, usd) == (_exact("67.28110599"), _exact("9.21658986"))
    assert c.currency == "EUR" and c.amount == cad + usd + Decimal("4.51")
    assert c.amount == Decimal("81.00769585")
    assert c.rounded_amount == Decimal("81.01")  # ROUND_HALF_EVEN, 2 places, display only
    assert [(r.from_currency, r.to_currency, r.rate, r.inverse) for r in c.rates] == [
        ("CAD", "USD", Decimal("0.73"), False),
        ("EUR", "USD", Decimal("1.085"), True),  # listed once, used twice
    ]
    assert [(p.from_currency, p.amount, p.converted, p.via) for p in c.conversions] == [
        ("CAD", Decimal("100.00"), cad, "USD"),
        ("USD", Decimal("10.00"), usd, None),
    ]
    body = s.model_dump(mode="json")["converted_total"]
    # the contract's fields first and unchanged in kind; the new ones added after them
    assert list(body)[:3] == ["currency", "amount", "rates"]
    assert body["amount"] == "81.00769585" and body["rounded_amount"] == "81.01"
    assert body["rates"][1] == {
        "from_currency": "EUR",
        "to_currency": "USD",
        "rate": "1.085000",
        "inverse": True,
    }
    # monthly and groups go the same way
    m = run(costs.monthly, {"convert_to": "EUR", "months": 1, "by": "country"})
    assert m.months[0].converted_total.amount == c.amount


def test_pivot_choice_prefers_fewer_divisions():
    rates = {
        ("CAD", "USD"): Decimal("0.73"),
        ("EUR", "USD"): Decimal("1.085"),
        ("CAD", "GBP"): Decimal("0.58"),
        ("GBP", "EUR"): Decimal("1.17"),
    }
    # through GBP: two direct steps; through USD: one inverse
    path = costs.find_path("CAD", "EUR", rates)
    assert [(a, b, inv) for a, b, _, inv in path] == [("CAD", "GBP", False), ("GBP", "EUR", False)]
    assert costs.find_path("EUR", "EUR", rates) == []
    assert costs.find_path("EUR", "USD", rates)[0][3] is False
    assert costs.find_path("USD", "EUR", rates)[0][3] is True
    assert costs.find_path("JPY", "EUR", rates) is None
    # two pivots, same number of divisions: the first in alphabetical order
    tie = {("A1X", "AAA"): Decimal(2), ("AAA", "B2X"): Decimal(3), ("A1X", "ZZZ"): Decimal(5)}
    tie[("ZZZ", "B2X")] = Decimal(7)
    assert costs.find_path("A1X", "B2X", tie)[0][1] == "AAA"
    # a three-step chain is not searched: one pivot at most
    chain = {("AAA", "BBB"): Decimal(1), ("BBB", "CCC"): Decimal(1), ("CCC", "DDD"): Decimal(1)}
    assert costs.find_path("AAA", "DDD", chain) is None


def test_exact_decimals_never_floats():
    rates = {("AAA", "BBB"): Decimal("3"), ("CCC", "BBB"): Decimal("0.000007")}
    c = costs.convert({"AAA": Decimal("0.10"), "CCC": Decimal("0.01")}, "BBB", rates)
    assert c.amount == Decimal("0.30000007")  # 0.1 x 3 + 0.01 x 0.000007, no 0.30000000000000004
    one_third = costs.convert({"BBB": Decimal("1.00")}, "AAA", rates)
    assert one_third.amount == Decimal("0.33333333")
    assert display_amount(Decimal("0.125")) == Decimal("0.12")  # half to even
    assert display_amount(Decimal("0.135")) == Decimal("0.14")
    assert display_amount("2.345") == Decimal("2.34")


def test_no_path_names_every_missing_pair(run, mixed):
    run(vps.create, {"hostname": "jp-1", "cost_monthly": "1000", "currency": "JPY"})
    run(vps.create, {"hostname": "ch-1", "cost_monthly": "5", "currency": "CHF"})
    for fn, q in [
        (costs.summary, {"convert_to": "EUR"}),
        (costs.summary, {"convert_to": "EUR", "by": "provider"}),
        (costs.monthly, {"convert_to": "EUR"}),
    ]:
        with pytest.raises(InvalidInput) as err:
            run(fn, q)
        e = err.value
        assert e.field == "convert_to"
        assert e.message.startswith("No exchange rate found for CHF -> EUR, JPY -> EUR")
        assert "CHF, JPY cannot be converted to EUR" in e.message
        assert "`sigma cost rate set CHF EUR RATE` and `sigma cost rate set JPY EUR RATE`" in (
            e.message
        )
        assert e.details == {
            "missing": [
                {"from_currency": "CHF", "to_currency": "EUR"},
                {"from_currency": "JPY", "to_currency": "EUR"},
            ]
        }
    # a currency with no rate at all as the target
    with pytest.raises(InvalidInput) as err:
        run(costs.summary, {"convert_to": "GBP"})
    assert "CAD -> GBP" in err.value.message and "USD -> GBP" in err.value.message
    # one more rate and the pivot path exists
    run(costs.set_rate, {"from_currency": "JPY", "to_currency": "USD", "rate": "0.0067"})
    run(costs.set_rate, {"from_currency": "USD", "to_currency": "CHF", "rate": "0.9"})
    c = run(costs.summary, {"convert_to": "EUR"}).converted_total
    vias = {p.from_currency: p.via for p in c.conversions}
    assert vias == {"CAD": "USD", "CHF": "USD", "JPY": "USD", "USD": None}


def test_base_currency_travels_with_the_session(settings, run, mixed):
    from sigma.db.engine import make_engine, session_factory, unit_of_work
    from sigma.services.actor import local_actor

    # the plain factory (no setting): USD, and no conversion unless asked
    s = run(costs.summary)
    assert s.base_currency == "USD" and s.converted_total is None
    assert run(costs.summary, {"convert": True}).converted_total.currency == "USD"
    eng = make_engine(settings.effective_database_url)
    sessions = session_factory(eng, base_currency="EUR")
    try:
        with unit_of_work(sessions) as session:
            s = costs.summary(session, local_actor(), {"convert": True})
            m = costs.monthly(session, local_actor(), {"convert": True, "months": 1})
            over = costs.summary(session, local_actor(), {"convert": True, "convert_to": "CAD"})
            plain = costs.summary(session, local_actor(), {})
            known = costs.currencies(session, local_actor())
    finally:
        eng.dispose()
    assert s.base_currency == "EUR" and s.converted_total.amount == Decimal("81.00769585")
    assert m.base_currency == "EUR" and m.months[0].converted_total.currency == "EUR"
    assert over.converted_total.currency == "CAD"  # convert_to overrides the base
    assert plain.converted_total is None  # not asked: per currency only, as before
    assert known == ["CAD", "EUR", "USD"]
