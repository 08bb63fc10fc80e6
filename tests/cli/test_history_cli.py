"""Issue 16, part A, from the command line, against the local and the remote backend on SQLite
and PostgreSQL: `sigma vps history`, `sigma ip history`, `sigma vps duplicates`,
`sigma vps merge`, `sigma vps trash|restore|rm --purge`, and their refusals (exit code, one
line naming the field, nothing written)."""

from __future__ import annotations

import pytest


def ok(r):
    assert r.code == 0, f"exit {r.code}: {r.err}"
    return r


def add(cli, *args: str) -> str:
    return ok(cli("vps", "add", *args, "-q")).out.strip()


def history(cli, ref: str, *args: str) -> list[dict]:
    return ok(cli("vps", "history", ref, "--format", "json", *args)).json()


def test_vps_history_and_ip_history(cli):
    vid = add(cli, "hk-exit-01", "--ip", "103.1.2.3=ct", "--country", "HK")
    ok(cli("vps", "edit", "hk-exit-01", "--add-ip", "103.1.2.4", "--remove-ip", "103.1.2.3"))
    ok(cli("vps", "edit", "hk-exit-01", "--status", "active", "--notes", "moved racks"))
    add(cli, "jp-relay-02", "--ip", "103.1.2.3")
    events = history(cli, "hk-exit-01")
    assert [e["kind"] for e in events] == [
        "status",
        "updated",
        "ip-added",
        "ip-removed",
        "created",
    ]
    assert events[-1]["vps_id"] == vid and events[-1]["source"] == "user"
    assert events[1]["details"]["changes"]["notes"] == {"from": "", "to": "moved racks"}
    r = ok(cli("vps", "history", "hk-exit-01"))
    assert "+103.1.2.4" in r.out and "provisioning -> active" in r.out
    assert "Page 1 of 1 (5 total)" in r.out + r.err
    assert [e["kind"] for e in history(cli, vid[:8], "--kind", "ip-added")] == ["ip-added"]
    assert len(history(cli, "hk-exit-01", "--since", "2000-01-01")) == 5
    assert history(cli, "hk-exit-01", "--since", "2999-01-01") == []
    page = ok(cli("vps", "history", "hk-exit-01", "--per-page", "2", "--page", "2", "-f", "json"))
    assert [e["kind"] for e in page.json()] == ["ip-added", "ip-removed"]
    assert len(ok(cli("vps", "history", "hk-exit-01", "-q")).out.split()) == 5
    # who had 103.1.2.3: hk-exit-01 until the edit, jp-relay-02 since
    held = ok(cli("ip", "history", "103.1.2.3", "-f", "json")).json()
    assert [(h["hostname"], h["label"], h["until"] is None) for h in held] == [
        ("jp-relay-02", "", True),
        ("hk-exit-01", "china-telecom", False),
    ]
    for search in ("103.1.2.", "103.1.2.0/24", "103.1"):
        found = ok(cli("ip", "history", search, "-f", "json")).json()
        assert {h["ip"] for h in found} == {"103.1.2.3", "103.1.2.4"}, search
    table = ok(cli("ip", "history", "103.1.2.3")).out
    assert "jp-relay-02" in table and "now" in table
    assert ok(cli("ip", "history", "203.0.113.0/24", "-f", "json")).json() == []


@pytest.mark.parametrize(
    "args, code, field",
    [
        (["vps", "history", "ghost"], 3, "vps"),
        (["vps", "history", "hk-1", "--kind", "exploded"], 2, "kind"),
        (["vps", "history", "hk-1", "--since", "yesterday"], 2, "since"),
        (["ip", "history", "103.1.2.x"], 2, "ip"),
        (["ip", "history", "1.2.3.4/40"], 2, "ip"),
        (["ip", "history", "1.2.3.4", "--until", "soon"], 2, "until"),
        (["vps", "merge", "hk-1", "hk-1", "--yes"], 2, "other"),
        (["vps", "merge", "hk-1", "ghost", "--yes"], 3, "other"),
        (["vps", "restore", "hk-1"], 3, "trash"),
        (["vps", "restore", "ghost"], 3, "ghost"),
        (["vps", "rm", "--purge", "ghost", "--yes"], 3, "ghost"),
        (["vps", "merge", "hk-1", "hk-2"], 2, "--yes"),
    ],
)
def test_refusals_exit_with_a_code_and_name_the_field(cli, args, code, field, snapshot):
    add(cli, "hk-1", "--ip", "192.0.2.1")
    add(cli, "hk-2", "--ip", "192.0.2.1")
    before = snapshot()
    r = cli(*args)
    assert r.code == code, (r.code, r.err)
    assert field in r.err and r.err.count("\n") == 1, r.err
    assert snapshot() == before


