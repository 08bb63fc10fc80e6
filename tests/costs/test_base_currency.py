"""The `base_currency` setting: validated, shown by `sigma config show`, and the default target
of a report asked to convert: `sigma cost summary|monthly --convert` (local and remote), the
API's `convert=true` (the default answer unchanged) and the web page's select."""

from __future__ import annotations

import pytest

from sigma.errors import InvalidInput
from sigma.services import vps


@pytest.fixture
def mixed(run):
    """100 CAD + 4.51 EUR + 10.00 USD a month; rates CAD->USD and EUR->USD only."""
    from sigma.services import costs

    for host, cost, currency in [
        ("ca-1", "100.00", "CAD"),
        ("de-1", "4.51", "EUR"),
        ("us-1", "10.00", "USD"),
    ]:
        run(
            vps.create,
            {"hostname": host, "cost_monthly": cost, "currency": currency, "country": host[:2]},
        )
    run(costs.set_rate, {"from_currency": "CAD", "to_currency": "USD", "rate": "0.73"})
    run(costs.set_rate, {"from_currency": "EUR", "to_currency": "USD", "rate": "1.085"})


# ------------------------------------------------------------------ the setting


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "USD"), ("EUR", "EUR"), ("cad", "CAD"), (" gbp ", "GBP")]
)
def test_setting_default_and_normalised(value, expected):
    from sigma.settings import Settings

    s = Settings() if value is None else Settings(base_currency=value)
    assert s.base_currency == expected


@pytest.mark.parametrize("value", ["EURO", "US", "U$D", "12A", ""])
def test_setting_refuses_what_is_not_a_code(value, monkeypatch):
    from sigma.settings import load_settings

    monkeypatch.setenv("SIGMA_BASE_CURRENCY", value)
    with pytest.raises(InvalidInput) as err:
        load_settings()
    assert err.value.field == "base_currency"
    assert "three-letter ISO 4217 currency code" in err.value.message


def test_setting_is_documented():
    from sigma import docs_gen
    from sigma.settings import Settings

    description = Settings.model_fields["base_currency"].description
    assert "ISO 4217" in description and "--convert" in description
    assert "SIGMA_BASE_CURRENCY" in docs_gen.generate()["man/sigma.1"]


# ------------------------------------------------------------------ CLI, local and remote


def _summary(cli, *args: str) -> dict:
    r = cli("cost", "summary", *args, "--format", "json")
    assert r.code == 0, r.err
    return r.json()


def test_cli_convert_uses_the_base_currency(cli, mixed, monkeypatch):
    # not asked: per currency only, as before
    s = _summary(cli)
    assert s["converted_total"] is None and s["base_currency"] == "USD"
    # --convert without a base_currency here: the default, USD (the server's when remote)
    c = _summary(cli, "--convert")["converted_total"]
    assert (c["currency"], c["amount"], c["rounded_amount"]) == ("USD", "87.89335000", "87.89")
    # this configuration names a base: it wins, against a server too
    monkeypatch.setenv("SIGMA_BASE_CURRENCY", "eur")
    c = _summary(cli, "--convert")["converted_total"]
    assert (c["currency"], c["amount"]) == ("EUR", "81.00769585")  # CAD and USD via USD
    r = cli("cost", "summary", "--convert")
    assert r.code == 0 and "81.01 EUR per month" in r.err, r.err  # 2 places, never 8
    r = cli("cost", "summary", "--convert", "--by", "country")
    assert r.code == 0 and "In EUR" in r.out and "67.28 EUR" in r.out, r.out
    # --convert-to overrides the base
    assert _summary(cli, "--convert", "--convert-to", "CAD")["converted_total"]["currency"] == (
        "CAD"
    )
    r = cli("cost", "monthly", "--months", "2", "--convert", "--format", "json")
    assert r.code == 0, r.err
    assert {m["converted_total"]["currency"] for m in r.json()["months"]} == {"EUR"}
    r = cli("cost", "monthly", "--months", "1", "--convert")
    assert r.code == 0 and "In EUR" in r.out and "81.01 EUR" in r.out, r.out
    # a base without a path: the error names the pairs, exit 2 (never a crash)
    monkeypatch.setenv("SIGMA_BASE_CURRENCY", "JPY")
    r = cli("cost", "summary", "--convert")
    assert r.code == 2
    assert "No exchange rate found for CAD -> JPY, EUR -> JPY, USD -> JPY" in r.err, r.err


@pytest.mark.local_only("settings are read on this machine")
def test_config_show_lists_the_base_currency(cli, monkeypatch):
    r = cli("config", "show", "--format", "json")
    assert r.code == 0 and r.json()["base_currency"] == "USD"
    monkeypatch.setenv("SIGMA_BASE_CURRENCY", "chf")
    assert cli("config", "show", "--format", "json").json()["base_currency"] == "CHF"
    r = cli("config", "set", "base_currency", "EURO")
    assert r.code == 2 and "base_currency" in r.err


# ------------------------------------------------------------------ API


@pytest.fixture
def api_settings(db_url):
    """The `api` fixture's server, with base_currency EUR."""
    from sigma.settings import Settings

    return Settings(
        database_url=db_url,
        jwt_secret="test-jwt-secret-0123456789",
        rate_limit_requests=100_000,
        rate_limit_login=100_000,
        jobs_enabled=False,
        base_currency="EUR",
    )


def test_api_default_unchanged_and_convert_to_base(api, mixed):
    h = api.headers()
    # no parameter: the answer of before (per currency, no conversion) plus base_currency
    s = api.client.get("/api/costs/summary", headers=h).json()
    assert list(s) == ["per_currency", "converted_total", "by", "groups", "base_currency"]
    assert s["converted_total"] is None and s["base_currency"] == "EUR"
    assert s["per_currency"][0] == {"currency": "CAD", "vps_count": 1, "total_cost": "100.00"}
    m = api.client.get("/api/costs/monthly", headers=h, params={"months": 1}).json()
    assert list(m) == ["months", "by", "base_currency"] and m["base_currency"] == "EUR"
    assert m["months"][0]["converted_total"] is None
    # convert=true: to the server's base currency
    c = api.client.get("/api/costs/summary", headers=h, params={"convert": "true"}).json()
    c = c["converted_total"]
    assert (c["currency"], c["amount"], c["rounded_amount"]) == ("EUR", "81.00769585", "81.01")
    assert [(x["from_currency"], x["via"]) for x in c["conversions"]] == [
        ("CAD", "USD"),
        ("USD", None),
    ]
    m = api.client.get(
        "/api/costs/monthly", headers=h, params={"convert": "true", "months": 1, "by": "country"}
    ).json()
    assert m["months"][0]["converted_total"]["amount"] == "81.00769585"
    assert [g["converted_total"]["currency"] for g in m["months"][0]["groups"]] == ["EUR"] * 3
    # convert_to overrides
    c = api.client.get(
        "/api/costs/summary", headers=h, params={"convert": "true", "convert_to": "usd"}
    ).json()["converted_total"]
    assert c["currency"] == "USD" and c["amount"] == "87.89335000"
    # no path: 422 naming the pairs, never a 500
    r = api.client.get("/api/costs/summary", headers=h, params={"convert_to": "JPY"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_input" and body["field"] == "convert_to"
    assert body["error"].startswith("No exchange rate found for CAD -> JPY, EUR -> JPY, USD -> JPY")
    assert body["details"]["missing"][0] == {"from_currency": "CAD", "to_currency": "JPY"}
    r = api.client.get("/api/costs/monthly", headers=h, params={"convert_to": "JPY"})
    assert r.status_code == 422 and "CAD -> JPY" in r.json()["error"]
