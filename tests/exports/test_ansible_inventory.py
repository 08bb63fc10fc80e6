"""Ansible inventory: the service on both databases, the route, `sigma export ansible`, and
the installed `sigma-ansible-inventory` script run by the real `ansible-inventory`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from inventory_seed import seed_fleet

from sigma.services.exports import ansible

VALID_GROUP = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def plain(value):
    """Host variables with their `__ansible_unsafe` markers taken off (every string from the
    inventory carries one: Ansible never templates them)."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def test_inventory_groups_and_hostvars(run):
    fleet = seed_fleet(run)
    inv = run(ansible.inventory)
    # active + provisioning, monitoring flag ignored, by hostname; retired left out
    assert inv["all"] == {
        "hosts": ["de-unmonitored", "hk-exit-01", "jp-relay-02", "sg-internal", "us-noip"]
    }
    assert inv["ungrouped"] == {"hosts": []}
    assert inv["status_active"]["hosts"] == [
        "de-unmonitored",
        "hk-exit-01",
        "sg-internal",
        "us-noip",
    ]
    assert inv["status_provisioning"]["hosts"] == ["jp-relay-02"]
    assert inv["country_hk"]["hosts"] == ["hk-exit-01"]
    assert inv["provider_band_wagon"]["hosts"] == ["jp-relay-02"]
    assert inv["purpose_vpn_exit"]["hosts"] == ["hk-exit-01"]
    assert inv["tag_p_airport"]["hosts"] == inv["tag_cn_optimized"]["hosts"] == ["hk-exit-01"]
    assert "provider_" not in inv and "purpose_" not in inv  # no groups for empty values
    for name, group in inv.items():
        if name != "_meta":
            assert VALID_GROUP.match(name), name
            assert set(group) == {"hosts"}
    hv = plain(inv["_meta"]["hostvars"])
    assert set(hv) == set(inv["all"]["hosts"])
    assert hv["hk-exit-01"] == {
        "ansible_host": "103.1.2.3",
        "ansible_port": 22,
        "sigma_id": str(fleet["hk-exit-01"].id),
        "sigma_alias": "HK Exit 1",
        "sigma_country": "HK",
        "sigma_city": "Hong Kong",
        "sigma_dc": "MEGA-i",
        "sigma_provider": "DMIT",
        "sigma_status": "active",
        "sigma_purpose": "vpn-exit",
        "sigma_vpn_protocol": "wireguard",
        "sigma_tags": ["cn-optimized", "p:airport"],
        "sigma_ip_addresses": [
            {"ip": "10.0.0.5", "label": "internal"},
            {"ip": "103.1.2.3", "label": "china-telecom"},
            {"ip": "2001:db8::5", "label": "overseas"},
        ],
        "sigma_cpu_cores": 2,
        "sigma_ram_mb": 2048,
        "sigma_disk_gb": 40,
        "sigma_monitoring_enabled": True,
        "sigma_node_exporter_port": 9100,
        "sigma_expire_date": fleet["hk-exit-01"].expire_date.isoformat(),
    }
    assert (
        hv["jp-relay-02"]["ansible_host"] == "2001:db8::2"
        and hv["jp-relay-02"]["ansible_port"] == 2222
    )
    assert hv["sg-internal"]["ansible_host"] == "10.1.1.1"  # only internal IPs: the first one
    assert "ansible_host" not in hv["us-noip"]  # no IP: ansible uses the inventory name
    assert plain(run(ansible.host, "jp-relay-02")) == hv["jp-relay-02"]
    # every string is marked unsafe, the free text included
    raw = inv["_meta"]["hostvars"]["hk-exit-01"]
    assert raw["sigma_alias"] == {"__ansible_unsafe": "HK Exit 1"}
    assert raw["sigma_tags"] == [
        {"__ansible_unsafe": "cn-optimized"},
        {"__ansible_unsafe": "p:airport"},
    ]
    assert run(ansible.host, "nope") == {}