def test_duplicates_and_merge(cli):
    keep = add(cli, "hk-exit-01", "--ip", "103.1.2.3=ct", "--tag", "cn", "--country", "HK")
    other = add(
        cli,
        "hk-exit-01b",
        "--ip",
        "103.1.2.3",
        "--ip",
        "2001:db8::1",
        "--tag",
        "relay",
        "--country",
        "JP",
        "--city",
        "Hong Kong",
        "--extra",
        "provider_instance_id=i-9",
    )
    add(cli, "lan-a", "--ip", "10.1.1.1=lan")
    add(cli, "lan-b", "--ip", "10.1.1.1=lan")
    pairs = ok(cli("vps", "duplicates", "-f", "json")).json()
    assert [
        ({p["a"]["id"], p["b"]["id"]}, [(r["reason"], r["value"]) for r in p["reasons"]])
        for p in pairs
    ] == [({keep, other}, [("ip", "103.1.2.3")])]
    assert "ip 103.1.2.3" in ok(cli("vps", "duplicates")).out
    dry = ok(cli("vps", "merge", "hk-exit-01", other[:8], "--dry-run", "-f", "json")).json()
    assert dry["dry_run"] is True and dry["keep"]["city"] == "Hong Kong"
    assert [e["ip"] for e in dry["keep"]["ip_addresses"]] == ["103.1.2.3", "2001:db8::1"]
    assert {c["field"] for c in dry["conflicts"]} == {"hostname", "country"}
    assert len(ok(cli("vps", "list", "-q")).out.split()) == 4  # nothing written
    r = ok(cli("vps", "merge", "hk-exit-01", other, "--yes"))
    assert "Merged hk-exit-01b" in r.err and "country" in r.out
    merged = ok(cli("vps", "show", "hk-exit-01", "-f", "json")).json()
    assert merged["id"] == keep and merged["tags"] == ["cn", "relay"]
    assert merged["extra"]["provider_instance_id"] == "i-9" and merged["country"] == "HK"
    assert cli("vps", "show", other).code == 3
    assert ok(cli("vps", "duplicates", "-f", "json")).json() == []
    kinds = [e["kind"] for e in history(cli, "hk-exit-01")]
    assert kinds[0] == "merged" and kinds.count("created") == 2
    # merging with a VPS in the trash is a conflict naming it
    gone = add(cli, "old-box")
    ok(cli("vps", "rm", gone, "--yes"))
    r = cli("vps", "merge", "hk-exit-01", gone, "--yes")
    assert r.code == 4 and "other" in r.err and "trash" in r.err


def test_trash_restore_and_purge(cli):
    vid = add(cli, "hk-exit-01", "--ip", "103.1.2.3", "--status", "active")
    add(cli, "jp-relay-02")
    assert ok(cli("vps", "trash", "-f", "json")).json() == []
    r = ok(cli("vps", "rm", "hk-exit-01", "--yes"))
    assert "to the trash" in r.err and "sigma vps restore" in r.err
    assert ok(cli("vps", "list", "-q")).out.split() != [vid]
    assert vid not in ok(cli("vps", "list", "-q")).out
    assert cli("vps", "show", "hk-exit-01").code == 3
    assert "hk-exit-01" not in ok(cli("export", "vps", "--format", "json")).out
    trashed = ok(cli("vps", "trash", "-f", "json")).json()
    assert [(t["id"], t["hostname"]) for t in trashed] == [(vid, "hk-exit-01")]
    assert trashed[0]["purge_after"] > trashed[0]["deleted_at"]
    assert "hk-exit-01" in ok(cli("vps", "trash")).out
    assert ok(cli("vps", "trash", "-q")).out.split() == [vid]
    # its history is still there, by hostname or id
    assert history(cli, "hk-exit-01")[0]["kind"] == "deleted"
    r = ok(cli("vps", "restore", "hk-exit-01"))
    assert "Restored VPS hk-exit-01" in r.err
    assert vid in ok(cli("vps", "list", "-q")).out
    assert ok(cli("vps", "trash", "-f", "json")).json() == []
    assert [e["kind"] for e in history(cli, vid)][:2] == ["restored", "deleted"]
    # purge: for good, from the trash or at once; the history stays, by id
    ok(cli("vps", "rm", "hk-exit-01", "--yes"))
    r = cli("vps", "rm", "--purge", "hk-exit-01")
    assert r.code == 2 and "--yes" in r.err
    r = ok(cli("vps", "rm", "--purge", "hk-exit-01", "--yes"))
    assert f"Purged VPS hk-exit-01 ({vid})" in r.err
    assert ok(cli("vps", "trash", "-f", "json")).json() == []
    assert history(cli, vid)[0]["kind"] == "purged"
    assert cli("vps", "history", "hk-exit-01").code == 3
    ok(cli("vps", "rm", "--purge", "jp-relay-02", "-y"))
    assert ok(cli("vps", "list", "-q")).out.split() == []
    held = ok(cli("ip", "history", "103.1.2.3", "-f", "json")).json()
    assert {h["vps_state"] for h in held} == {"purged"}
