"""The billing and traffic columns of a VPS (issue 16, part B) in exports and imports, on
SQLite and PostgreSQL: they go out and come back unchanged in CSV, JSON and YAML, a file of
the original's columns imports with their defaults, and a bad value is a report naming the
line and the field, with nothing written."""

from __future__ import annotations

import pytest

from sigma.errors import InvalidInput
from sigma.services import transfer, vps

NEW_COLUMNS = [
    "billing_cycle",
    "auto_renew",
    "traffic_quota_gb",
    "traffic_direction",
    "traffic_reset_day",
]


def test_the_columns_come_after_the_original_ones():
    assert transfer.VPS_CSV_COLUMNS[-len(NEW_COLUMNS) :] == NEW_COLUMNS
    assert transfer.VPS_CSV_COLUMNS.index("notes") == len(transfer.VPS_CSV_COLUMNS) - 6


@pytest.mark.parametrize("fmt", ["csv", "json", "yaml"])
def test_round_trip(run, sessions, fmt):
    from sqlalchemy import delete

    from sigma.db.engine import unit_of_work
    from sigma.db.models.core import Vps as VpsRow

    run(
        vps.create,
        {
            "hostname": "hk-1",
            "billing_cycle": "45d",
            "auto_renew": True,
            "traffic_quota_gb": 500,
            "traffic_direction": "max",
            "traffic_reset_day": 7,
        },
    )
    run(vps.create, {"hostname": "hk-2"})
    first = run(transfer.export_vps, fmt)
    with unit_of_work(sessions) as s:
        s.execute(delete(VpsRow))
    report = run(transfer.import_vps, first, fmt)
    assert report.created == 2
    assert run(transfer.export_vps, fmt) == first
    v = run(vps.get, "hk-1")
    assert (v.billing_cycle, v.auto_renew, v.traffic_quota_gb) == ("45d", True, 500)
    assert (v.traffic_direction, v.traffic_reset_day) == ("max", 7)
    # re-importing the same file changes nothing
    assert run(transfer.import_vps, first, fmt).unchanged == 2


def test_original_columns_import_with_the_defaults(run):
    run(transfer.import_vps, "hostname,country\nold-1,HK\n", "csv")
    v = run(vps.get, "old-1")
    assert (v.billing_cycle, v.auto_renew, v.traffic_quota_gb) == ("monthly", False, None)
    assert (v.traffic_direction, v.traffic_reset_day) == ("sum", 1)
    # empty cells: not given (defaults), or cleared (the quota)
    run(
        transfer.import_vps,
        "hostname,billing_cycle,auto_renew,traffic_quota_gb,traffic_reset_day\nold-2,,,,\n",
        "csv",
    )
    w = run(vps.get, "old-2")
    assert (w.billing_cycle, w.auto_renew, w.traffic_quota_gb, w.traffic_reset_day) == (
        "monthly",
        False,
        None,
        1,
    )


def test_bad_values_are_reported_and_nothing_written(run):
    text = (
        "hostname,billing_cycle,auto_renew,traffic_quota_gb,traffic_direction,traffic_reset_day\n"
        "ok-1,monthly,true,10,out,5\n"
        "bad-1,0d,false,,sum,1\n"
        "bad-2,yearly,maybe,,sum,1\n"
        "bad-3,yearly,false,-1,sum,1\n"
        "bad-4,yearly,false,,upwards,1\n"
        "bad-5,yearly,false,,sum,30\n"
    )
    with pytest.raises(InvalidInput) as err:
        run(transfer.import_vps, text, "csv")
    found = [(d["line"], d["field"]) for d in err.value.details]
    assert found == [
        (3, "billing_cycle"),
        (4, "auto_renew"),
        (5, "traffic_quota_gb"),
        (6, "traffic_direction"),
        (7, "traffic_reset_day"),
    ]
    assert run(vps.list_vps).total == 0