def test_twin_hostnames_stay_distinct(run):
    from sigma.services import vps

    a = run(
        vps.create, {"hostname": "edge", "status": "active", "ip_addresses": [{"ip": "192.0.2.1"}]}
    )
    b = run(
        vps.create, {"hostname": "edge", "status": "active", "ip_addresses": [{"ip": "192.0.2.2"}]}
    )
    hv = plain(run(ansible.inventory)["_meta"]["hostvars"])
    assert len(hv) == 2
    assert {v["ansible_host"] for v in hv.values()} == {"192.0.2.1", "192.0.2.2"}
    assert {v["sigma_id"] for v in hv.values()} == {str(a.id), str(b.id)}


def test_route(api, run):
    seed_fleet(run)
    r = api.client.get("/api/ansible/inventory", headers=api.headers())
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    inv = r.json()
    assert inv == run(ansible.inventory)
    r = api.client.get(
        "/api/ansible/inventory", headers=api.headers(), params={"host": "hk-exit-01"}
    )
    assert r.json() == inv["_meta"]["hostvars"]["hk-exit-01"]


def test_cli(cli, run):
    seed_fleet(run)
    inv = run(ansible.inventory)
    out = cli("export", "ansible", "--list")
    assert out.code == 0, out.err
    assert out.json() == inv
    out = cli("export", "ansible", "--host", "sg-internal")
    assert out.json() == inv["_meta"]["hostvars"]["sg-internal"]
    assert cli("export", "ansible").code == 2
    assert cli("export", "ansible", "--list", "--host", "x").code == 2


@pytest.fixture
def db_url(sqlite_url):
    return sqlite_url


@pytest.mark.skipif(shutil.which("ansible-inventory") is None, reason="ansible-core not installed")
def test_real_ansible_inventory_reads_the_script(db_url, run, tmp_path):
    seed_fleet(run)
    from sigma.services import vps

    # awkward values must still give valid group names and no warning
    run(
        vps.create,
        {
            "hostname": "fr-odd",
            "status": "active",
            "country": "FR",
            "tags": ["p:a.b", "2024", "Ü-x"],
            "ip_addresses": [{"ip": "192.0.2.50"}],
        },
    )
    script = shutil.which("sigma-ansible-inventory")
    assert script, "the console script is not installed (pip install -e .)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        SIGMA_DATABASE_URL=db_url,
        ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
        ANSIBLE_HOME=str(tmp_path / "ah"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "at"),
        LC_ALL="C.UTF-8",
        LANG="C.UTF-8",
        ANSIBLE_NOCOLOR="1",
    )
    cmd = ["ansible-inventory", "-i", script, "--list"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr  # no invalid group names, no deprecation notices
    inv = json.loads(r.stdout)
    hv = plain(inv["_meta"]["hostvars"])
    assert set(hv) == {
        "de-unmonitored",
        "hk-exit-01",
        "jp-relay-02",
        "sg-internal",
        "us-noip",
        "fr-odd",
    }
    assert hv["hk-exit-01"]["ansible_host"] == "103.1.2.3"
    assert hv["jp-relay-02"]["ansible_port"] == 2222
    assert hv["hk-exit-01"]["sigma_tags"] == ["cn-optimized", "p:airport"]
    assert set(inv["all"]["children"]) >= {
        "ungrouped",
        "status_active",
        "status_provisioning",
        "country_hk",
        "provider_dmit",
        "tag_p_airport",
        "tag_p_a_b",
        "tag_2024",
        "tag___x",
    }
    assert inv["status_provisioning"]["hosts"] == ["jp-relay-02"]
    assert sorted(inv["tag_cn_optimized"]["hosts"]) == ["hk-exit-01"]

    # --host through ansible's own variable view
    r = subprocess.run(
        ["ansible-inventory", "-i", script, "--host", "sg-internal"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert plain(json.loads(r.stdout))["ansible_host"] == "10.1.1.1"

    # the script on its own speaks the protocol
    r = subprocess.run(
        [script, "--host", "nope"], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 0 and json.loads(r.stdout) == {}
    r = subprocess.run([script], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "--list" in r.stderr
