"""`sigma provider ...` end to end in-process, on SQLite and PostgreSQL: every output format,
exit codes, the original CLI's hidden spellings, bad input for every field."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
import yaml

PROVIDER_FIELDS = [
    "id",
    "name",
    "country",
    "website",
    "panel_url",
    "api_supported",
    "rating",
    "notes",
    "created_at",
    "updated_at",
]


def add(cli, *args: str) -> str:
    r = cli("provider", "add", *args, "-q")
    assert r.code == 0, r.err
    return r.out.strip()


def test_add_prints_confirmation_on_stderr(cli, rows):
    r = cli(
        "provider",
        "add",
        "DMIT",
        "--country",
        "us",
        "--website",
        "https://dmit.io",
        "--panel-url",
        "https://dmit.io/panel",
        "--api-supported",
        "--rating",
        "4",
        "--notes",
        "n",
    )
    assert r.code == 0, r.err
    assert r.out == ""
    assert r.err.startswith("Created provider DMIT (") and r.err.count("\n") == 1
    assert rows("providers") == 1
    p = cli("provider", "show", "DMIT", "--format", "json").json()
    assert list(p) == PROVIDER_FIELDS
    assert p | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "name": "DMIT",
        "country": "US",
        "website": "https://dmit.io",
        "panel_url": "https://dmit.io/panel",
        "api_supported": True,
        "rating": 4,
        "notes": "n",
        "created_at": None,
        "updated_at": None,
    }
    assert p["id"] in r.err


def test_add_quiet_and_json(cli):
    pid = add(cli, "A")
    assert str(uuid.UUID(pid)) == pid
    r = cli("provider", "add", "B", "--format", "json")
    assert r.code == 0 and r.json()["name"] == "B"


@pytest.fixture
def three(cli):
    ids = {
        "Zeta": add(cli, "Zeta", "--country", "DE"),
        "alpha": add(cli, "alpha", "--rating", "5", "--api-supported"),
        "Mid": add(cli, "Mid"),
    }
    return ids


def test_list_every_format(cli, three):
    table = cli("provider", "list")
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split() == ["ID", "Name", "Country", "Website", "API", "Rating"]
    assert "★★★★★" in table.out and "yes" in table.out
    assert three["alpha"][:8] in table.out
    assert "Page 1 of 1 (3 total)" in table.err
    assert "\x1b[" not in table.out  # NO_COLOR / not a tty: no escape codes

    js = cli("provider", "list", "--format", "json").json()
    assert isinstance(js, list) and [p["name"] for p in js] == sorted([p["name"] for p in js])
    assert {p["name"] for p in js} == {"Zeta", "alpha", "Mid"}
    assert all(list(p) == PROVIDER_FIELDS for p in js)

    ym = yaml.safe_load(cli("provider", "list", "-f", "yaml").out)
    assert ym == js

    rows_ = list(csv.DictReader(io.StringIO(cli("provider", "list", "--format", "csv").out)))
    assert [r["name"] for r in rows_] == [p["name"] for p in js]
    assert list(rows_[0]) == PROVIDER_FIELDS
    alpha = next(r for r in rows_ if r["name"] == "alpha")
    assert (alpha["api_supported"], alpha["rating"]) == ("true", "5")
    assert next(r for r in rows_ if r["name"] == "Mid")["rating"] == ""

    q = cli("provider", "list", "-q")
    assert set(q.out.split()) == set(three.values())


def test_list_pagination_and_all(cli, three):
    r = cli("provider", "list", "--per-page", "2", "--page", "2", "--format", "json")
    assert len(r.json()) == 1
    r = cli("provider", "list", "--per-page", "2")
    assert "Page 1 of 2 (3 total)" in r.err
    r = cli("provider", "list", "--all", "--per-page", "1", "-q")
    assert len(r.out.split()) == 3
    r = cli("provider", "list", "--page", "99999999999999999999")
    assert r.code == 2 and "page" in r.err and r.err.count("\n") == 1


def test_list_empty(cli):
    assert cli("provider", "list", "--format", "json").out.strip() == "[]"
    r = cli("provider", "list", "--format", "csv")
    assert r.code == 0 and r.out.splitlines()[0].split(",") == PROVIDER_FIELDS


def test_show_every_format(cli, three, each):
    def check(fmt):
        r = cli("provider", "show", "alpha", "--format", fmt)
        assert r.code == 0, r.err
        if fmt == "json":
            assert r.json()["id"] == three["alpha"]
        elif fmt == "yaml":
            assert yaml.safe_load(r.out)["rating"] == 5
        elif fmt == "csv":
            (row,) = list(csv.DictReader(io.StringIO(r.out)))
            assert row["name"] == "alpha"
        else:
            assert "alpha" in r.out and three["alpha"] in r.out and "rating" in r.out

    each(["table", "json", "yaml", "csv"], check)


def test_show_by_prefix_quiet_and_unknown(cli, three):
    r = cli("provider", "show", three["Mid"][:6], "-q")
    assert r.out.strip() == three["Mid"]
    r = cli("provider", "show", "nope")
    assert r.code == 3 and r.err.count("\n") == 1 and "nope" in r.err
    r = cli("provider", "show", "alpha", "--format", "xml")
    assert r.code == 2 and "format" in r.err


def test_duplicate_name_is_conflict(cli, three, rows):
    r = cli("provider", "add", "ALPHA")
    assert r.code == 4 and "already exists" in r.err
    assert rows("providers") == 3


def test_edit(cli, three):
    r = cli("provider", "edit", "alpha", "--notes", "fast support", "--country", "jp")
    assert r.code == 0 and r.err.startswith("Updated provider alpha")
    p = cli("provider", "show", "alpha", "-f", "json").json()
    assert (p["notes"], p["country"], p["rating"], p["api_supported"]) == (
        "fast support",
        "JP",
        5,
        True,
    )
    r = cli("provider", "edit", "alpha", "--rating", "", "--api-supported", "false", "-f", "json")
    assert r.code == 0
    assert (r.json()["rating"], r.json()["api_supported"]) == (None, False)
    r = cli("provider", "edit", three["Mid"], "--name", "Middle", "-q")
    assert r.out.strip() == three["Mid"]
    assert cli("provider", "show", "middle", "-q").out.strip() == three["Mid"]


def test_edit_nothing_or_unknown(cli, three):
    r = cli("provider", "edit", "alpha")
    assert r.code == 2 and "nothing to change" in r.err
    r = cli("provider", "edit", "ghost", "--notes", "x")
    assert r.code == 3
    r = cli("provider", "edit", "Mid", "--name", "alpha")
    assert r.code == 4


def test_rm(cli, three, rows):
    r = cli("provider", "rm", "Zeta")  # no --yes, stdin is not a terminal
    assert r.code == 2 and "--yes" in r.err
    assert rows("providers") == 3
    r = cli("provider", "rm", "Zeta", "Mid", "--yes")
    assert r.code == 0 and r.err.count("Deleted provider") == 2
    assert rows("providers") == 1
    r = cli("provider", "rm", "ghost", "--yes")
    assert r.code == 3


def test_rm_refused_while_vps_use_it(cli, three, rows):
    assert cli("vps", "add", "hk-1", "--provider", "alpha").code == 0
    r = cli("provider", "rm", "alpha", "-y")
    assert r.code == 4
    assert "hk-1" in r.err and r.err.count("\n") == 1
    assert rows("providers") == 3


def test_original_spellings_are_hidden_aliases(cli, rows):
    r = cli("providers", "create", "--name", "Legacy", "--country", "NL", "--rating", "3")
    assert r.code == 0, r.err
    pid = cli("providers", "list", "-q").out.strip()
    assert cli("providers", "get", pid, "-f", "json").json()["name"] == "Legacy"
    r = cli("providers", "update", pid, "--api-supported", "true", "--rating", "4")
    assert r.code == 0, r.err
    p = cli("provider", "show", pid, "-f", "json").json()
    assert (p["api_supported"], p["rating"]) == (True, 4)
    r = cli("providers", "delete", pid)  # the original deletes without asking
    assert r.code == 0 and rows("providers") == 0
    helptext = cli("provider", "--help").out
    for hidden in ("create", "get", "update", "delete"):
        assert f" {hidden} " not in helptext
    assert not any(line.split()[:1] == ["providers"] for line in cli("--help").out.splitlines())


# ------------------------------------------------------------------ bad input, every field


BAD_PROVIDER = [
    (["--country", "USA"], "country"),
    (["--country", "1"], "country"),
    (["--website", "dmit.io"], "website"),
    (["--website", "ftp://dmit.io"], "website"),
    (["--panel-url", "not a url"], "panel_url"),
    (["--rating", "0"], "rating"),
    (["--rating", "6"], "rating"),
    (["--rating", "four"], "rating"),
]


def test_bad_provider_input(cli, snapshot, each):
    before = snapshot()

    def check(args, field):
        r = cli("provider", "add", "P", *args)
        assert r.code == 2, r
        assert r.err.count("\n") == 1 and r.err.startswith("error: "), r.err
        assert field in r.err, r.err
        assert snapshot() == before

    each(BAD_PROVIDER, check)


def test_blank_provider_name(cli, snapshot, each):
    def check(name):
        r = cli("provider", "add", name)
        assert r.code == 2 and r.err.count("\n") == 1 and "name" in r.err, r
        assert snapshot()["providers"] == 0

    each(["", "   ", "x" * 254], check)


def test_bad_provider_edit(cli, snapshot, each):
    add(cli, "P", "--rating", "2")
    before = snapshot()

    def check(args, field):
        r = cli("provider", "edit", "P", *args)
        assert r.code == 2 and r.err.count("\n") == 1 and field in r.err, r
        assert snapshot() == before

    each(BAD_PROVIDER + [(["--name", ""], "name")], check)
