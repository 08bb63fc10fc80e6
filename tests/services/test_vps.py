"""VPS service: CRUD, partial update, retire, filters, ordering, pagination, references,
exact money, audit and roles, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from sigma.errors import Ambiguous, InvalidInput, NotFound, PermissionDenied
from sigma.schemas.inventory import VpsCreate, VpsFilter, VpsUpdate
from sigma.services import providers, vps

TODAY = date.today()

CONTRACT_FIELDS = [
    "id",
    "hostname",
    "alias",
    "provider_id",
    "ip_addresses",
    "ssh_port",
    "country",
    "city",
    "dc_name",
    "cpu_cores",
    "ram_mb",
    "disk_gb",
    "bandwidth_tb",
    "cost_monthly",
    "currency",
    "status",
    "purchase_date",
    "expire_date",
    "purpose",
    "vpn_protocol",
    "tags",
    "monitoring_enabled",
    "node_exporter_port",
    "extra",
    "notes",
    "created_at",
    "updated_at",
]


@pytest.fixture
def provider(run):
    return run(providers.create, {"name": "DMIT", "country": "US"})


def full_vps(provider_id) -> dict:
    return {
        "hostname": "hk-exit-01",
        "alias": "HK exit",
        "provider_id": provider_id,
        "ip_addresses": [
            {"ip": "103.1.2.3", "label": "china-telecom"},
            {"ip": "2001:DB8:0:0::1", "label": "OS"},
            "10.0.0.5",
        ],
        "ssh_port": 2222,
        "country": "hk",
        "city": "Hong Kong",
        "dc_name": "HKIX",
        "cpu_cores": 2,
        "ram_mb": 2048,
        "disk_gb": 40,
        "bandwidth_tb": 2,
        "cost_monthly": "15.99",
        "currency": "usd",
        "status": "Active",
        "purchase_date": "2026-02-01",
        "expire_date": date(2026, 3, 1),
        "purpose": "vpn-exit",
        "vpn_protocol": "wireguard",
        "tags": [" cn-optimized ", "cn-optimized", "", "p:airport"],
        "monitoring_enabled": True,
        "node_exporter_port": 9101,
        "extra": {"k": [1, 2]},
        "notes": "note",
    }


# ------------------------------------------------------------------ create / show


def test_create_defaults(run):
    v = run(vps.create, {"hostname": "bare"})
    body = v.model_dump(mode="json")
    # the contract's fields, in its order; later issues may append fields (e.g. `online`)
    assert list(body)[: len(CONTRACT_FIELDS)] == CONTRACT_FIELDS
    body = {k: body[k] for k in CONTRACT_FIELDS}
    assert body | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "hostname": "bare",
        "alias": "",
        "provider_id": None,
        "ip_addresses": [],
        "ssh_port": 22,
        "country": "",
        "city": "",
        "dc_name": "",
        "cpu_cores": None,
        "ram_mb": None,
        "disk_gb": None,
        "bandwidth_tb": None,
        "cost_monthly": None,
        "currency": "USD",
        "status": "provisioning",
        "purchase_date": None,
        "expire_date": None,
        "purpose": "",
        "vpn_protocol": "",
        "tags": [],
        "monitoring_enabled": True,
        "node_exporter_port": 9100,
        "extra": {},
        "notes": "",
        "created_at": None,
        "updated_at": None,
    }
    assert body["created_at"].endswith("Z")


def test_create_every_field_normalised_and_round_tripped(run, provider):
    v = run(vps.create, full_vps(provider.id))
    again = run(vps.get, v.id)
    assert again == v
    body = again.model_dump(mode="json")
    assert body["provider_id"] == str(provider.id)
    assert body["ip_addresses"] == [
        {"ip": "103.1.2.3", "label": "china-telecom"},
        {"ip": "2001:db8::1", "label": "overseas"},
        {"ip": "10.0.0.5", "label": ""},
    ]
    assert body["country"] == "HK" and body["currency"] == "USD" and body["status"] == "active"
    assert body["bandwidth_tb"] == "2.00" and body["cost_monthly"] == "15.99"
    assert body["purchase_date"] == "2026-02-01" and body["expire_date"] == "2026-03-01"
    assert body["tags"] == ["cn-optimized", "p:airport"]
    assert body["extra"] == {"k": [1, 2]}
    assert (body["ssh_port"], body["node_exporter_port"]) == (2222, 9101)
    assert (body["cpu_cores"], body["ram_mb"], body["disk_gb"]) == (2, 2048, 40)


def test_hostnames_are_not_unique(run):
    run(vps.create, {"hostname": "same"})
    run(vps.create, {"hostname": "same"})
    assert run(vps.list_vps).total == 2


def test_create_with_unknown_provider_writes_nothing(run, count, db_models, audit_rows):
    with pytest.raises(InvalidInput) as exc:
        run(vps.create, {"hostname": "x", "provider_id": str(uuid.uuid4())})
    assert exc.value.field == "provider_id"
    assert count(db_models.Vps) == 0 and audit_rows() == []


# ------------------------------------------------------------------ exact money


MONEY = [
    "15.99",
    "0.10",
    "0.20",
    "0.01",
    "0",
    "99999999.99",
    "12345678.91",
    15.99,
    0.1,
    Decimal("7.5"),
]


def test_money_round_trips_exactly(run, each):
    def check(i, value):
        v = run(vps.create, {"hostname": f"m{i}", "cost_monthly": value, "bandwidth_tb": value})
        got = run(vps.get, v.id)
        expect = Decimal(str(value)).quantize(Decimal("0.01"))
        assert isinstance(got.cost_monthly, Decimal)
        assert got.cost_monthly == expect and str(got.cost_monthly) == str(expect)
        assert got.bandwidth_tb == expect
        assert got.model_dump(mode="json")["cost_monthly"] == f"{expect:.2f}"

    each(list(enumerate(MONEY)), check)


def test_money_sums_exactly(run):
    for c in ["0.10", "0.20", "15.99", "99999999.99"]:
        run(vps.create, {"hostname": f"h{c}", "cost_monthly": c})
    total = sum(v.cost_monthly for v in run(vps.all_vps))
    assert total == Decimal("100000016.28")
    small = [v.cost_monthly for v in run(vps.all_vps) if v.cost_monthly < 1]
    assert sum(small) == Decimal("0.30")


BAD_MONEY = [
    ("-0.01", "negative"),
    ("15.999", "decimal places"),
    (0.1 + 0.2, "decimal places"),
    ("100000000.00", "below"),
    ("abc", "not a number"),
    ("NaN", "finite"),
    (True, "number"),
]


def test_bad_money_refused(run, count, db_models, each):
    def check(value, reason):
        with pytest.raises(InvalidInput) as exc:
            run(vps.create, {"hostname": "m", "cost_monthly": value})
        assert exc.value.field == "cost_monthly"
        assert reason in str(exc.value)

    each(BAD_MONEY, check)
    assert count(db_models.Vps) == 0


# ------------------------------------------------------------------ partial update


def test_partial_update_keeps_absent_fields(run, provider):
    v = run(vps.create, full_vps(provider.id))
    u = run(vps.update, v.id, VpsUpdate(notes="changed"))
    before, after = v.model_dump(mode="json"), u.model_dump(mode="json")
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"notes", "updated_at"}


def test_null_clears_nullable_fields(run, provider):
    v = run(vps.create, full_vps(provider.id))
    cleared = {
        "provider_id": None,
        "cost_monthly": None,
        "bandwidth_tb": None,
        "expire_date": None,
        "purchase_date": None,
        "cpu_cores": None,
        "ram_mb": None,
        "disk_gb": None,
    }
    u = run(vps.update, v.id, cleared)
    for field in cleared:
        assert getattr(u, field) is None, field
    assert run(vps.get, v.id).cost_monthly is None
    assert u.hostname == "hk-exit-01" and u.tags == ["cn-optimized", "p:airport"]


NOT_NULLABLE = [
    "hostname",
    "alias",
    "ip_addresses",
    "ssh_port",
    "country",
    "currency",
    "status",
    "purpose",
    "tags",
    "monitoring_enabled",
    "node_exporter_port",
    "extra",
    "notes",
]


def test_null_refused_for_non_nullable_fields(run, each):
    v = run(vps.create, {"hostname": "h"})

    def check(field):
        with pytest.raises(InvalidInput) as exc:
            run(vps.update, v.id, {field: None})
        assert field in str(exc.value)

    each(NOT_NULLABLE, check)
    assert run(vps.get, v.id).model_dump() == v.model_dump()


def test_update_replaces_lists_and_extra(run):
    v = run(
        vps.create,
        {"hostname": "h", "ip_addresses": ["1.1.1.1"], "tags": ["a", "b"], "extra": {"x": 1}},
    )
    u = run(
        vps.update,
        v.id,
        {"ip_addresses": [{"ip": "2.2.2.2", "label": "cu"}], "tags": ["c"], "extra": {"y": 2}},
    )
    assert [e.model_dump() for e in u.ip_addresses] == [{"ip": "2.2.2.2", "label": "china-unicom"}]
    assert u.tags == ["c"] and u.extra == {"y": 2}


def test_update_dates_checked_against_stored_values(run, count, db_models):
    v = run(
        vps.create, {"hostname": "h", "purchase_date": "2026-02-01", "expire_date": "2026-03-01"}
    )
    with pytest.raises(InvalidInput) as exc:
        run(vps.update, v.id, {"expire_date": "2026-01-31"})
    assert exc.value.field == "expire_date"
    with pytest.raises(InvalidInput):
        run(vps.update, v.id, {"purchase_date": "2026-03-02"})
    assert run(vps.get, v.id).expire_date == date(2026, 3, 1)
    # both at once, consistent, is fine
    u = run(vps.update, v.id, {"purchase_date": "2026-04-01", "expire_date": "2026-05-01"})
    assert u.expire_date == date(2026, 5, 1)


def test_update_audit_has_before_and_after(run, audit_rows):
    v = run(vps.create, {"hostname": "h", "cost_monthly": "5.00", "tags": ["a"]})
    run(vps.update, v.id, {"cost_monthly": "5.10", "tags": ["a", "b"], "status": "active"})
    rows = audit_rows(action="update", resource="vps")
    assert len(rows) == 1
    assert rows[0].resource_id == str(v.id)
    assert rows[0].details == {
        "hostname": "h",
        "changes": {
            "cost_monthly": {"from": "5.00", "to": "5.10"},
            "tags": {"from": ["a"], "to": ["a", "b"]},
            "status": {"from": "provisioning", "to": "active"},
        },
    }


def test_update_unknown_vps_or_provider(run, count, db_models, audit_rows):
    v = run(vps.create, {"hostname": "h"})
    with pytest.raises(NotFound):
        run(vps.update, str(uuid.uuid4()), {"notes": "x"})
    with pytest.raises(InvalidInput):
        run(vps.update, v.id, {"provider_id": str(uuid.uuid4())})
    assert run(vps.get, v.id).provider_id is None
    assert len(audit_rows()) == 1


# ------------------------------------------------------------------ delete / retire


def test_delete(run, count, db_models, audit_rows):
    """Deleting moves the VPS to the trash (issue 16): the row stays, hidden from everything;
    deleting it again is NotFound like any VPS the inventory does not show."""
    v = run(vps.create, {"hostname": "h"})
    run(vps.delete, "h")
    assert count(db_models.Vps) == 1
    assert count(db_models.Vps, deleted_at=None) == 0
    with pytest.raises(NotFound):
        run(vps.delete, v.id)
    with pytest.raises(NotFound):
        run(vps.get, v.id)
    assert [r.action for r in audit_rows()] == ["create", "delete"]


def test_retire_is_idempotent(run, audit_rows):
    v = run(
        vps.create,
        {"hostname": "h", "status": "active", "extra": {"keep": True, "retired_at": "old"}},
    )
    r = run(vps.retire, v.id)
    assert r.status == "retired" and r.monitoring_enabled is False
    assert r.extra["keep"] is True and r.extra["retired_at"] != "old"
    assert r.extra["retired_at"].endswith("+00:00")
    again = run(vps.retire, v.id)
    assert again.status == "retired"
    assert again.extra["retired_at"] == r.extra["retired_at"]
    rows = audit_rows(action="retire")
    assert len(rows) == 1 and rows[0].details == {"hostname": "h"}


def test_retire_unknown(run):
    with pytest.raises(NotFound):
        run(vps.retire, "nope")


# ------------------------------------------------------------------ filters


@pytest.fixture
def fleet(run):
    a = run(providers.create, {"name": "Alpha"})
    b = run(providers.create, {"name": "Beta"})
    specs = [
        dict(
            hostname="hk-exit-01",
            alias="HK one",
            provider_id=a.id,
            country="HK",
            status="active",
            purpose="vpn-exit",
            tags=["cn", "fast"],
            expire_date=TODAY + timedelta(days=3),
            ip_addresses=[{"ip": "103.1.2.3", "label": "ct"}],
        ),
        dict(
            hostname="hk-exit-02",
            provider_id=a.id,
            country="HK",
            status="active",
            purpose="vpn-exit",
            tags=["cn"],
            expire_date=TODAY + timedelta(days=30),
            ip_addresses=["2001:db8::10"],
        ),
        dict(
            hostname="jp-relay-01",
            alias="tokyo",
            provider_id=b.id,
            country="JP",
            status="provisioning",
            purpose="vpn-relay",
            tags=["fast"],
            expire_date=TODAY - timedelta(days=2),
        ),
        dict(
            hostname="us-mon", provider_id=b.id, country="US", status="suspended", purpose="monitor"
        ),
        dict(
            hostname="old-hk",
            provider_id=a.id,
            country="HK",
            status="retired",
            purpose="vpn-exit",
            tags=["cn", "fast"],
            expire_date=TODAY - timedelta(days=100),
        ),
        dict(hostname="nobody", country="DE", status="active", alias="100%_off"),
    ]
    return {"a": a, "b": b, "vps": {s["hostname"]: run(vps.create, s) for s in specs}}


def hosts(page) -> set[str]:
    return {v.hostname for v in page.data}


FILTERS = [
    ({}, {"hk-exit-01", "hk-exit-02", "jp-relay-01", "us-mon", "old-hk", "nobody"}),
    ({"status": "active"}, {"hk-exit-01", "hk-exit-02", "nobody"}),
    ({"status": "ACTIVE"}, {"hk-exit-01", "hk-exit-02", "nobody"}),
    ({"country": "hk"}, {"hk-exit-01", "hk-exit-02", "old-hk"}),
    ({"purpose": "vpn-exit"}, {"hk-exit-01", "hk-exit-02", "old-hk"}),
    ({"purpose": ""}, {"nobody"}),
    ({"tag": ["cn"]}, {"hk-exit-01", "hk-exit-02", "old-hk"}),
    ({"tag": ["cn", "fast"]}, {"hk-exit-01", "old-hk"}),
    ({"tag": ["fast", "cn", "missing"]}, set()),
    ({"tag": ["cn"], "status": "active", "country": "HK"}, {"hk-exit-01", "hk-exit-02"}),
    # expiring within N days: overdue included, no expire date excluded, retired left out
    ({"expiring_within_days": 7}, {"hk-exit-01", "jp-relay-01"}),
    ({"expiring_within_days": 0}, {"jp-relay-01"}),
    ({"expiring_within_days": 30}, {"hk-exit-01", "hk-exit-02", "jp-relay-01"}),
    ({"expiring_within_days": 7, "status": "retired"}, {"old-hk"}),
    ({"search": "HK-EXIT"}, {"hk-exit-01", "hk-exit-02"}),
    ({"search": "tokyo"}, {"jp-relay-01"}),
    ({"search": "%"}, {"nobody"}),
    ({"search": "_"}, {"nobody"}),
    ({"search": "-0"}, {"hk-exit-01", "hk-exit-02", "jp-relay-01"}),
    ({"ip": "103.1.2.3"}, {"hk-exit-01"}),
    ({"ip": "2001:DB8:0:0:0:0:0:10"}, {"hk-exit-02"}),
    ({"ip": "[2001:db8::10]"}, {"hk-exit-02"}),
    ({"ip": "103.1.2.4"}, set()),
]


def test_filters(run, fleet, each):
    def check(filters, expected):
        page = run(vps.list_vps, VpsFilter(**filters, per_page=100))
        assert hosts(page) == expected
        assert page.total == len(expected)
        assert {v.hostname for v in run(vps.all_vps, VpsFilter(**filters))} == expected

    each(FILTERS, check)


def test_filter_by_provider(run, fleet):
    page = run(vps.list_vps, {"provider_id": str(fleet["b"].id)})
    assert hosts(page) == {"jp-relay-01", "us-mon"}


BAD_FILTERS = [
    {"status": "bogus"},
    {"purpose": "x"},
    {"country": "HKG"},
    {"ip": "1.2.3"},
    {"ip": "10.0.0.0/8"},
    {"expiring_within_days": -1},
    {"provider_id": "nope"},
    {"colour": "red"},
    {"search": "x" * 201},
]


def test_bad_filters_refused(run, each):
    def check(filters):
        with pytest.raises(InvalidInput) as exc:
            run(vps.list_vps, filters)
        assert exc.value.field == next(iter(filters))

    each(BAD_FILTERS, check)


def test_ordering_status_then_expiry_nulls_last_then_hostname(run):
    specs = [
        ("b-prov", "provisioning", None),
        ("a-act-null", "active", None),
        ("z-act", "active", TODAY + timedelta(days=1)),
        ("c-act", "active", TODAY + timedelta(days=9)),
        ("a-act", "active", TODAY + timedelta(days=9)),
        ("r-ret", "retired", TODAY),
        ("a-prov", "provisioning", TODAY + timedelta(days=50)),
        ("s-susp", "suspended", None),
        ("b-act-null", "active", None),
    ]
    for host, status, exp in specs:
        run(vps.create, {"hostname": host, "status": status, "expire_date": exp})
    order = [v.hostname for v in run(vps.list_vps, {"per_page": 100}).data]
    assert order == [
        "z-act",
        "a-act",
        "c-act",
        "a-act-null",
        "b-act-null",
        "a-prov",
        "b-prov",
        "r-ret",
        "s-susp",
    ]
    assert [v.hostname for v in run(vps.all_vps)] == order


def test_pagination_envelope_and_clamping(run):
    for i in range(7):
        run(vps.create, {"hostname": f"h{i}"})
    p1 = run(vps.list_vps, {"page": 1, "per_page": 3})
    p3 = run(vps.list_vps, {"page": 3, "per_page": 3})
    assert (p1.total, p1.page, p1.per_page, len(p1.data)) == (7, 1, 3, 3)
    assert (p3.total, p3.page, len(p3.data)) == (7, 3, 1)
    pages = [run(vps.list_vps, {"page": n, "per_page": 3}).data for n in (1, 2, 3)]
    assert [v.hostname for page in pages for v in page] == [f"h{i}" for i in range(7)]
    beyond = run(vps.list_vps, {"page": 9, "per_page": 3})
    assert beyond.data == [] and beyond.total == 7
    clamped = run(vps.list_vps, {"page": 0, "per_page": 1000})
    assert (clamped.page, clamped.per_page, len(clamped.data)) == (1, 100, 7)
    assert run(vps.list_vps, {"page": -2, "per_page": 0}).per_page == 1
    default = run(vps.list_vps)
    assert (default.page, default.per_page) == (1, 25)
    assert Page_json_keys(p1) == ["data", "total", "page", "per_page"]


def Page_json_keys(page) -> list[str]:  # noqa: N802 - reads like the envelope it checks
    return list(page.model_dump(mode="json"))


# ------------------------------------------------------------------ references


def test_reference_forms(run):
    v = run(vps.create, {"hostname": "hk-exit-01"})
    assert run(vps.get, v.id).id == v.id
    assert run(vps.get, str(v.id)).id == v.id
    assert run(vps.get, str(v.id)[:4]).id == v.id
    assert run(vps.get, str(v.id)[:8].upper()).id == v.id
    assert run(vps.get, "hk-exit-01").id == v.id
    with pytest.raises(NotFound):
        run(vps.get, "hk-exit-02")
    with pytest.raises(NotFound):
        run(vps.get, str(v.id)[:3])


def test_duplicate_hostnames_prefer_live_then_ambiguous(run):
    old = run(vps.create, {"hostname": "hk-1", "status": "retired"})
    live = run(vps.create, {"hostname": "hk-1", "status": "active"})
    assert run(vps.get, "hk-1").id == live.id
    assert run(vps.get, str(old.id)).id == old.id
    live2 = run(vps.create, {"hostname": "hk-1"})
    with pytest.raises(Ambiguous) as exc:
        run(vps.get, "hk-1")
    msg = str(exc.value)
    assert str(live.id) in msg and str(live2.id) in msg
    assert str(old.id) not in msg


def test_two_retired_duplicates_are_ambiguous(run):
    run(vps.create, {"hostname": "gone", "status": "retired"})
    run(vps.create, {"hostname": "gone", "status": "retired"})
    with pytest.raises(Ambiguous):
        run(vps.retire, "gone")


def test_ambiguous_prefix(run, sessions):
    from sigma.db.engine import unit_of_work
    from sigma.db.models.core import Vps as Row

    with unit_of_work(sessions) as s:
        s.add_all(
            [
                Row(id=uuid.UUID("f00d0000-0000-4000-8000-000000000001"), hostname="one"),
                Row(id=uuid.UUID("f00d0000-0000-4000-8000-000000000002"), hostname="two"),
            ]
        )
    with pytest.raises(Ambiguous) as exc:
        run(vps.get, "f00d")
    assert "one" in str(exc.value) and "two" in str(exc.value)
    assert run(vps.get, "f00d0000-0000-4000-8000-000000000002").hostname == "two"


# ------------------------------------------------------------------ validation, audit, roles


INVALID_CREATE = [
    ({"ip_addresses": ["1.2.3.256"]}, "ip_addresses"),
    ({"ip_addresses": ["10.0.0.0/24"]}, "ip_addresses"),
    ({"ip_addresses": ["2001:db8::g"]}, "ip_addresses"),
    ({"ip_addresses": [{"ip": "1.2.3.4", "label": "mars"}]}, "ip_addresses"),
    ({"ip_addresses": ["1.2.3.4", {"ip": "1.2.3.4", "label": "ct"}]}, "ip_addresses"),
    ({"ip_addresses": ["2001:db8::1", "2001:DB8:0::1"]}, "ip_addresses"),
    ({"status": "dead"}, "status"),
    ({"purpose": "gaming"}, "purpose"),
    ({"country": "China"}, "country"),
    ({"currency": "US$"}, "currency"),
    ({"purchase_date": "2026-02-30"}, "purchase_date"),
    ({"expire_date": "tomorrow"}, "expire_date"),
    ({"purchase_date": "2026-02-02", "expire_date": "2026-02-01"}, "expire_date"),
    ({"ssh_port": 0}, "ssh_port"),
    ({"node_exporter_port": 70000}, "node_exporter_port"),
    ({"cpu_cores": -1}, "cpu_cores"),
    ({"ram_mb": -1}, "ram_mb"),
    ({"disk_gb": -5}, "disk_gb"),
    ({"bandwidth_tb": "-1"}, "bandwidth_tb"),
    ({"hostname": "  "}, "hostname"),
    ({"hostname": "two words"}, "hostname"),
    ({"tags": ["a,b"]}, "tags"),
    ({"colour": "red"}, "colour"),
]


def test_invalid_create_names_field_and_writes_nothing(run, count, db_models, audit_rows, each):
    def check(data, field):
        with pytest.raises(InvalidInput) as exc:
            run(vps.create, {"hostname": "h"} | data)
        assert exc.value.field is not None and exc.value.field.split(".")[0] == field
        assert str(exc.value).startswith(field)

    each(INVALID_CREATE, check)
    assert count(db_models.Vps) == 0
    assert audit_rows() == []


def test_duplicate_ip_refused_on_update(run):
    v = run(vps.create, {"hostname": "h", "ip_addresses": ["1.1.1.1"]})
    with pytest.raises(InvalidInput) as exc:
        run(vps.update, v.id, {"ip_addresses": ["1.1.1.1", "1.1.1.1"]})
    assert exc.value.field == "ip_addresses"


def test_audit_once_per_successful_mutation(run, audit_rows, actor):
    v = run(vps.create, {"hostname": "h", "country": "HK"})
    run(vps.update, v.id, {"alias": "a"})
    run(vps.retire, v.id)
    run(vps.retire, v.id)
    run(vps.delete, v.id)
    rows = audit_rows(resource="vps")
    assert [r.action for r in rows] == ["create", "update", "retire", "delete"]
    assert {r.resource_id for r in rows} == {str(v.id)}
    assert {r.user_email for r in rows} == {actor.email}
    assert rows[0].details == {"hostname": "h", "country": "HK"}
    assert rows[1].details["changes"] == {"alias": {"from": "", "to": "a"}}


def test_readonly_actor_refused(run, readonly, count, db_models, audit_rows):
    v = run(vps.create, {"hostname": "h"})
    assert run(vps.get, v.id, as_actor=readonly).hostname == "h"
    assert run(vps.list_vps, as_actor=readonly).total == 1
    for fn, args in (
        (vps.create, ({"hostname": "x"},)),
        (vps.update, (v.id, {"notes": "x"})),
        (vps.retire, (v.id,)),
        (vps.delete, (v.id,)),
    ):
        with pytest.raises(PermissionDenied):
            run(fn, *args, as_actor=readonly)
    assert count(db_models.Vps) == 1
    assert run(vps.get, v.id).status == "provisioning"
    assert len(audit_rows()) == 1


def test_schema_objects_accepted_directly(run):
    v = run(vps.create, VpsCreate(hostname="h", cost_monthly="1.50"))
    assert run(vps.update, v.id, VpsUpdate(cost_monthly=None)).cost_monthly is None


def test_absurd_page_is_invalid_input_not_a_database_error(run):
    run(vps.create, {"hostname": "h"})
    with pytest.raises(InvalidInput) as exc:
        run(vps.list_vps, {"page": 10**20})
    assert exc.value.field == "page"
    page = run(vps.list_vps, {"page": 1_000_000, "per_page": 100})
    assert page.data == [] and page.total == 1
