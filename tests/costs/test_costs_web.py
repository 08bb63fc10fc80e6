"""The web /costs page on SQLite and PostgreSQL: amounts in a chosen base currency (the
setting by default) with 2 decimals, a conversion without a path shown as a message, the
monthly chart in the base currency with labels that do not overlap, and exchange-rate
management (add, replace, delete) for operators and admins, with CSRF, post/redirect/get and
field errors next to the fields; readonly users see the list only."""

from __future__ import annotations

import re
from datetime import date

import pytest

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@test.local", "testpass123"  # the `api` fixture's admin
PASSWORD = "password-123"


class Browser:
    """A cookie-keeping client that signs in through the login form and posts forms with the
    page's CSRF token (as tests/web does)."""

    def __init__(self, app):
        from fastapi.testclient import TestClient

        self.http = TestClient(app, base_url="http://testserver", follow_redirects=False)
        self.token = ""

    def get(self, path: str, **kw):
        r = self.http.get(path, **kw)
        m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text)
        if m:
            self.token = m.group(1)
        return r

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kw):
        body = {"csrf_token": self.token, **(data or {})} if csrf else (data or {})
        return self.http.post(path, data=body, **kw)

    def login(self, email: str, password: str) -> Browser:
        self.get("/login")
        r = self.post("/login", {"email": email, "password": password})
        assert r.status_code == 303, r.text
        self.get("/costs")
        return self


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


@pytest.fixture
def fleet(api):
    """100 CAD + 4.51 EUR + 10.00 USD a month, bought three years ago; CAD->USD, EUR->USD."""
    h = api.headers()
    bought = date(date.today().year - 3, 1, 1).isoformat()
    for host, cost, currency in [("ca-1", "100", "CAD"), ("de-1", "4.51", "EUR")] + [
        ("us-1", "10", "USD")
    ]:
        r = api.client.post(
            "/api/vps",
            headers=h,
            json={
                "hostname": host,
                "cost_monthly": cost,
                "currency": currency,
                "country": host[:2].upper(),
                "status": "active",
                "purchase_date": bought,
            },
        )
        assert r.status_code == 200, r.text
    for pair, rate in [(("CAD", "USD"), "0.73"), (("EUR", "USD"), "1.085")]:
        r = api.client.post(
            "/api/exchange-rates",
            headers=h,
            json={"from_currency": pair[0], "to_currency": pair[1], "rate": rate},
        )
        assert r.status_code == 200, r.text


def _browser(api, role: str | None = None) -> Browser:
    if role is None:
        return Browser(api.app).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    email = f"{role}-web@example.com"
    r = api.client.post(
        "/api/users",
        headers=api.headers(),
        json={"email": email, "password": PASSWORD, "role": role},
    )
    assert r.status_code == 200, r.text
    return Browser(api.app).login(email, PASSWORD)


def _rates(api) -> dict[str, str]:
    data = api.client.get("/api/exchange-rates", headers=api.headers()).json()["data"]
    return {f"{r['from_currency']}-{r['to_currency']}": r["rate"] for r in data}


def _audit(api) -> list[tuple[str, str]]:
    entries = api.client.get(
        "/api/audit-logs", headers=api.headers(), params={"resource": "exchange_rate"}
    ).json()["data"]
    return [(e["action"], e["details"]["pair"]) for e in reversed(entries)]


def _selected(page: str) -> str:
    select = re.search(r'<select id="f-convert" name="convert_to".*?</select>', page, re.S)
    assert select, page
    return re.findall(r'<option value="([A-Z]{3})" selected>', select.group(0))[0]


def test_amounts_in_the_base_currency_with_two_decimals(api, fleet):
    admin = _browser(api)
    page = admin.get("/costs").text
    assert _selected(page) == "EUR"  # the setting
    # 100 CAD -> USD -> EUR = 67.28110599; 10 USD -> EUR = 9.21658986; + 4.51 = 81.00769585
    total = re.search(r'id="total-converted">.*?stat-value[^>]*>([^<]+)<', page, re.S)
    assert total and total.group(1) == "81.01"
    assert "≈ 67.28 EUR" in page and "≈ 9.22 EUR" in page and ">100.00<" in page
    assert "81.00769585" not in page
    amounts = page.split('id="rates"')[0]  # the reports, before the rates (6 places)
    shown = [t for t in re.findall(r">([^<]+)<", amounts) if re.search(r"\d\.\d", t)]
    assert shown and not [t for t in shown if re.search(r"\d\.\d{3,}", t)]
    assert 'aria-label="Monthly cost in EUR"' in page and "Monthly (EUR)" in page
    # another currency from the select
    page = admin.get("/costs?convert_to=USD&by=country").text
    assert _selected(page) == "USD"
    assert 'aria-label="Monthly cost in USD"' in page and ">87.89<" in page and ">73.00<" in page
    assert "87.89335" not in page
    # every month of the table in the base currency, 2 decimals
    rows = re.findall(r'<td class="num">([^<]+)</td></tr>', page.split('id="monthly-table"')[1])
    assert rows and set(rows) == {"87.89"}


