"""The probe's packed targets: every target comes back exactly as the server sent it (the
results must name the VPS and the address the server knows), whatever its form."""

from __future__ import annotations

import json
import uuid

import pytest

from sigma.probe.targets import Target, Targets, parse


def test_targets_come_back_as_sent():
    vid = str(uuid.uuid4())
    sent = [
        {"vps_id": vid, "ip": "103.1.2.3", "ssh_port": 22, "hostname": "hk-1"},
        {"vps_id": vid, "ip": "2001:db8::1", "ssh_port": 2222},
        {"vps_id": vid, "ip": "::ffff:103.1.2.3", "ssh_port": 22},  # not the IPv4 address
        {"vps_id": vid, "ip": "0.0.0.1"},  # no port: 22
        {"vps_id": "legacy-42", "ip": "103.1.2.4", "ssh_port": 22},  # not a UUID: kept as sent
        {"vps_id": vid.upper(), "ip": "2001:DB8::2", "ssh_port": 22},  # not canonical
        {"vps_id": vid, "ip": "103.1.2.5", "ssh_port": 70000},  # out of range: kept as sent
        {"vps_id": vid, "ip": "103.1.2.6", "ssh_port": 22, "extra": {"nested": 1}},
    ]
    targets, ignored = parse(json.dumps(sent + [{"ip": "103.1.2.7"}, 5, "x"]))
    assert ignored == 3
    assert len(targets) == len(sent)
    assert list(targets) == [Target(t["vps_id"], t["ip"], t.get("ssh_port") or 22) for t in sent]
    assert targets[1] == Target(vid, "2001:db8::1", 2222)
    with pytest.raises(IndexError):
        targets[len(sent)]


def test_bad_answers():
    with pytest.raises(ValueError):
        parse('{"vps_id": "x"}')
    with pytest.raises(ValueError):
        parse("[{")
    assert len(Targets()) == 0 and list(Targets()) == []
