"""`sigma ticket ...` locally and against the server, on both databases."""

from __future__ import annotations


def test_ticket_lifecycle(cli):
    assert cli("vps", "add", "hk-exit-01", "--ip", "1.2.3.4").code == 0
    r = cli(
        "ticket",
        "open",
        "CT route blocked",
        "--vps",
        "hk-exit-01",
        "-p",
        "high",
        "-d",
        "ping loss 100%",
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    t = r.json()
    assert t["status"] == "open" and t["priority"] == "high" and t["vps_id"]
    ref = t["id"][:8]
    r = cli("ticket", "list")
    assert r.code == 0 and "CT route blocked" in r.out and "hk-exit-01" in r.out
    assert cli("ticket", "start", ref).code == 0
    r = cli("ticket", "comment", ref, "asked the provider")
    assert r.code == 0, r.err
    r = cli("ticket", "show", ref, "--format", "json")
    shown = r.json()
    assert shown["status"] == "in-progress" and [c["body"] for c in shown["comments"]] == [
        "asked the provider"
    ]
    assert cli("ticket", "resolve", ref).code == 0
    assert cli("ticket", "close", ref).code == 0
    r = cli("ticket", "resolve", ref)
    assert r.code == 4 and "closed" in r.err
    assert cli("ticket", "reopen", ref).code == 0
    r = cli("ticket", "edit", ref, "--priority", "urgent")
    assert r.code == 2 and "priority" in r.err
    r = cli("ticket", "edit", ref, "--vps", "", "--title", "CT route blocked again", "-f", "json")
    assert (
        r.code == 0 and r.json()["vps_id"] is None and r.json()["title"] == "CT route blocked again"
    )
    r = cli("ticket", "assign", ref, "nobody@example.com")
    assert r.code == 2 and "assigned_to" in r.err
    r = cli("ticket", "list", "--status", "open", "-q")
    assert r.out.strip() == t["id"]
    assert cli("ticket", "list", "--status", "closed", "-q").out.strip() == ""
    r = cli("ticket", "rm", ref)
    assert r.code == 2 and "--yes" in r.err
    assert cli("ticket", "rm", ref, "--yes").code == 0
    assert cli("ticket", "show", ref).code == 3
    r = cli("audit", "list", "--resource", "ticket", "--format", "json")
    actions = sorted(a["action"] for a in r.json())
    assert actions == sorted(
        ["create", "update", "comment", "update", "update", "update", "update", "delete"]
    )