def test_no_path_is_a_message_naming_the_pairs_not_an_error_page(api, fleet):
    admin = _browser(api)
    r = admin.get("/costs?convert_to=JPY")
    assert r.status_code == 200
    page = r.text
    assert "No exchange rate found for CAD -&gt; JPY, EUR -&gt; JPY, USD -&gt; JPY" in page
    assert "CAD, EUR, USD cannot be converted to JPY" in page
    assert "rate_from=CAD&amp;rate_to=JPY" in page  # a link that fills the rate form
    assert "No chart in JPY" in page and ">100.00<" in page  # the totals per currency stay
    # the link fills the form
    page = admin.get("/costs?convert_to=JPY&rate_from=CAD&rate_to=JPY").text
    assert 'name="from_currency" value="CAD"' in page and 'name="to_currency" value="JPY"' in page
    # an unreadable currency in the query is a field message, the page still renders
    r = admin.get("/costs?convert_to=EURO")
    assert r.status_code == 200 and 'aria-describedby="err-convert_to"' in r.text


@pytest.mark.parametrize("role", [None, "operator"])
def test_rates_add_replace_delete(api, fleet, role):
    b = _browser(api, role)
    page = b.get("/costs").text
    assert 'id="rate-form"' in page and 'id="rates-table"' in page
    # add: post/redirect/get
    r = b.post("/costs/rates", {"from_currency": "jpy", "to_currency": "USD", "rate": "0.0067"})
    assert r.status_code == 303 and r.headers["location"] == "/costs?flash=rate-saved#rates"
    page = b.get(r.headers["location"]).text
    assert "Exchange rate saved." in page and "<code>0.006700</code>" in page
    assert _rates(api)["JPY-USD"] == "0.006700"
    rid = api.client.get("/api/exchange-rates/JPY-USD", headers=api.headers()).json()["id"]
    # replace: same pair, new rate, same id
    r = b.post("/costs/rates", {"from_currency": "JPY", "to_currency": "USD", "rate": "0.007"})
    assert r.status_code == 303
    again = api.client.get("/api/exchange-rates/JPY-USD", headers=api.headers()).json()
    assert again["id"] == rid and again["rate"] == "0.007000"
    # delete: a confirmation first (without JavaScript), then the delete
    r = b.post(f"/costs/rates/{rid}/delete")
    assert r.status_code == 200 and "Delete the exchange rate JPY → USD?" in r.text
    assert "JPY-USD" in _rates(api)
    b.get("/costs")
    r = b.post(f"/costs/rates/{rid}/delete", {"confirmed": "yes"})
    assert r.status_code == 303 and r.headers["location"] == "/costs?flash=rate-deleted#rates"
    assert "Exchange rate deleted." in b.get(r.headers["location"]).text
    assert "JPY-USD" not in _rates(api)
    # audited through the services, by whoever did it
    assert _audit(api)[-3:] == [
        ("create", "JPY-USD"),
        ("update", "JPY-USD"),
        ("delete", "JPY-USD"),
    ]


def test_invalid_rates_are_field_errors_next_to_the_fields(api, fleet):
    admin = _browser(api)
    before = _rates(api)
    cases = [
        ({"from_currency": "EUR", "to_currency": "USD", "rate": "abc"}, "rate"),
        ({"from_currency": "EUR", "to_currency": "USD", "rate": "-1"}, "rate"),
        ({"from_currency": "EUR", "to_currency": "USD", "rate": "1.1234567"}, "rate"),
        ({"from_currency": "EURO", "to_currency": "USD", "rate": "1"}, "from_currency"),
        ({"from_currency": "EUR", "to_currency": "EUR", "rate": "1"}, "to_currency"),
        ({"from_currency": "", "to_currency": "USD", "rate": "1"}, "from_currency"),
    ]
    for data, field in cases:
        r = admin.post("/costs/rates", data)
        assert r.status_code == 200, (data, r.status_code)  # the form again, not a redirect
        page = r.text
        tag = re.search(rf'<input id="f-{field}" name="{field}"[^>]*>', page)
        assert tag, (field, page)
        assert f'aria-invalid="true" aria-describedby="err-{field}"' in tag.group(0)
        err = re.search(rf'<p class="field-error" id="err-{field}">([^<]+)</p>', page)
        assert err and err.group(1).strip(), (field, page)
        # what was typed is kept
        assert f'value="{data["rate"]}"' in page
        admin.get("/costs")
    assert _rates(api) == before


def test_readonly_sees_the_list_only(api, fleet):
    ro = _browser(api, "readonly")
    page = ro.get("/costs").text
    assert 'id="rates-table"' in page and "<code>1.085000</code>" in page
    assert 'id="rate-form"' not in page and "/delete" not in page and "Replace" not in page
    assert _selected(page) == "EUR" and ">81.01<" in page
    rid = api.client.get("/api/exchange-rates/EUR-USD", headers=api.headers()).json()["id"]
    before, audit = _rates(api), _audit(api)
    assert (
        ro.post(
            "/costs/rates", {"from_currency": "EUR", "to_currency": "USD", "rate": "2"}
        ).status_code
        == 403
    )
    assert ro.post("/costs/rates", {"from_currency": "X", "rate": "y"}).status_code == 403
    assert ro.post(f"/costs/rates/{rid}/delete", {"confirmed": "yes"}).status_code == 403
    assert _rates(api) == before and _audit(api) == audit


