"""Stats (contract 2.5) on both databases, the route, and the `sigma stats` dashboard."""

from __future__ import annotations

from datetime import timedelta

from inventory_seed import TODAY, seed_fleet

from sigma.services import stats, vps


def test_stats_numbers(run):
    seed_fleet(run)
    run(
        vps.create,
        {"hostname": "late", "status": "active", "expire_date": TODAY - timedelta(days=2)},
    )
    run(
        vps.create,
        {"hostname": "later", "status": "active", "expire_date": TODAY + timedelta(days=30)},
    )
    s = run(stats.stats)
    assert s.total_vps == 8 and s.active_vps == 6 and s.total_providers == 2
    assert [(c.label, c.count) for c in s.by_status] == [
        ("active", 6),
        ("provisioning", 1),
        ("retired", 1),
    ]
    # retired left out of country and provider; unassigned grouped; count desc then label
    assert [(c.label, c.count) for c in s.by_country] == [
        ("", 2),
        ("DE", 1),
        ("HK", 1),
        ("JP", 1),
        ("SG", 1),
        ("US", 1),
    ]
    assert [(c.label, c.count) for c in s.by_provider] == [
        ("(unassigned)", 5),
        ("Band Wagon", 1),
        ("DMIT", 1),
    ]
    # within 14 days, overdue included, active/provisioning only, soonest first
    assert [v.hostname for v in s.expiring_soon] == ["late", "hk-exit-01"]


def test_stats_route(api, run):
    seed_fleet(run)
    r = api.client.get("/api/stats", headers=api.headers())
    assert r.status_code == 200
    body = r.json()
    assert list(body) == [
        "total_vps",
        "active_vps",
        "total_providers",
        "by_country",
        "by_provider",
        "by_status",
        "expiring_soon",
    ]
    assert body["expiring_soon"][0]["cost_monthly"] == "15.99"


def test_stats_dashboard(cli, run):
    seed_fleet(run)
    out = cli("stats")
    assert out.code == 0, out.err
    assert "6 VPS" in out.out and "4 active" in out.out and "2 providers" in out.out
    assert "By status" in out.out and "█" in out.out
    assert "hk-exit-01 (HK Exit 1)" in out.out and "(5d)" in out.out
    assert cli("stats", "--format", "json").json()["total_vps"] == 6
    assert cli("stats", "--format", "csv").code == 2
