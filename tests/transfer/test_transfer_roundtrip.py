"""Export -> import -> export is the identity, in CSV, JSON and YAML, on SQLite and PostgreSQL:
re-importing into the same database changes nothing, and restoring into an emptied one gives
back the very same file. Matching by id, dry runs, one audit row with counts."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from sigma.services import providers, transfer, vps

TODAY = date.today()
FORMATS = ["csv", "json", "yaml"]


@pytest.fixture
def fleet(run):
    dmit = run(
        providers.create,
        {
            "name": "DMIT",
            "country": "US",
            "website": "https://dmit.io",
            "api_supported": True,
            "rating": 4,
            "notes": 'line 1\nline 2, "quoted"',
        },
    )
    run(providers.create, {"name": "Ünïcode Hosting", "country": "DE"})
    run(
        vps.create,
        dict(
            hostname="hk-exit-01",
            alias='HK, exit; "1"',
            provider_id=dmit.id,
            ip_addresses=[
                {"ip": "103.1.2.3", "label": "china-telecom"},
                {"ip": "2001:db8::1", "label": "overseas"},
            ],
            ssh_port=2222,
            country="HK",
            city="Hong Kong",
            dc_name="MEGA-i",
            cpu_cores=2,
            ram_mb=2048,
            disk_gb=40,
            bandwidth_tb="2.50",
            cost_monthly="15.99",
            currency="USD",
            status="active",
            purchase_date=TODAY - timedelta(days=20),
            expire_date=TODAY + timedelta(days=10),
            purpose="vpn-exit",
            vpn_protocol="wireguard",
            tags=["cn-optimized", "p:airport", "odd;tag"],
            monitoring_enabled=True,
            node_exporter_port=9101,
            extra={"system_info": {"load": 0.25, "cores": 2, "kernel": "6.1"}, "n": None},
            notes="first line\nsecond line with ünïcode ✓",
        ),
    )
    run(vps.create, dict(hostname="bare", country="", status="provisioning"))  # nulls and defaults
    run(
        vps.create,
        dict(
            hostname="jp-old",
            provider_id=dmit.id,
            country="JP",
            status="retired",
            cost_monthly="0.10",
            currency="JPY",
            monitoring_enabled=False,
            ip_addresses=["192.0.2.1"],
        ),
    )
    return dmit


def _wipe(sessions):
    from sqlalchemy import delete

    from sigma.db.models.core import Provider, Vps

    with sessions() as s, s.begin():
        s.execute(delete(Vps))
        s.execute(delete(Provider))


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_is_identical(run, sessions, fleet, fmt):
    p1 = run(transfer.export_providers, fmt)
    v1 = run(transfer.export_vps, fmt)
    # same database: everything matches by id and nothing changes
    rp = run(transfer.import_providers, p1, fmt)
    rv = run(transfer.import_vps, v1, fmt)
    assert (rp.total, rp.created, rp.updated, rp.unchanged) == (2, 0, 0, 2)
    assert (rv.total, rv.created, rv.updated, rv.unchanged) == (3, 0, 0, 3)
    assert run(transfer.export_vps, fmt) == v1
    # an emptied database: providers then VPS come back exactly as they were
    _wipe(sessions)
    assert run(transfer.import_providers, p1, fmt).created == 2
    assert run(transfer.import_vps, v1, fmt).created == 3
    assert run(transfer.export_providers, fmt) == p1
    assert run(transfer.export_vps, fmt) == v1


def test_export_shapes(run, fleet):
    data = json.loads(run(transfer.export_vps, "json"))
    hk = next(v for v in data if v["hostname"] == "hk-exit-01")
    # decimals as exact strings (and read back as such), provider by id and by name
    assert hk["cost_monthly"] == "15.99" and hk["bandwidth_tb"] == "2.50"
    assert hk["provider_id"] == str(fleet.id) and hk["provider_name"] == "DMIT"
    assert "online" not in hk  # computed, not data
    csv_text = run(transfer.export_vps, "csv")
    header, first = csv_text.splitlines()[:2]
    assert header == ",".join(transfer.VPS_CSV_COLUMNS)
    # the original's columns in their order, after the id; sigma's additions after them
    assert header.startswith(
        "id,hostname,alias,provider_name,ip_addresses,ssh_port,country,city,dc_name,cpu_cores,"
        "ram_mb,disk_gb,bandwidth_tb,cost_monthly,currency,status,purchase_date,expire_date,"
        "purpose,vpn_protocol,tags,monitoring_enabled,node_exporter_port,extra,notes,"
    )
    assert header.endswith(
        ",notes,billing_cycle,auto_renew,traffic_quota_gb,traffic_direction,traffic_reset_day"
    )
    assert (
        run(transfer.export_providers, "csv").splitlines()[0]
        == "id,name,country,website,panel_url,api_supported,rating,notes"
    )
    assert (
        ',"[""cn-optimized"",""p:airport"",""odd;tag""]",true,' in csv_text
    )  # a tag with ';' -> JSON list
    assert run(transfer.export_vps, "yaml").startswith("- id: ")


def test_matching_by_id_updates_only_changes_and_audits_once(run, fleet, audit_rows):
    data = json.loads(run(transfer.export_vps, "json"))
    data[0]["notes"] = "changed"
    data[1]["cost_monthly"] = 7.5  # a JSON number is fine too
    data.append({"hostname": "new-one", "provider_name": "dmit", "ip_addresses": ["198.51.100.9"]})
    data.append({"id": "0b7a1f9e-2c4d-4e8f-9a1b-2c3d4e5f6a7b", "hostname": "with-id"})
    before = len(audit_rows(resource="vps"))
    dry = run(transfer.import_vps, json.dumps(data), "json", True)
    assert (dry.dry_run, dry.created, dry.updated, dry.unchanged) == (True, 2, 2, 1)
    assert len(audit_rows(resource="vps")) == before  # a dry run writes nothing
    assert len(run(vps.all_vps)) == 3
    report = run(transfer.import_vps, json.dumps(data), "json")
    assert (report.created, report.updated, report.unchanged, report.imported) == (2, 2, 1, 4)
    rows = audit_rows(resource="vps")
    assert len(rows) == before + 1
    assert rows[-1].action == "import" and rows[-1].resource_id is None
    assert rows[-1].details == {
        "format": "json",
        "total": 5,
        "created": 2,
        "updated": 2,
        "unchanged": 1,
        "imported": 4,
    }
    by_name = {v.hostname: v for v in run(vps.all_vps)}
    assert by_name["new-one"].provider_id == fleet.id
    assert str(by_name["with-id"].id) == "0b7a1f9e-2c4d-4e8f-9a1b-2c3d4e5f6a7b"
    assert [d["hostname"] for d in data[:3]] == ["hk-exit-01", "bare", "jp-old"]  # export order
    assert str(by_name["bare"].cost_monthly) == "7.50" and by_name["hk-exit-01"].notes == "changed"
    # an unchanged row keeps its updated_at; a changed one gets a new one
    after = {d["hostname"]: d for d in json.loads(run(transfer.export_vps, "json"))}
    assert after["jp-old"]["updated_at"] == data[2]["updated_at"]
    assert after["bare"]["updated_at"] != data[1]["updated_at"]


def test_partial_csv_updates_only_its_columns(run, fleet):
    hk = next(v for v in run(vps.all_vps) if v.hostname == "hk-exit-01")
    report = run(transfer.import_vps, f"id,status,tags\n{hk.id},retiring,a;b\n", "csv")
    assert report.updated == 1
    after = run(vps.get, hk.id)
    assert after.status == "retiring" and after.tags == ["a", "b"]
    assert after.cost_monthly == hk.cost_monthly and after.ip_addresses == hk.ip_addresses


def test_providers_match_by_name_without_id(run, fleet):
    report = run(transfer.import_providers, "name,rating\ndmit,5\nNew One,\n", "csv")
    assert (report.created, report.updated) == (1, 1)
    assert run(providers.get, "DMIT").rating == 5
    assert run(providers.get, "DMIT").notes == fleet.notes  # columns not in the file are kept


def test_original_csv_without_ids_imports(run, fleet):
    """The original's CSV: no id column, floats for decimals, contract column order."""
    text = (
        "hostname,alias,provider_name,ip_addresses,ssh_port,country,city,dc_name,cpu_cores,ram_mb,disk_gb,"
        "bandwidth_tb,cost_monthly,currency,status,purchase_date,expire_date,purpose,vpn_protocol,tags,"
        "monitoring_enabled,node_exporter_port,extra,notes\n"
        'sg-1,,DMIT,"[{""ip"":""1.2.3.4"",""label"":""""}]",22,SG,,,1,1024,20,2.0,4.5,USD,active,,2026-03-01,'
        "vpn-relay,xray,a;b,true,9100,{},\n"
    )
    report = run(transfer.import_vps, text, "csv")
    assert report.created == 1
    sg = next(v for v in run(vps.all_vps) if v.hostname == "sg-1")
    assert (
        str(sg.cost_monthly) == "4.50" and str(sg.bandwidth_tb) == "2.00" and sg.tags == ["a", "b"]
    )


def test_progress_callback(run):
    lines = ["hostname,status"] + [f"h-{i},active" for i in range(450)]
    calls = []
    report = run(transfer.import_vps, "\n".join(lines), "csv", False, lambda *a: calls.append(a))
    assert report.created == 450
    assert ("validating", 450, 450) in calls and calls[-1] == ("writing", 450, 450)
