"""`sigma agent provision|release` and `sigma probe provision` (local and remote): a key made
for one VPS speaks for that VPS only, a probe key reads targets and posts checks only."""

from __future__ import annotations

import pytest


@pytest.fixture
def app_client(db_url, tmp_path):
    """A plain HTTP client of an in-process server on the same database, to use the keys."""
    from fastapi.testclient import TestClient

    from sigma.server.app import create_app
    from sigma.settings import Settings

    app = create_app(
        Settings(
            database_url=db_url,
            jwt_secret="agent-keys-cli-secret-0123456789",
            jobs_enabled=False,
            rate_limit_requests=100_000,
        )
    )
    with TestClient(app) as client:
        yield client


def test_agent_key_bound_to_its_vps(cli, app_client):
    assert cli("vps", "add", "hk-exit-01", "--ip", "203.0.113.5").code == 0
    assert cli("vps", "add", "jp-relay-02").code == 0
    r = cli("agent", "provision", "hk-exit-01")
    assert r.code == 0, r.err
    key = r.out.strip()
    assert key.startswith("sigma_") and "bound to hk-exit-01" in r.err and key not in r.err
    listed = [
        k
        for k in cli("api-key", "list", "--all", "--format", "json").json()
        if k["name"] == "agent hk-exit-01"
    ]
    hk = cli("vps", "show", "hk-exit-01", "--format", "json").json()
    assert len(listed) == 1 and listed[0]["vps_id"] == hk["id"]

    h = {"X-Api-Key": key}
    beat = app_client.post(
        "/api/agent/heartbeat", headers=h, json={"hostname": "hk-exit-01", "system_info": {}}
    )
    assert beat.status_code == 200 and beat.json()["id"] == hk["id"]
    other = app_client.post("/api/agent/register", headers=h, json={"hostname": "jp-relay-02"})
    assert other.status_code == 403 and "belongs to VPS hk-exit-01" in other.json()["error"]
    assert app_client.get("/api/vps", headers=h).status_code == 403  # an agent reads nothing
    refused = cli("audit", "list", "--action", "agent-register-refused", "--format", "json").json()
    assert [e["details"]["hostname"] for e in refused] == ["jp-relay-02"]

    # released: the key may claim the VPS of the hostname it registers next
    r = cli("agent", "release", "hk-exit-01")
    assert r.code == 0 and "Released 1 agent key(s) of hk-exit-01" in r.err
    claimed = app_client.post("/api/agent/register", headers=h, json={"hostname": "jp-relay-02"})
    assert claimed.status_code == 200 and claimed.json()["hostname"] == "jp-relay-02"
    # revoked with the release: the key is dead
    assert cli("agent", "release", "jp-relay-02", "--revoke").code == 0
    assert (
        app_client.post(
            "/api/agent/heartbeat", headers=h, json={"hostname": "jp-relay-02"}
        ).status_code
        == 401
    )

    assert cli("agent", "provision", "no-such-vps").code == 3
    assert cli("vps", "retire", "hk-exit-01").code == 0
    r = cli("agent", "provision", "hk-exit-01")
    assert r.code == 4 and "retired" in r.err


def test_probe_key_reads_targets_and_posts_checks_only(cli, app_client):
    assert cli("vps", "add", "hk-exit-01", "--ip", "203.0.113.5", "--status", "active").code == 0
    r = cli("probe", "provision", "probe-cn-bj")
    assert r.code == 0, r.err
    h = {"X-Api-Key": r.out.strip()}
    [target] = app_client.get("/api/ip-checks/targets", headers=h).json()
    assert target["ip"] == "203.0.113.5"
    assert (
        app_client.get("/api/vps", headers=h).json()["total"] == 1
    )  # the original sigma-probe pages it
    check = {
        "vps_id": target["vps_id"],
        "ip": "203.0.113.5",
        "check_type": "tcp",
        "source": "cn-bj",
        "success": True,
    }
    assert app_client.post("/api/ip-checks", headers=h, json=check).status_code == 200
    for method, path in (
        ("POST", "/api/vps"),
        ("POST", "/api/agent/register"),
        ("GET", "/api/users"),
        ("GET", "/api/audit-logs"),
        ("GET", "/api/tickets"),
    ):
        assert (
            app_client.request(method, path, headers=h, json={"hostname": "x"}).status_code == 403
        ), path
