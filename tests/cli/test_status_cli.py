"""Issue 18, part A, from the command line, against the local and the remote backend on SQLite
and PostgreSQL: `sigma status` (counts, items worst first fitting the terminal, json and yaml,
filters, exit code 0/1) and `sigma status ack|snooze|unack` with their refusals."""

from __future__ import annotations

import yaml
from tests.services.test_attention import make_fleet


def test_status_of_a_fleet_with_problems(cli, sessions, monkeypatch):
    ids = make_fleet(sessions)
    r = cli("status")
    assert r.code == 1, r.err  # critical items are open
    assert "critical" in r.out and "blocked" in r.out and "missing-data" in r.out
    assert f"blocked:ip:{ids['walled']}/203.0.113.14" in r.out

    data = cli("status", "--format", "json").json()
    assert data["critical"] > 0 and data["total"] == len(data["items"])
    ranks = [("critical", "warning", "info").index(i["severity"]) for i in data["items"]]
    assert ranks == sorted(ranks)
    assert {c["kind"] for c in data["counts"]} >= {"overdue", "duplicate", "quota", "ticket"}
    assert yaml.safe_load(cli("status", "-f", "yaml").out)["total"] == data["total"]

    # filters; nothing critical among them: exit 0
    r = cli("status", "--kind", "missing-data,duplicate", "-f", "json")
    assert r.code == 0 and {i["kind"] for i in r.json()["items"]} == {"missing-data", "duplicate"}
    r = cli("status", "--severity", "info", "--severity", "warning", "-f", "json")
    assert r.code == 0 and {i["severity"] for i in r.json()["items"]} == {"info", "warning"}
    r = cli("status", "--vps", "flaky", "-f", "json")
    assert {i["kind"] for i in r.json()["items"]} == {"degraded", "reach-alert"}

    # a short terminal: the worst items and a line saying how to see the rest
    monkeypatch.setenv("LINES", "20")
    r = cli("status")
    assert "more: sigma status --all" in r.out
    assert "more: sigma status --all" not in cli("status", "--all").out

    # bad input: one line naming the field
    r = cli("status", "--kind", "nope")
    assert r.code == 2 and "kind: unknown kind 'nope'" in r.err
    r = cli("status", "--format", "csv")
    assert r.code == 2 and "format" in r.err


def test_ack_snooze_unack_from_the_command_line(cli, sessions):
    ids = make_fleet(sessions)
    late = f"overdue:vps:{ids['late']}"
    r = cli("status", "ack", late, "--note", "provider asked")
    assert r.code == 0 and f"acknowledged {late}" in r.err
    keys = {i["key"] for i in cli("status", "-f", "json").json()["items"]}
    assert late not in keys
    handled = cli("status", "--handled", "-f", "json").json()
    (item,) = [i for i in handled["items"] if i["key"] == late]
    assert item["state"] == "acknowledged" and item["note"] == "provider asked"
    assert handled["handled"] == 1
    assert "(acked)" in cli("status", "--handled", "--all").out

    # everything critical acknowledged or snoozed: exit 0
    critical = [i["key"] for i in handled["items"] if i["severity"] == "critical"]
    for key in critical:
        if key != late:
            r = cli("status", "snooze", key, "--until", "2d")
            assert r.code == 0 and "snoozed" in r.err, r.err
    assert cli("status").code == 0

    r = cli("status", "unack", late)
    assert r.code == 0 and "open again" in r.err
    assert cli("status").code == 1

    # refusals
    r = cli("status", "snooze", late, "--until", "later")
    assert r.code == 2 and "until: 'later' is neither" in r.err
    r = cli("status", "snooze", late, "--until", "2001-01-01T00:00Z")
    assert r.code == 2 and "not in the future" in r.err
    r = cli("status", "ack", "overdue:vps:00000000-0000-0000-0000-000000000000")
    assert r.code == 3 and "no longer needs attention" in r.err
    r = cli("status", "ack", late, "--note", "x" * 501)
    assert r.code == 2 and "note" in r.err
    r = cli("status", "unack", late)
    assert r.code == 3 and "not acknowledged or snoozed" in r.err


def test_status_of_a_calm_fleet(cli):
    r = cli("status")
    assert r.code == 0 and "Nothing needs attention" in r.out
    assert cli("status", "-f", "json").json()["items"] == []
    r = cli("status", "--help")
    assert r.code == 0 and "sigma status snooze" in r.out and "Exit code 0" in r.out
