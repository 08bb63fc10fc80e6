"""`sigma vps list --sort FIELD[:desc]`, on the local backend and against a server (the
`cli` fixture runs each test both ways), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest


def ok(r):
    assert r.code == 0, f"exit {r.code}: {r.err}"
    return r


@pytest.fixture
def priced(cli):
    for hostname, cost in (("a-1", "5.00"), ("b-2", "30.00"), ("c-3", "12.50"), ("d-4", None)):
        args = ["vps", "add", hostname, "--status", "active", "-q"]
        if cost:
            args += ["--cost", cost]
        ok(cli(*args))


def _hostnames(cli, *args: str) -> list[str]:
    return [v["hostname"] for v in ok(cli("vps", "list", *args, "--format", "json")).json()]


def test_sort_by_cost(cli, priced):
    assert _hostnames(cli, "--sort", "cost:desc") == ["b-2", "c-3", "a-1", "d-4"]
    assert _hostnames(cli, "--sort", "cost") == ["a-1", "c-3", "b-2", "d-4"]  # no cost: last
    assert _hostnames(cli, "--sort", "hostname:desc") == ["d-4", "c-3", "b-2", "a-1"]
    # one page of a table, in the same order
    r = ok(cli("vps", "list", "--sort", "cost:desc", "--per-page", "2"))
    rows = [line.split()[1] for line in r.out.splitlines()[1:] if line.strip()]
    assert rows == ["b-2", "c-3"] and "Page 1 of 2 (4 total)" in r.err


def test_unknown_sort_field_names_the_allowed_ones(cli, priced):
    r = cli("vps", "list", "--sort", "price")
    assert r.code == 2
    assert "sort" in r.err and "hostname, country, provider, status, cost, expiry, created" in r.err
    assert cli("vps", "list", "--sort", "cost:up").code == 2
