"""`sigma vps ...` end to end in-process, on SQLite and PostgreSQL: add/list/show/edit/retire/rm,
every output format, filters, exit codes, the original CLI's hidden spellings, and bad input for
every field (exit code, one stderr line naming the field, nothing written)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest
import yaml

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
TODAY = date.today()


def ok(r):
    assert r.code == 0, f"exit {r.code}: {r.err}"
    return r


def add(cli, *args: str) -> str:
    return ok(cli("vps", "add", *args, "-q")).out.strip()


def show(cli, ref: str) -> dict:
    return ok(cli("vps", "show", ref, "--format", "json")).json()


@pytest.fixture
def provider(cli):
    return ok(cli("provider", "add", "DMIT", "-q")).out.strip()


def test_add_every_option(cli, provider, rows):
    r = cli(
        "vps",
        "add",
        "hk-exit-01",
        "--provider",
        "dmit",
        "--alias",
        "HK one",
        "--ip",
        "103.1.2.3=china-telecom",
        "--ip",
        "2001:DB8::1=OS",
        "--ip",
        "10.0.0.1:china-mobile",
        "--ip",
        "2001:db8::ac",
        "--ssh-port",
        "2222",
        "--country",
        "hk",
        "--city",
        "Hong Kong",
        "--dc",
        "HKIX",
        "--cpu",
        "2",
        "--ram-mb",
        "2048",
        "--disk-gb",
        "40",
        "--bandwidth-tb",
        "2.5",
        "--cost",
        "15.99",
        "--currency",
        "hkd",
        "--status",
        "active",
        "--purpose",
        "vpn-exit",
        "--vpn-protocol",
        "wireguard",
        "--tag",
        "cn",
        "--tag",
        " fast ",
        "--tag",
        "cn",
        "--purchase-date",
        "2026-02-01",
        "--expire-date",
        "2026-03-01",
        "--no-monitoring",
        "--node-exporter-port",
        "9101",
        "--extra",
        "rack=7",
        "--extra",
        "owner=ops",
        "--extra",
        'meta={"a": [1]}',
        "--notes",
        "first",
    )
    ok(r)
    assert r.out == "" and r.err.startswith("Created VPS hk-exit-01 (")
    v = show(cli, "hk-exit-01")
    assert list(v)[: len(CONTRACT_FIELDS)] == CONTRACT_FIELDS
    assert v["provider_id"] == provider
    assert v["ip_addresses"] == [
        {"ip": "103.1.2.3", "label": "china-telecom"},
        {"ip": "2001:db8::1", "label": "overseas"},
        {"ip": "10.0.0.1", "label": "china-mobile"},
        {"ip": "2001:db8::ac", "label": ""},
    ]
    expected = {
        "hostname": "hk-exit-01",
        "alias": "HK one",
        "ssh_port": 2222,
        "country": "HK",
        "city": "Hong Kong",
        "dc_name": "HKIX",
        "cpu_cores": 2,
        "ram_mb": 2048,
        "disk_gb": 40,
        "bandwidth_tb": "2.50",
        "cost_monthly": "15.99",
        "currency": "HKD",
        "status": "active",
        "purchase_date": "2026-02-01",
        "expire_date": "2026-03-01",
        "purpose": "vpn-exit",
        "vpn_protocol": "wireguard",
        "tags": ["cn", "fast"],
        "monitoring_enabled": False,
        "node_exporter_port": 9101,
        "extra": {"rack": 7, "owner": "ops", "meta": {"a": [1]}},
        "notes": "first",
    }
    assert {k: v[k] for k in expected} == expected
    assert rows("vps") == 1


def test_add_minimal_defaults(cli):
    vid = add(cli, "bare")
    v = show(cli, vid)
    assert (v["ssh_port"], v["currency"], v["status"], v["monitoring_enabled"]) == (
        22,
        "USD",
        "provisioning",
        True,
    )
    assert v["provider_id"] is None and v["ip_addresses"] == [] and v["node_exporter_port"] == 9100


def test_original_spellings(cli, provider, rows):
    r = cli(
        "vps",
        "create",
        "--hostname",
        "legacy-1",
        "--provider-id",
        provider,
        "--ip",
        "1.2.3.4:china-telecom",
        "--ip",
        "5.6.7.8",
        "--cost-monthly",
        "3.50",
        "--dc-name",
        "AMS",
        "--cpu-cores",
        "1",
        "--monitoring-enabled",
        "false",
    )
    ok(r)
    vid = ok(cli("vps", "list", "-q")).out.strip()
    v = ok(cli("vps", "get", vid, "--format", "json")).json()
    assert v["ip_addresses"] == [
        {"ip": "1.2.3.4", "label": "china-telecom"},
        {"ip": "5.6.7.8", "label": ""},
    ]
    assert (v["cost_monthly"], v["dc_name"], v["cpu_cores"], v["monitoring_enabled"]) == (
        "3.50",
        "AMS",
        1,
        False,
    )
    # `update --ip` replaces the whole list, as in the original
    ok(cli("vps", "update", vid, "--ip", "9.9.9.9:ct", "--monitoring-enabled", "true"))
    v = show(cli, vid)
    assert (
        v["ip_addresses"] == [{"ip": "9.9.9.9", "label": "china-telecom"}]
        and v["monitoring_enabled"] is True
    )
    ok(cli("vps", "list", "--provider-id", provider, "--expiring", "30"))
    ok(cli("vps", "delete", vid))
    assert ok(cli("vps", "list", "-q")).out.split() == []  # in the trash (issue 16)
    assert ok(cli("vps", "trash", "-q")).out.split() == [vid]
    helptext = cli("vps", "--help").out
    for hidden in ("create", "get", "update", "delete"):
        assert not any(line.split()[:1] == [hidden] for line in helptext.splitlines())


# ------------------------------------------------------------------ list, formats, filters


@pytest.fixture
def fleet(cli, provider):
    ok(cli("provider", "add", "Other"))
    return {
        "a": add(
            cli,
            "hk-a",
            "--provider",
            "DMIT",
            "--status",
            "active",
            "--country",
            "HK",
            "--tag",
            "cn",
            "--tag",
            "fast",
            "--ip",
            "103.1.2.3=ct",
            "--cost",
            "15.99",
            "--purpose",
            "vpn-exit",
            "--expire-date",
            str(TODAY + timedelta(days=2)),
        ),
        "b": add(
            cli,
            "hk-b",
            "--provider",
            "DMIT",
            "--status",
            "active",
            "--country",
            "HK",
            "--tag",
            "cn",
            "--ip",
            "2001:db8::5",
            "--expire-date",
            str(TODAY + timedelta(days=40)),
        ),
        "c": add(
            cli,
            "jp-c",
            "--provider",
            "Other",
            "--alias",
            "tokyo",
            "--country",
            "JP",
            "--purpose",
            "vpn-relay",
            "--expire-date",
            str(TODAY - timedelta(days=1)),
        ),
        "d": add(cli, "de-d", "--status", "retired", "--country", "DE"),
    }


def test_list_table(cli, fleet):
    r = ok(cli("vps", "list"))
    header = r.out.splitlines()[0].split()
    assert header[:4] == ["ID", "Hostname", "IPs", "Country"]
    assert {"Provider", "Status", "Purpose", "Cost", "Expires", "Tags"} <= set(header)
    assert "103.1.2.3 CT" in r.out  # IPs with their labels
    assert "15.99 USD" in r.out  # cost with currency
    assert "(2d)" in r.out and "(overdue 1d)" in r.out  # days until expiry
    assert "DMIT" in r.out and "Other" in r.out
    assert "Page 1 of 1 (4 total)" in r.err
    assert "\x1b[" not in r.out
    # ordering: active (by expiry) < provisioning < retired
    order = [line.split()[1] for line in r.out.splitlines()[1:] if line.strip()]
    assert [h for h in order if h in {"hk-a", "hk-b", "jp-c", "de-d"}] == [
        "hk-a",
        "hk-b",
        "jp-c",
        "de-d",
    ]


def test_list_json_yaml_csv_quiet(cli, fleet):
    js = ok(cli("vps", "list", "--format", "json")).json()
    assert isinstance(js, list) and [v["hostname"] for v in js] == ["hk-a", "hk-b", "jp-c", "de-d"]
    assert all(list(v)[: len(CONTRACT_FIELDS)] == CONTRACT_FIELDS for v in js)
    assert "_provider" not in js[0]
    assert js[0]["cost_monthly"] == "15.99"

    assert yaml.safe_load(ok(cli("vps", "list", "--format", "yaml")).out) == js

    table = list(csv.DictReader(io.StringIO(ok(cli("vps", "list", "--format", "csv")).out)))
    assert [r["hostname"] for r in table] == ["hk-a", "hk-b", "jp-c", "de-d"]
    assert table[0]["tags"] == "cn;fast"
    assert json.loads(table[0]["ip_addresses"]) == [{"ip": "103.1.2.3", "label": "china-telecom"}]
    assert table[0]["monitoring_enabled"] == "true" and table[3]["cost_monthly"] == ""

    q = ok(cli("vps", "list", "-q")).out.split()
    assert q == [fleet["a"], fleet["b"], fleet["c"], fleet["d"]]


def test_list_empty_formats(cli):
    assert ok(cli("vps", "list", "--format", "json")).out.strip() == "[]"
    assert ok(cli("vps", "list", "--format", "csv")).out.splitlines()[0].split(",")[:3] == [
        "id",
        "hostname",
        "alias",
    ]
    assert ok(cli("vps", "list", "-q")).out == ""


LIST_FILTERS = [
    (["--status", "active"], ["a", "b"]),
    (["--country", "hk"], ["a", "b"]),
    (["--provider", "other"], ["c"]),
    (["--purpose", "vpn-relay"], ["c"]),
    (["--tag", "cn"], ["a", "b"]),
    (["--tag", "cn", "--tag", "fast"], ["a"]),
    (["--expiring-within", "7"], ["a", "c"]),
    (["--search", "HK-"], ["a", "b"]),
    (["-s", "tokyo"], ["c"]),
    (["--ip", "2001:DB8:0::5"], ["b"]),
    (["--ip", "103.1.2.3"], ["a"]),
    (["--status", "active", "--tag", "cn", "--country", "HK", "--expiring-within", "7"], ["a"]),
]


def test_list_filters(cli, fleet, each):
    def check(args, expected):
        got = ok(cli("vps", "list", *args, "-q")).out.split()
        assert got == [fleet[k] for k in expected]

    each(LIST_FILTERS, check)


def test_list_pagination(cli, fleet):
    r = ok(cli("vps", "list", "--per-page", "3", "--page", "2", "-q"))
    assert r.out.split() == [fleet["d"]]
    r = ok(cli("vps", "list", "--per-page", "3"))
    assert "Page 1 of 2 (4 total)" in r.err
    r = ok(cli("vps", "list", "--per-page", "1", "--all", "-q"))
    assert len(r.out.split()) == 4
    # json, yaml, csv and -q give every matching VPS unless a page is asked for
    assert len(ok(cli("vps", "list", "--format", "json")).json()) == 4
    assert len(ok(cli("vps", "list", "-q")).out.split()) == 4
    assert len(ok(cli("vps", "list", "--format", "csv")).out.splitlines()) == 5  # header + 4
    assert len(ok(cli("vps", "list", "--per-page", "2", "--format", "json")).json()) == 2
    # the page size is 1-100, as the help says
    for bad in ("0", "500"):
        r = cli("vps", "list", "--per-page", bad)
        assert r.code == 2 and "1<=x<=100" in r.err


LIST_BAD_FILTERS = [
    (["--status", "bogus"], 2, "status"),
    (["--country", "HKG"], 2, "country"),
    (["--purpose", "x"], 2, "purpose"),
    (["--ip", "1.2.3"], 2, "ip"),
    (["--provider", "ghost"], 3, "ghost"),
    (["--format", "xml"], 2, "format"),
    (["--expiring-within", "-1"], 2, "expiring_within_days"),
    (["--page", "99999999999999999999"], 2, "page"),
]


def test_list_bad_filters(cli, fleet, each):
    def check(args, code, word):
        r = cli("vps", "list", *args)
        assert r.code == code and r.err.count("\n") == 1 and word in r.err, r

    each(LIST_BAD_FILTERS, check)


# ------------------------------------------------------------------ show


def test_show_formats(cli, fleet, each):
    def check(fmt):
        r = ok(cli("vps", "show", "hk-a", "--format", fmt))
        if fmt == "json":
            assert r.json()["id"] == fleet["a"]
        elif fmt == "yaml":
            assert yaml.safe_load(r.out)["tags"] == ["cn", "fast"]
        elif fmt == "csv":
            (row,) = list(csv.DictReader(io.StringIO(r.out)))
            assert row["hostname"] == "hk-a" and row["cost_monthly"] == "15.99"
        else:
            assert fleet["a"] in r.out and "103.1.2.3 CT" in r.out and "hostname" in r.out

    each(["table", "json", "yaml", "csv"], check)


def test_show_references(cli, fleet):
    assert ok(cli("vps", "show", fleet["b"][:5], "-q")).out.strip() == fleet["b"]
    r = cli("vps", "show", "nope")
    assert r.code == 3 and r.err.count("\n") == 1
    add(cli, "hk-a")  # a second live hk-a
    r = cli("vps", "show", "hk-a")
    assert r.code == 2 and "ambiguous" in r.err and fleet["a"] in r.err


def test_retired_duplicate_prefers_live(cli, fleet):
    add(cli, "de-d")
    live = show(cli, "de-d")
    assert live["status"] == "provisioning" and live["id"] != fleet["d"]


# ------------------------------------------------------------------ edit


def test_edit_fields_and_clearing(cli, fleet, provider):
    r = ok(
        cli("vps", "edit", "hk-a", "--notes", "hello", "--cost", "16.50", "--status", "suspended")
    )
    assert r.err.startswith("Updated VPS hk-a")
    v = show(cli, "hk-a")
    assert (v["notes"], v["cost_monthly"], v["status"]) == ("hello", "16.50", "suspended")
    assert v["tags"] == ["cn", "fast"]  # kept
    ok(
        cli(
            "vps",
            "edit",
            "hk-a",
            "--cost",
            "",
            "--expire-date",
            "",
            "--provider",
            "",
            "--purpose",
            "",
        )
    )
    v = show(cli, "hk-a")
    assert (v["cost_monthly"], v["expire_date"], v["provider_id"], v["purpose"]) == (
        None,
        None,
        None,
        "",
    )
    r = ok(cli("vps", "edit", "hk-a", "--provider", "DMIT", "--format", "json"))
    assert r.json()["provider_id"] == provider


def test_edit_add_remove_ip_and_tags_and_extra(cli, fleet):
    ok(
        cli(
            "vps",
            "edit",
            "hk-a",
            "--add-ip",
            "2001:db8::9=overseas",
            "--add-ip",
            "103.1.2.3=cu",
            "--add-tag",
            "new",
            "--remove-tag",
            "fast",
            "--extra",
            "k=1",
            "--extra",
            "s=text",
        )
    )
    v = show(cli, "hk-a")
    assert {e["ip"]: e["label"] for e in v["ip_addresses"]} == {
        "103.1.2.3": "china-unicom",
        "2001:db8::9": "overseas",
    }
    assert v["tags"] == ["cn", "new"]
    assert v["extra"] == {"k": 1, "s": "text"}
    ok(cli("vps", "edit", "hk-a", "--remove-ip", "2001:DB8:0::9", "--extra", "k="))
    v = show(cli, "hk-a")
    assert [e["ip"] for e in v["ip_addresses"]] == ["103.1.2.3"]
    assert v["extra"] == {"s": "text"}
    ok(cli("vps", "edit", "hk-a", "--add-ip", "2001:db8::ac"))
    assert [e["ip"] for e in show(cli, "hk-a")["ip_addresses"]] == ["103.1.2.3", "2001:db8::ac"]
    ok(cli("vps", "edit", "hk-a", "--remove-tag", " new "))  # as typed between quotes
    assert show(cli, "hk-a")["tags"] == ["cn"]


EDIT_BAD = [
    (["--remove-ip", "8.8.8.8"], "remove_ip"),
    (["--remove-ip", "nonsense"], "remove_ip"),
    (["--add-ip", "1.2.3.999"], "add_ip"),
    (["--add-ip", "1.2.3.4=mars"], "label"),
    (["--extra", "novalue"], "extra"),
    (["--add-tag", "a,b"], "tags"),
    (["--expire-date", "2020-01-01", "--purchase-date", "2020-02-01"], "expire_date"),
    (["--purchase-date", str(TODAY + timedelta(days=10))], "expire_date"),
    (["--hostname", ""], "hostname"),
]


def test_edit_bad_input_changes_nothing(cli, snapshot, each):
    add(
        cli,
        "hk-a",
        "--ip",
        "103.1.2.3",
        "--tag",
        "cn",
        "--expire-date",
        str(TODAY + timedelta(days=2)),
    )
    before = snapshot()

    def check(args, field):
        r = cli("vps", "edit", "hk-a", *args)
        assert r.code == 2, r
        assert r.err.count("\n") == 1 and field in r.err, r.err
        assert snapshot() == before

    each(EDIT_BAD, check)


def test_edit_nothing_or_unknown(cli, fleet):
    r = cli("vps", "edit", "hk-a")
    assert r.code == 2 and "nothing to change" in r.err
    assert cli("vps", "edit", "ghost", "--notes", "x").code == 3
    assert cli("vps", "edit", "hk-a", "--provider", "ghost").code == 3


# ------------------------------------------------------------------ retire, rm


def test_retire_many_idempotent(cli, fleet, rows):
    r = ok(cli("vps", "retire", "hk-a", fleet["b"][:6]))
    assert r.err.count("Retired VPS") == 2
    for ref in ("hk-a", fleet["b"]):
        v = show(cli, ref)
        assert (
            v["status"] == "retired"
            and v["monitoring_enabled"] is False
            and "retired_at" in v["extra"]
        )
    stamp = show(cli, "hk-a")["extra"]["retired_at"]
    audits = rows("audit_logs")
    ok(cli("vps", "retire", fleet["a"]))
    assert show(cli, fleet["a"])["extra"]["retired_at"] == stamp
    assert rows("audit_logs") == audits
    assert cli("vps", "retire", "ghost").code == 3


def test_retire_unknown_in_a_batch_retires_nothing(cli, fleet):
    r = cli("vps", "retire", "hk-a", "ghost")
    assert r.code == 3
    assert show(cli, "hk-a")["status"] == "active"


def test_rm(cli, fleet, rows):
    r = cli("vps", "rm", "hk-a")
    assert r.code == 2 and "--yes" in r.err and r.err.count("\n") == 1
    assert rows("vps") == 4
    r = cli("vps", "rm", "hk-a", input="y\n")  # piped stdin is not a terminal either
    assert r.code == 2 and rows("vps") == 4
    r = ok(cli("vps", "rm", "hk-a", "jp-c", "--yes"))
    # to the trash (issue 16): gone from the inventory, the rows kept until purged
    assert r.err.count("to the trash") == 2 and rows("vps") == 4
    assert len(ok(cli("vps", "list", "-q")).out.split()) == 2
    assert cli("vps", "rm", "hk-a", "-y").code == 3
    assert cli("vps", "rm", "hk-b", "ghost", "-y").code == 3
    assert len(ok(cli("vps", "list", "-q")).out.split()) == 2


# ------------------------------------------------------------------ bad input, every field

BAD_VPS = [
    (["--ip", "1.2.3.256"], "ip_addresses", 2),
    (["--ip", "2001:db8::g"], "ip_addresses", 2),
    (["--ip", "2001:db8:::1"], "ip_addresses", 2),
    (["--ip", "10.0.0.0/24"], "ip_addresses", 2),
    (["--ip", "2001:db8::/64"], "ip_addresses", 2),
    (["--ip", "1.2.3.4=mars"], "label", 2),
    (["--ip", "1.2.3.4", "--ip", "1.2.3.4=ct"], "ip_addresses", 2),
    (["--ip", "2001:db8::1", "--ip", "2001:DB8:0:0::1=os"], "ip_addresses", 2),
    (["--status", "dead"], "status", 2),
    (["--purpose", "gaming"], "purpose", 2),
    (["--country", "HKG"], "country", 2),
    (["--country", "H1"], "country", 2),
    (["--currency", "US"], "currency", 2),
    (["--currency", "US$"], "currency", 2),
    (["--purchase-date", "2026-02-30"], "purchase_date", 2),
    (["--expire-date", "tomorrow"], "expire_date", 2),
    (["--purchase-date", "2026-03-02", "--expire-date", "2026-03-01"], "expire_date", 2),
    (["--cost", "-1"], "cost_monthly", 2),
    (["--cost", "15.999"], "cost_monthly", 2),
    (["--cost", "abc"], "cost_monthly", 2),
    (["--cost", "100000000"], "cost_monthly", 2),
    (["--bandwidth-tb", "-0.5"], "bandwidth_tb", 2),
    (["--ssh-port", "0"], "ssh_port", 2),
    (["--ssh-port", "70000"], "ssh_port", 2),
    (["--node-exporter-port", "0"], "node_exporter_port", 2),
    (["--node-exporter-port", "70000"], "node_exporter_port", 2),
    (["--cpu", "-2"], "cpu_cores", 2),
    (["--ram-mb", "lots"], "ram_mb", 2),
    (["--disk-gb", "-1"], "disk_gb", 2),
    (["--tag", "has space"], "tags", 2),
    (["--extra", "=x"], "extra", 2),
    (["--monitoring-enabled", "maybe"], "monitoring_enabled", 2),
    (["--provider", "ghost"], "ghost", 3),
    (
        ["--provider", "00000000-0000-4000-8000-000000000000"],
        "00000000-0000-4000-8000-000000000000",
        3,
    ),
]


def test_bad_vps_input(cli, provider, snapshot, each):
    before = snapshot()

    def check(args, field, code):
        r = cli("vps", "add", "hk-x", *args)
        assert r.code == code, r
        assert r.err.count("\n") == 1 and r.err.startswith("error: "), r.err
        assert field in r.err, r.err
        assert r.out == ""
        assert snapshot() == before

    each(BAD_VPS, check)


def test_bad_hostname(cli, snapshot, each):
    def check(hostname):
        r = cli("vps", "add", hostname)
        assert r.code == 2 and r.err.count("\n") == 1 and "hostname" in r.err, r
        assert snapshot()["vps"] == 0

    each(["", "  ", "two words", "a" * 254, "tab\there"], check)


def test_bad_vps_edit(cli, snapshot, each):
    add(cli, "jp-c", "--ip", "9.9.9.9", "--cost", "1.00")
    before = snapshot()

    def check(args, field, code):
        r = cli("vps", "edit", "jp-c", *args)
        assert r.code == code, r
        assert r.err.count("\n") == 1 and field in r.err, r.err
        assert snapshot() == before

    each(BAD_VPS, check)


def test_unknown_option_is_usage_error(cli, snapshot):
    r = cli("vps", "add", "h", "--colour", "red")
    assert r.code == 2 and "--colour" in r.err
    assert snapshot()["vps"] == 0


@pytest.mark.local_only(
    "the database URL is the local backend's; remote: tests/api/test_cli_session.py"
)
def test_unreachable_database_hides_password(cli, monkeypatch):
    # about the local database URL: whichever backend the `cli` fixture set up, go local
    monkeypatch.delenv("SIGMA_SERVER", raising=False)
    monkeypatch.setenv("SIGMA_DATABASE_URL", "postgresql+psycopg://u:topsecret@127.0.0.1:1/db")
    r = cli("vps", "list")
    assert r.code == 5
    assert "topsecret" not in r.err + r.out
    assert r.err.count("\n") == 1 and "unreachable" in r.err


def test_no_colour_codes_on_a_pipe_even_without_no_color(cli, fleet, monkeypatch):
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for args in (["vps", "list"], ["vps", "show", "hk-a"], ["provider", "list"]):
        r = ok(cli(*args))
        assert "\x1b[" not in r.out + r.err


def test_no_color_wins_over_forced_colour(cli, fleet, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    r = ok(cli("vps", "list"))
    assert "\x1b[3" not in r.out  # no foreground colours (bold is not a colour)
    monkeypatch.delenv("NO_COLOR")
    r = ok(cli("vps", "list"))
    assert "\x1b[32mactive" in r.out  # coloured status when colour is forced
    assert "\x1b[31m" in r.out  # 2 days left: red


def test_shared_hostnames_and_ips_warn_and_case_only_duplicates_are_refused(cli):
    """A hostname or IP another VPS in service has is accepted with a warning (a replacement
    is often added before its predecessor retires); a hostname that differs only in case is
    refused: agents and `vps show` match names without case."""
    assert cli("vps", "add", "dup-1", "--ip", "192.0.2.10").code == 0
    r = cli("vps", "add", "dup-1", "--ip", "192.0.2.10")
    assert r.code == 0, r.err
    assert "warning: hostname dup-1 is also used by VPS" in r.err
    assert "warning: IP 192.0.2.10 is also on dup-1" in r.err
    r = cli("vps", "add", "DUP-1")
    assert r.code == 4 and "differs only in case from dup-1" in r.err, (r.code, r.err)
    assert cli("vps", "add", "dup-2", "--ip", "192.0.2.11").code == 0
    r = cli("vps", "edit", "dup-2", "--add-ip", "192.0.2.10")
    assert r.code == 0 and r.err.count("warning: IP 192.0.2.10 is also on dup-1") == 2, r.err
    r = cli("vps", "edit", "dup-2", "--notes", "unrelated")  # nothing new shared: no warning
    assert r.code == 0 and "warning" not in r.err, r.err
    r = cli("vps", "edit", "dup-2", "--hostname", "Dup-1")
    assert r.code == 4 and "differs only in case" in r.err
    # a retired VPS gives its name back: no warning, no refusal
    for ref in cli("vps", "list", "--search", "dup-1", "-q").out.split():
        assert cli("vps", "retire", ref).code == 0
    r = cli("vps", "add", "DUP-1")
    assert r.code == 0 and "warning" not in r.err, r.err
