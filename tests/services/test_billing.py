"""Billing cycles and renewals (issue 16, part B): the cycle arithmetic (month ends, leap
years, day cycles), `renew` with its amount, audit row and timeline event, the refusals that
write nothing, the auto-renew job run twice and from two threads at once (each cycle renewed
once), and the renewals in the monthly cost report; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest

from sigma.errors import Conflict, InvalidInput, NotFound
from sigma.schemas.common import validate
from sigma.schemas.inventory import VpsCreate
from sigma.services import billing, costs, vps
from sigma.vocab import parse_billing_cycle

D = date

# ---------------------------------------------------------------- arithmetic (no database)


@pytest.mark.parametrize(
    "expire, cycle, cycles, purchase, expected",
    [
        (D(2024, 1, 15), "monthly", 1, None, D(2024, 2, 15)),
        (D(2024, 1, 31), "monthly", 1, None, D(2024, 2, 29)),  # leap year: Feb 29
        (D(2023, 1, 31), "monthly", 1, None, D(2023, 2, 28)),
        (D(2024, 1, 31), "monthly", 2, None, D(2024, 3, 31)),  # in one step: no drift
        (D(2024, 1, 31), "monthly", 3, None, D(2024, 4, 30)),
        # clamped to Feb's end, back to the purchase day when the month has it
        (D(2024, 2, 29), "monthly", 1, D(2023, 12, 31), D(2024, 3, 31)),
        (D(2023, 2, 28), "monthly", 1, D(2022, 11, 30), D(2023, 3, 30)),
        (D(2024, 2, 28), "monthly", 1, D(2024, 1, 28), D(2024, 3, 28)),  # not clamped
        (D(2024, 4, 30), "monthly", 1, D(2024, 1, 15), D(2024, 5, 30)),  # purchase day earlier
        (D(2024, 11, 30), "quarterly", 1, D(2024, 5, 31), D(2025, 2, 28)),
        (D(2024, 8, 31), "semi-annual", 1, None, D(2025, 2, 28)),
        (D(2024, 2, 29), "yearly", 1, None, D(2025, 2, 28)),
        (D(2024, 2, 29), "yearly", 4, None, D(2028, 2, 29)),
        (D(2023, 12, 31), "monthly", 1, None, D(2024, 1, 31)),  # year boundary
        (D(2024, 1, 1), "45d", 1, None, D(2024, 2, 15)),
        (D(2024, 2, 28), "1d", 2, None, D(2024, 3, 1)),  # through Feb 29
        (D(2023, 2, 28), "1d", 1, None, D(2023, 3, 1)),
    ],
)
def test_cycle_arithmetic(expire, cycle, cycles, purchase, expected):
    assert billing.advance(expire, cycle, cycles, purchase) == expected


def test_amounts_are_exact():
    assert billing.renewal_amount(Decimal("15.99"), "monthly") == Decimal("15.99")
    assert billing.renewal_amount(Decimal("15.99"), "quarterly", 2) == Decimal("95.94")
    assert billing.renewal_amount(Decimal("0.10"), "yearly", 3) == Decimal("3.60")
    assert billing.renewal_amount(Decimal("10.00"), "45d") == Decimal("15.00")
    # a day cycle: N/30 months, rounded once to the cent, half to even
    assert billing.renewal_amount(Decimal("10.00"), "7d") == Decimal("2.33")
    assert billing.renewal_amount(Decimal("0.15"), "10d") == Decimal("0.05")
    assert billing.renewal_amount(None, "monthly") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("monthly", "monthly"),
        ("Quarterly", "quarterly"),
        (" semi-annual ", "semi-annual"),
        ("semiannual", "semi-annual"),
        ("annual", "yearly"),
        ("45d", "45d"),
        ("45D", "45d"),
        ("30 days", "30d"),
        ("1d", "1d"),
    ],
)
def test_cycle_spellings(text, expected):
    assert parse_billing_cycle(text) == expected


@pytest.mark.parametrize("text", ["0d", "-3d", "12h", "36 hours", "weekly", "", "9999d", "d"])
def test_bad_cycles_are_refused_naming_the_field(text):
    with pytest.raises(InvalidInput) as exc:
        validate(VpsCreate, {"hostname": "hk-1", "billing_cycle": text})
    assert exc.value.field == "billing_cycle"


def test_a_cycle_under_a_day_says_so():
    for text in ("0d", "-1d"):
        with pytest.raises(ValueError, match="shorter than one day"):
            parse_billing_cycle(text)
    with pytest.raises(ValueError, match="whole days"):
        parse_billing_cycle("12h")


def test_renewal_past_the_calendar_is_invalid_input():
    with pytest.raises(InvalidInput) as exc:
        billing.advance(D(9999, 12, 1), "monthly")
    assert exc.value.field == "cycles"


# ---------------------------------------------------------------- renew


def _add(run, hostname="hk-1", **fields):
    base = {"hostname": hostname, "status": "active"}
    return run(vps.create, {**base, **fields})


def _history(sessions, vps_id, kind=None):
    from sqlalchemy import select

    from sigma.db.models.history import VpsHistory

    with sessions() as s:
        q = select(VpsHistory).where(VpsHistory.vps_id == vps_id).order_by(VpsHistory.at)
        if kind:
            q = q.where(VpsHistory.kind == kind)
        return list(s.scalars(q))


def _renewals(sessions, vps_id=None):
    from sqlalchemy import select

    from sigma.db.models.lifecycle import VpsRenewal

    with sessions() as s:
        q = select(VpsRenewal).order_by(VpsRenewal.paid_on, VpsRenewal.created_at)
        if vps_id is not None:
            q = q.where(VpsRenewal.vps_id == vps_id)
        return list(s.scalars(q))


def test_renew_moves_the_expiry_and_records_the_renewal(run, sessions, audit_rows):
    v = _add(
        run,
        cost_monthly="15.99",
        currency="EUR",
        purchase_date="2023-12-31",
        expire_date="2024-01-31",
    )
    result = run(billing.renew, v.hostname, {"cycles": 2}, D(2024, 1, 20))
    assert result.vps.expire_date == D(2024, 3, 31)
    assert result.vps._version == v._version + 1  # an edit: the ETag moves
    r = result.renewal
    assert (r.expire_before, r.expire_after, r.cycles, r.billing_cycle) == (
        D(2024, 1, 31),
        D(2024, 3, 31),
        2,
        "monthly",
    )
    assert (r.amount, r.currency, r.paid_on, r.automatic) == (
        Decimal("31.98"),
        "EUR",
        D(2024, 1, 20),
        False,
    )
    assert run(vps.get, v.id).expire_date == D(2024, 3, 31)
    [event] = _history(sessions, v.id, "renewed")
    assert event.source == "user"
    assert event.details == {
        "from": "2024-01-31",
        "to": "2024-03-31",
        "cycles": 2,
        "billing_cycle": "monthly",
        "amount": "31.98",
        "currency": "EUR",
        "automatic": False,
    }
    [row] = audit_rows(action="renew")
    assert row.details["to"] == "2024-03-31" and row.details["amount"] == "31.98"
    assert len(_renewals(sessions, v.id)) == 1


def test_renew_a_day_cycle_and_without_a_cost(run):
    v = _add(run, billing_cycle="45d", expire_date="2024-01-01")
    result = run(billing.renew, v.id, 1)
    assert result.vps.expire_date == D(2024, 2, 15)
    assert result.renewal.amount is None  # no monthly cost: no amount


@pytest.mark.parametrize(
    "setup, cycles, error, field",
    [
        ({"status": "retired", "expire_date": "2024-01-01"}, 1, Conflict, "status"),
        ({"expire_date": "2024-01-01"}, 0, InvalidInput, "cycles"),
        ({"expire_date": "2024-01-01"}, -1, InvalidInput, "cycles"),
        ({"expire_date": "2024-01-01"}, 121, InvalidInput, "cycles"),
        ({"expire_date": "9999-12-01"}, 1, InvalidInput, "cycles"),
    ],
)
def test_renew_refusals_write_nothing(run, sessions, audit_rows, setup, cycles, error, field):
    v = _add(run, **setup)
    before = run(vps.get, v.id)
    with pytest.raises(error) as exc:
        run(billing.renew, v.id, {"cycles": cycles})
    assert exc.value.field == field
    after = run(vps.get, v.id)
    assert (after.expire_date, after._version) == (before.expire_date, before._version)
    assert _renewals(sessions) == []
    assert _history(sessions, v.id, "renewed") == []
    assert audit_rows(action="renew") == []


def test_renew_without_an_expiry_date_starts_today(run):
    v = _add(run, billing_cycle="yearly", cost_monthly="3.00")
    result = run(billing.renew, v.id, 1, D(2024, 2, 29))
    assert (result.renewal.expire_before, result.vps.expire_date) == (
        D(2024, 2, 29),
        D(2025, 2, 28),
    )
    assert result.renewal.amount == Decimal("36.00")


def test_renew_an_unknown_vps_is_not_found(run):
    with pytest.raises(NotFound):
        run(billing.renew, "no-such-host", 1)


def test_readonly_may_not_renew(run, readonly):
    from sigma.errors import PermissionDenied

    v = _add(run, expire_date="2024-01-01")
    with pytest.raises(PermissionDenied):
        run(billing.renew, v.id, 1, as_actor=readonly)


# ---------------------------------------------------------------- auto-renew


def test_auto_renew_rolls_a_passed_expiry_forward_once_per_cycle(run, sessions, audit_rows):
    due = _add(
        run,
        "due-1",
        auto_renew=True,
        cost_monthly="10.00",
        expire_date="2024-01-31",
        purchase_date="2023-10-31",
    )
    not_due = _add(run, "later-1", auto_renew=True, expire_date="2024-05-01")
    manual = _add(run, "manual-1", auto_renew=False, expire_date="2024-01-01")
    retired = _add(run, "old-1", auto_renew=True, expire_date="2024-01-01", status="retired")
    today = D(2024, 4, 10)
    done = run(lambda s, a: billing.auto_renew(s, today))
    # Jan 31 -> Feb 29 -> Mar 31 -> Apr 30: three cycles, each paid when it began
    assert [(r.expire_before, r.expire_after) for r in done] == [
        (D(2024, 1, 31), D(2024, 2, 29)),
        (D(2024, 2, 29), D(2024, 3, 31)),
        (D(2024, 3, 31), D(2024, 4, 30)),
    ]
    assert [r.paid_on for r in done] == [D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31)]
    assert all(r.automatic and r.amount == Decimal("10.00") for r in done)
    assert run(vps.get, due.id).expire_date == D(2024, 4, 30)
    for other, expire in ((not_due, D(2024, 5, 1)), (manual, D(2024, 1, 1))):
        assert run(vps.get, other.id).expire_date == expire
    assert run(vps.get, retired.id).expire_date == D(2024, 1, 1)
    events = _history(sessions, due.id, "renewed")
    assert [e.source for e in events] == ["system"] * 3
    assert [e.details["automatic"] for e in events] == [True] * 3
    [row] = audit_rows(action="auto-renew")
    assert row.details["cycles"] == 3 and row.details["amount"] == "30.00"
    # a second run: nothing is due any more
    assert run(lambda s, a: billing.auto_renew(s, today)) == []
    assert len(_renewals(sessions)) == 3
    # the day after the new expiry has passed: one more cycle
    later = run(lambda s, a: billing.auto_renew(s, D(2024, 5, 1)))
    assert [(r.expire_before, r.expire_after) for r in later] == [(D(2024, 4, 30), D(2024, 5, 31))]


def test_auto_renew_on_the_expiry_day_waits(run):
    v = _add(run, auto_renew=True, expire_date="2024-03-10")
    assert run(lambda s, a: billing.auto_renew(s, D(2024, 3, 10))) == []
    assert run(vps.get, v.id).expire_date == D(2024, 3, 10)


def test_auto_renew_job_twice_and_from_two_threads_renews_each_cycle_once(run, sessions, settings):
    for n in range(5):
        _add(run, f"auto-{n}", auto_renew=True, cost_monthly="5.00", expire_date="2024-01-15")
    today = D(2024, 3, 20)  # three cycles due for each: Jan 15 -> Feb 15 -> Mar 15 -> Apr 15
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            counts.append(billing.job(sessions, settings, today))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(counts) == 15  # 5 VPS x 3 cycles, whichever thread did each
    assert billing.job(sessions, settings, today) == 0  # and a third run: nothing
    rows = _renewals(sessions)
    assert len(rows) == 15
    assert len({(r.vps_id, r.expire_before) for r in rows}) == 15  # each cycle once
    for n in range(5):
        assert run(vps.get, f"auto-{n}").expire_date == D(2024, 4, 15)


def test_auto_renew_job_is_registered_and_runs_once_across_processes(run, sessions, settings):
    """Two schedulers (replicas) waking at once: the lease lets one run the job."""
    from sigma.server.jobs import jobs, run_once

    [job] = [j for j in jobs() if j.name == billing.JOB_NAME]
    assert job.interval(settings) == billing.JOB_INTERVAL
    expire = date.today() - timedelta(days=3)
    v = _add(run, auto_renew=True, expire_date=expire.isoformat())
    barrier = threading.Barrier(2)
    ran: list[bool] = []

    def replica():
        barrier.wait()
        ran.append(run_once(job, sessions, settings))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(ran) == [False, True]
    assert run(vps.get, v.id).expire_date >= date.today()
    assert len(_renewals(sessions, v.id)) >= 1


# ---------------------------------------------------------------- cost reports


def test_monthly_costs_show_the_renewals_paid(run):
    v = _add(run, cost_monthly="20.00", currency="USD", expire_date="2024-01-10")
    w = _add(run, "eu-1", cost_monthly="7.50", currency="EUR", billing_cycle="quarterly")
    run(vps.update, w.id, {"expire_date": "2024-02-01"})
    run(billing.renew, v.id, 1, D(2024, 1, 5))
    run(billing.renew, v.id, 2, D(2024, 1, 25))
    run(billing.renew, w.id, 1, D(2024, 2, 2))
    report = run(costs.monthly, {"months": 3}, D(2024, 3, 15))
    by_month = {m.month: m for m in report.months}
    jan, feb, mar = by_month[D(2024, 1, 1)], by_month[D(2024, 2, 1)], by_month[D(2024, 3, 1)]
    assert [(c.currency, c.vps_count, c.total_cost) for c in jan.renewals] == [
        ("USD", 1, Decimal("60.00"))
    ]
    assert [(c.currency, c.vps_count, c.total_cost) for c in feb.renewals] == [
        ("EUR", 1, Decimal("22.50"))
    ]
    assert mar.renewals == []
    # the running cost is reported as before
    assert {c.currency for c in jan.per_currency} >= {"USD"}
    # converted like the running costs
    run(costs.set_rate, {"from_currency": "EUR", "to_currency": "USD", "rate": "1.100000"})
    report = run(costs.monthly, {"months": 3, "convert_to": "USD"}, D(2024, 3, 15))
    feb = {m.month: m for m in report.months}[D(2024, 2, 1)]
    assert feb.renewals_converted_total.amount == Decimal("24.75")
    # the JSON keeps the old fields and adds the new ones
    dumped = report.model_dump(mode="json")["months"][0]
    assert {"month", "per_currency", "converted_total", "groups"} <= dumped.keys()
    assert {"renewals", "renewals_converted_total"} <= dumped.keys()


def test_upcoming_lists_the_first_ones_and_counts_them_all(run):
    """What the costs page asks: the soonest renewals only, the totals and the count of them
    all; retired VPS and those not due are left out."""
    today = date.today()
    for n, (status, days, cost) in enumerate(
        [("active", 1, "10"), ("active", 3, "5"), ("suspended", -2, None), ("active", 6, "2.5")]
        + [("retired", 1, "7"), ("active", 30, "9")]
    ):
        run(
            vps.create,
            {
                "hostname": f"r-{n}",
                "status": status,
                "expire_date": str(today + timedelta(days=days)),
                **({"cost_monthly": cost, "currency": "USD"} if cost else {}),
            },
        )
    every = run(billing.upcoming, 7)
    assert [i.hostname for i in every.items] == ["r-2", "r-0", "r-1", "r-3"]
    assert every.count == 4
    first = run(billing.upcoming, 7, None, 2)
    assert [i.hostname for i in first.items] == ["r-2", "r-0"] and first.count == 4
    assert first.totals == every.totals
    [usd] = first.totals
    assert (usd.vps_count, usd.amount, usd.without_cost) == (4, Decimal("17.5"), 1)
    # a cycle of days is rounded per VPS, as each item's amount is: the totals are the items'
    for n, cost in enumerate(("0.01", "0.01")):
        run(
            vps.create,
            {
                "hostname": f"d-{n}",
                "status": "active",
                "expire_date": str(today + timedelta(days=2)),
                "cost_monthly": cost,
                "currency": "USD",
                "billing_cycle": "45d",
            },
        )
    every = run(billing.upcoming, 7)
    [usd] = run(billing.upcoming, 7, None, 1).totals
    assert usd.amount == sum(i.amount for i in every.items if i.amount is not None)
    assert usd.amount == Decimal("17.5") + 2 * Decimal("0.02")  # 0.015 to even, twice
