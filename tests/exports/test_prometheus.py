"""Prometheus targets on SQLite and PostgreSQL: selection and labels, the HTTP route as an
http_sd endpoint, and the cron-safe `-o FILE` write (local and remote)."""

from __future__ import annotations

import json
import os

import pytest
from inventory_seed import seed_fleet

from sigma.errors import InvalidInput
from sigma.services.exports import prometheus


def test_targets_selection_and_labels(run):
    fleet = seed_fleet(run)
    groups = run(prometheus.targets)
    # monitored, active/provisioning, with an IP; by hostname
    assert [g["labels"]["instance_name"] for g in groups] == [
        "hk-exit-01",
        "jp-relay-02",
        "sg-internal",
    ]
    hk, jp, sg = groups
    # first IP not labelled internal; IPv6 bracketed; the VPS's node_exporter port
    assert hk["targets"] == ["103.1.2.3:9100"]
    assert jp["targets"] == ["[2001:db8::2]:9101"]
    # only internal IPs: the first one
    assert sg["targets"] == ["10.1.1.1:9100"]
    assert hk["labels"] == {
        "instance_name": "hk-exit-01",
        "provider": "DMIT",
        "country": "HK",
        "status": "active",
        "alias": "HK Exit 1",
        "city": "Hong Kong",
        "dc": "MEGA-i",
        "purpose": "vpn-exit",
        "vpn_protocol": "wireguard",
        "tags": "cn-optimized,p:airport",
        "expire_date": fleet["hk-exit-01"].expire_date.isoformat(),
    }
    # empty optional labels are left out; the always-present ones stay, even when empty
    assert sg["labels"] == {
        "instance_name": "sg-internal",
        "provider": "",
        "country": "SG",
        "status": "active",
    }
    assert jp["labels"]["status"] == "provisioning"


def test_address_label_picks_the_ip(run):
    seed_fleet(run)
    by_name = {
        g["labels"]["instance_name"]: g["targets"][0] for g in run(prometheus.targets, "internal")
    }
    assert by_name["hk-exit-01"] == "10.0.0.5:9100"
    # no IP with that label: the default choice, not a missing host
    assert by_name["jp-relay-02"] == "[2001:db8::2]:9101"
    by_name = {g["labels"]["instance_name"]: g["targets"][0] for g in run(prometheus.targets, "OS")}
    assert by_name["hk-exit-01"] == "[2001:db8::5]:9100"
    with pytest.raises(InvalidInput) as err:
        run(prometheus.targets, "nonsense")
    assert err.value.field == "address_label"


def test_http_sd_route(api, run):
    seed_fleet(run)
    key = api.api_key("readonly", read_only=True)
    # Prometheus' http_sd_configs sends `authorization: {credentials: <key>}` as a bearer token
    r = api.client.get("/api/prometheus/targets", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert [g["targets"] for g in r.json()] == [
        ["103.1.2.3:9100"],
        ["[2001:db8::2]:9101"],
        ["10.1.1.1:9100"],
    ]
    r = api.client.get(
        "/api/prometheus/targets", headers={"X-Api-Key": key}, params={"address_label": "internal"}
    )
    assert r.json()[0]["targets"] == ["10.0.0.5:9100"]
    assert api.client.get("/api/prometheus/targets").status_code == 401
    r = api.client.get(
        "/api/prometheus/targets", headers=api.headers(), params={"address_label": "x"}
    )
    assert r.status_code == 422 and r.json()["field"] == "address_label"


def test_output_file_is_atomic_and_untouched_when_unchanged(cli, run, tmp_path):
    seed_fleet(run)
    out = tmp_path / "sd" / "sigma.json"
    out.parent.mkdir()
    r = cli("export", "prometheus", "-o", out)
    assert r.code == 0, r.err
    assert r.out == "" and "Wrote 3 targets" in r.err
    first = json.loads(out.read_text())
    assert len(first) == 3
    os.utime(out, (1_000_000_000, 1_000_000_000))
    inode = out.stat().st_ino
    r = cli("export", "prometheus", "-o", out)
    assert r.code == 0 and "unchanged" in r.err
    assert out.stat().st_mtime == 1_000_000_000 and out.stat().st_ino == inode
    # a change: a new file renamed over the old one; no temporary file left behind
    from sigma.services import vps

    run(vps.update, "sg-internal", {"monitoring_enabled": False})
    r = cli("export", "prometheus", "-o", out)
    assert r.code == 0 and "Wrote 2 targets" in r.err
    assert out.stat().st_ino != inode and len(json.loads(out.read_text())) == 2
    assert sorted(p.name for p in out.parent.iterdir()) == ["sigma.json"]
    # stdout without -o
    r = cli("export", "prometheus")
    assert json.loads(r.out) == json.loads(out.read_text())


def test_cached_document_follows_every_change(run):
    """The rendered targets are reused only while nothing exported has changed."""
    from sigma.services import providers, transfer, vps
    from sigma.services.exports import ansible

    fleet = seed_fleet(run)
    first = run(prometheus.targets_json)
    assert run(prometheus.targets_json) is first  # unchanged inventory: the same document
    run(providers.update, fleet["dmit"].id, {"name": "DMIT Inc"})
    assert run(prometheus.targets)[0]["labels"]["provider"] == "DMIT Inc"
    assert run(ansible.inventory)["_meta"]["hostvars"]["hk-exit-01"]["sigma_provider"] == {
        "__ansible_unsafe": "DMIT Inc"
    }
    run(
        transfer.import_vps, f"id,node_exporter_port\n{fleet['hk-exit-01'].id},9200\n", "csv"
    )  # bulk UPDATE
    assert run(prometheus.targets)[0]["targets"] == ["103.1.2.3:9200"]
    run(vps.delete, "sg-internal")
    assert [g["labels"]["instance_name"] for g in run(prometheus.targets)] == [
        "hk-exit-01",
        "jp-relay-02",
    ]
    assert "sg-internal" not in run(ansible.inventory)["all"]["hosts"]
