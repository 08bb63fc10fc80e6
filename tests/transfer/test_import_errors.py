"""Import is all or nothing: every bad record is reported (line, field, reason), nothing is
written, the CLI exits 2 and the API answers 422; plus the routes and commands end to end."""

from __future__ import annotations

import json

import pytest

from sigma.errors import InvalidInput
from sigma.services import providers, transfer, vps


@pytest.fixture
def dmit(run):
    return run(providers.create, {"name": "DMIT"})


def _errors(run, text, fmt, kind="vps"):
    fn = transfer.import_vps if kind == "vps" else transfer.import_providers
    with pytest.raises(InvalidInput) as err:
        run(fn, text, fmt)
    assert "nothing was imported" in err.value.message
    return [(e["line"], e["field"], e["reason"]) for e in err.value.details]


def test_csv_all_or_nothing_with_a_report(run, dmit, audit_rows):
    text = (
        "hostname,provider_name,ip_addresses,cost_monthly,status,expire_date,purchase_date,tags,notes\n"
        "good-1,DMIT,1.2.3.4=ct,9.99,active,,,a,\n"
        "bad-ip,DMIT,1.2.3.999,1,active,,,,\n"
        "bad-provider,Nope Hosting,,1,active,,,,\n"
        'bad-cost,DMIT,,abc,active,,,,"two\nlines"\n'
        "bad-status,,,1,flying,,,,\n"
        "bad-dates,,,1,active,2026-01-01,2026-02-01,,\n"
        ",,,,,,,,\n"
        "good-2,dmit,,,active,,,,\n"
    )
    errors = _errors(run, text, "csv")
    assert errors[0] == (3, "ip_addresses.0.ip", "invalid IP address '1.2.3.999'")
    assert (
        errors[1][0:2] == (4, "provider_name") and "unknown provider 'Nope Hosting'" in errors[1][2]
    )
    assert errors[2][0:2] == (5, "cost_monthly") and "'abc' is not a number" in errors[2][2]
    assert errors[3][0:2] == (7, "status") and "flying" in errors[3][2]
    assert errors[4][0:2] == (8, "expire_date") and "before purchase_date" in errors[4][2]
    assert len(errors) == 5  # the blank row is skipped, the good rows have no error
    assert run(vps.all_vps) == [] and audit_rows(action="import") == []


def test_json_and_yaml_errors_name_lines(run, dmit):
    records = [
        {"hostname": "ok"},
        {"hostname": "x", "ssh_port": 70000},
        {"hostname": "y", "colour": "red"},
    ]
    text = json.dumps(records, indent=2)
    errors = _errors(run, text, "json")
    assert errors == [
        (5, "ssh_port", "Input should be less than or equal to 65535"),
        (9, "colour", "unknown field"),
    ]
    assert (
        _errors(run, '[{"hostname": "a"},\n {"hostname": "b",]', "json")[0][0] == 2
    )  # malformed JSON
    assert _errors(run, '{"hostname": "a"}', "json")[0][2].startswith("expected a JSON array")
    yaml_text = (
        "- hostname: ok\n- hostname: b\n  ip_addresses: [999.1.1.1]\n"
        "- hostname: c\n  id: not-a-uuid\n"
    )
    assert _errors(run, yaml_text, "yaml") == [
        (2, "ip_addresses.0.ip", "invalid IP address '999.1.1.1'"),
        (4, "id", "'not-a-uuid' is not a UUID"),
    ]
    assert _errors(run, "- hostname: a\n  tags: [unclosed\n", "yaml")[0][2].startswith(
        "invalid YAML"
    )


def test_csv_structure_errors(run, dmit):
    assert _errors(run, "hostname,colour\nx,red\n", "csv") == [
        (
            1,
            "colour",
            "unknown column 'colour'; expected some of: " + ", ".join(transfer.VPS_CSV_COLUMNS),
        )
    ]
    assert (
        _errors(run, "hostname,hostname\nx,y\n", "csv")[0][2]
        == "column 'hostname' appears twice in the header"
    )
    assert _errors(run, "hostname,country\nx,HK,extra\n", "csv") == [
        (2, None, "row has 3 cells, the header has 2")
    ]
    vid = "0b7a1f9e-2c4d-4e8f-9a1b-2c3d4e5f6a7b"
    assert _errors(run, f"id,hostname\n{vid},a\n{vid},b\n", "csv") == [
        (3, "id", f"id {vid} appears twice (also at line 2)")
    ]
    assert _errors(run, "hostname,monitoring_enabled\nx,maybe\n", "csv") == [
        (2, "monitoring_enabled", "'maybe' is not true or false")
    ]
    assert _errors(run, "hostname,extra\nx,[1]\n", "csv") == [(2, "extra", "must be a JSON object")]