def test_csrf_refused(api, fleet):
    admin = _browser(api)
    before = _rates(api)
    data = {"from_currency": "GBP", "to_currency": "USD", "rate": "1.27"}
    assert admin.post("/costs/rates", data, csrf=False).status_code == 403
    assert admin.post("/costs/rates", {**data, "csrf_token": "0" * 64}, csrf=False).status_code == (
        403
    )
    rid = api.client.get("/api/exchange-rates/EUR-USD", headers=api.headers()).json()["id"]
    r = admin.post(f"/costs/rates/{rid}/delete", {"confirmed": "yes"}, csrf=False)
    assert r.status_code == 403
    # a form from another site: a good token is not enough without the same Origin
    r = admin.post("/costs/rates", data, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert _rates(api) == before


def test_monthly_chart_labels_do_not_overlap(api, fleet):
    admin = _browser(api)
    page = admin.get("/costs?months=36").text
    svg = re.search(r'<svg class="chart".*?</svg>', page, re.S).group(0)
    assert svg.count("<rect") == 36
    labels = re.findall(
        r'<text class="axis" x="([\d.]+)" y="[\d.]+" text-anchor="end" '
        r'transform="rotate\(-45',
        svg,
    )
    assert 2 <= len(labels) < 36  # turned and thinned
    xs = [float(x) for x in labels]
    assert min(b - a for a, b in zip(xs, xs[1:], strict=False)) >= 13 * 1.4
    # values that do not fit above the bars stay in the tooltips
    assert '<text class="value"' not in svg and "<title>" in svg


@pytest.mark.parametrize("n", [1, 3, 8, 12, 24, 60, 120])
def test_bar_chart_labels_never_overlap(n):
    from sigma.server.web import charts

    months = [date(2000 + i // 12, i % 12 + 1, 1) for i in range(n)]
    svg = str(
        charts.bar_chart(
            [(m.strftime("%b %y"), 1234.5 * (i + 1)) for i, m in enumerate(months)],
            "t",
            mono=True,
        )
    )
    level = re.findall(
        r'<text class="axis" x="([\d.]+)" y="[\d.]+" text-anchor="middle">([^<]*)<', svg
    )
    turned = re.findall(
        r'<text class="axis" x="([\d.]+)" y="[\d.]+" text-anchor="end" '
        r'transform="rotate',
        svg,
    )
    if level:
        xs = [(float(x), len(t)) for x, t in level]
        for (x1, w1), (x2, w2) in zip(xs, xs[1:], strict=False):
            assert x2 - x1 >= (w1 + w2) / 2 * charts.CHAR_W, (n, x1, x2)
    else:
        xs = [float(x) for x in turned]
        assert xs and all(b - a >= charts.LINE_H * 1.4 for a, b in zip(xs, xs[1:], strict=False))
    assert len(level) + len(turned) >= min(n, 2)
    values = re.findall(r'<text class="value" x="([\d.]+)"[^>]*>([^<]*)<', svg)
    for (x1, t1), (x2, t2) in zip(values, values[1:], strict=False):
        assert float(x2) - float(x1) >= (len(t1) + len(t2)) / 2 * charts.CHAR_W


def test_renewals_due_this_week_with_totals(api, fleet):
    """The costs page answers "what do I renew this week, for how much", as the API does."""
    from datetime import timedelta

    h = api.headers()
    soon = (date.today() + timedelta(days=2)).isoformat()
    for ref, body in (
        ("us-1", {"expire_date": soon, "billing_cycle": "quarterly", "auto_renew": True}),
        ("de-1", {"expire_date": soon}),
    ):
        assert api.client.put(f"/api/vps/{ref}", headers=h, json=body).status_code == 200
    page = _browser(api).get("/costs")
    assert page.status_code == 200
    section = page.text.split('id="renewals"', 1)[1].split("</section>", 1)[0]
    assert "<strong>4.51 EUR</strong> for 1 VPS; <strong>30.00 USD</strong> for 1 VPS" in section
    assert ">de-1</a>" in section and ">us-1</a>" in section and "ca-1" not in section
    assert 'quarterly <span class="muted">(auto)</span>' in section
    r = api.client.get("/api/vps/renewals", headers=h, params={"within": 7})
    assert r.status_code == 200
    assert [(t["currency"], t["amount"]) for t in r.json()["totals"]] == [
        ("EUR", "4.51"),
        ("USD", "30.00"),
    ]
    for bad in ("-1", "367", "soon"):
        r = api.client.get("/api/vps/renewals", headers=h, params={"within": bad})
        assert r.status_code == 422 and "within" in r.text, r.text
    assert api.client.get("/api/vps/renewals").status_code == 401