def test_provider_import_errors(run, dmit):
    errors = _errors(run, "name,rating\nA,9\nB,\nb,\n,3\n", "csv", "providers")
    assert errors[0][0:2] == (2, "rating")
    assert errors[1] == (4, "name", "this provider appears twice (also at line 3)")
    assert errors[2] == (5, "name", "name is required")
    assert run(providers.all_providers)[0].name == "DMIT" and len(run(providers.all_providers)) == 1


def test_bad_format(run):
    with pytest.raises(InvalidInput) as err:
        run(transfer.import_vps, "[]", "xml")
    assert err.value.field == "format"


# ------------------------------------------------------------------ HTTP routes


def test_routes(api, run, dmit):
    h = api.headers()
    run(vps.create, {"hostname": "hk-1", "provider_id": dmit.id, "cost_monthly": "1.10"})
    r = api.client.get("/api/vps/export", headers=h, params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="vps.csv"'
    csv_text = r.text
    r = api.client.get("/api/vps/export", headers=h)
    assert (
        r.headers["content-type"] == "application/json"
        and json.loads(r.text)[0]["cost_monthly"] == "1.10"
    )
    assert api.client.get("/api/vps/export", headers=h, params={"format": "yaml"}).text.startswith(
        "- id:"
    )
    assert api.client.get("/api/vps/export", headers=h, params={"format": "xml"}).status_code == 422
    # /export is not mistaken for a VPS called "export"
    assert api.client.get("/api/vps/hk-1", headers=h).status_code == 200
    r = api.client.post("/api/vps/import", headers=h, json={"format": "csv", "data": csv_text})
    assert r.status_code == 200, r.text
    assert r.json() | {"errors": []} == {
        "kind": "vps",
        "format": "csv",
        "dry_run": False,
        "total": 1,
        "created": 0,
        "updated": 0,
        "unchanged": 1,
        "imported": 0,
        "errors": [],
    }
    r = api.client.post(
        "/api/vps/import",
        headers=h,
        params={"dry_run": "true"},
        json={"format": "json", "data": '[{"hostname": "n1"}]'},
    )
    assert r.json()["created"] == 1 and r.json()["dry_run"] is True
    r = api.client.post(
        "/api/vps/import",
        headers=h,
        json={"format": "json", "data": '[{"hostname": "n1", "status": "x"}]'},
    )
    assert r.status_code == 422
    body = r.json()
    assert (
        body["code"] == "invalid_input"
        and body["details"][0]["line"] == 1
        and body["details"][0]["field"] == "status"
    )
    assert len(run(vps.all_vps)) == 1
    ro = api.user("readonly")
    assert (
        api.client.post(
            "/api/vps/import", headers=api.headers(ro), json={"format": "json", "data": "[]"}
        ).status_code
        == 403
    )
    assert api.client.get("/api/providers/export", headers=api.headers(ro)).status_code == 200
    r = api.client.post(
        "/api/providers/import", headers=h, json={"format": "yaml", "data": "- name: Vultr\n"}
    )
    assert r.json()["created"] == 1
    assert api.client.get("/api/providers/Vultr", headers=h).status_code == 200


# ------------------------------------------------------------------ commands


def test_cli_round_trip_and_report(cli, run, dmit, tmp_path):
    run(
        vps.create,
        {"hostname": "hk-1", "provider_id": dmit.id, "cost_monthly": "1.10", "notes": "é\nx"},
    )
    for fmt in ("csv", "json", "yaml"):
        out = tmp_path / f"fleet.{fmt}"
        r = cli("export", "vps", "-o", out)
        assert r.code == 0, r.err
        r = cli("import", "vps", out)
        assert r.code == 0, r.err
        assert "Imported 0 VPS (0 created, 0 updated, 1 unchanged)" in r.err
        assert cli("export", "vps", "--format", fmt).out == out.read_text(encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("hostname,provider_name\nok,DMIT\nx,Ghost Hosting\n")
    r = cli("import", "vps", bad)
    assert r.code == 2
    assert "line 3 (record 2): provider_name: unknown provider 'Ghost Hosting'" in r.err
    assert "nothing was imported" in r.err
    new = tmp_path / "new.json"
    new.write_text('[{"hostname": "n-1"}, {"hostname": "n-2"}]')
    r = cli("import", "vps", new, "--dry-run", "--json")
    assert r.code == 0 and r.json()["created"] == 2 and "Dry run, nothing written" in r.err
    assert len(run(vps.all_vps)) == 1
    assert cli("import", "vps", new).code == 0
    assert len(run(vps.all_vps)) == 3
    # the original CLI's spellings
    assert cli("vps", "export", "--format", "csv").out.startswith("id,hostname")
    r = cli("providers", "export", "-f", "json")
    assert json.loads(r.out)[0]["name"] == "DMIT"
    assert cli("import", "vps", tmp_path / "missing.csv").code == 2
