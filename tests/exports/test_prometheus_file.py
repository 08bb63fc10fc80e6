"""Prometheus targets as files for cron and Prometheus: failures keep the old file
(unreachable server or database, permission denied, disk full), and the real promtool
accepts what sigma writes (and rejects broken files)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from inventory_seed import seed_fleet


@pytest.fixture
def db_url(sqlite_url):
    """The failure and tool tests are about files and tools, not the database: SQLite only."""
    return sqlite_url


OLD = '[{"targets": ["192.0.2.1:9100"], "labels": {}}]\n'


@pytest.mark.local_only("the client's view of a server that does not answer")
def test_unreachable_server_keeps_the_old_file(cli, tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "sigma.json"
    out.write_text(OLD)
    monkeypatch.setenv("SIGMA_SERVER", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SIGMA_API_KEY", "sigma_whatever")
    r = cli("export", "prometheus", "-o", out)
    assert r.code == 5
    assert "cannot reach the sigma server" in r.err
    assert out.read_text() == OLD


@pytest.mark.local_only("a local database that does not answer")
def test_unreachable_database_keeps_the_old_file(cli, tmp_path, monkeypatch):
    out = tmp_path / "sigma.json"
    out.write_text(OLD)
    monkeypatch.setenv(
        "SIGMA_DATABASE_URL", "postgresql+psycopg://sigma:secret@127.0.0.1:1/nothing"
    )
    r = cli("export", "prometheus", "-o", out)
    assert r.code == 5
    assert "unreachable" in r.err and "secret" not in r.err
    assert out.read_text() == OLD


@pytest.mark.local_only("about the output file; the remote path is the same code")
def test_permission_denied_is_an_error(cli, run):
    seed_fleet(run)
    r = cli("export", "prometheus", "-o", "/sys/kernel/sigma-targets.json")  # EACCES even for root
    assert r.code == 1
    assert "cannot write /sys/kernel/sigma-targets.json: Permission denied" in r.err


def test_permission_denied_keeps_the_old_file(tmp_path):
    """A non-writable directory: write_atomic fails, the old file and nothing else remains."""
    from sigma.fileio import WriteFailed, write_atomic

    d = tmp_path / "ro"
    d.mkdir()
    target = d / "sigma.json"
    target.write_text(OLD)
    d.chmod(0o755)
    os.chmod(tmp_path, 0o755)
    pid = os.fork()
    if pid == 0:  # the child drops to an unprivileged user (root ignores permission bits)
        code = 70
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            else:
                d.chmod(0o555)
            try:
                write_atomic(target, "new\n")
                code = 71
            except WriteFailed as exc:
                code = (
                    0
                    if "Permission denied" in exc.message
                    and "previous file was kept" in exc.message
                    else 72
                )
        finally:
            os._exit(code)
    import time

    deadline = time.monotonic() + 60
    while True:  # never hang the suite on a stuck child
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the unprivileged writer did not finish")
        time.sleep(0.05)
    d.chmod(0o755)
    assert os.waitstatus_to_exitcode(status) == 0
    assert target.read_text() == OLD
    assert [p.name for p in d.iterdir()] == ["sigma.json"]


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs (a disk that fills up); skipped where mounting is not permitted."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.decode().strip())
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.local_only("about the output file; the remote path is the same code")
def test_disk_full_keeps_the_old_file(cli, run, tiny_fs):
    from sigma.services import vps

    seed_fleet(run)
    for i in range(20):  # enough targets for a file bigger than the space left
        run(
            vps.create,
            {
                "hostname": f"bulk-{i:03d}",
                "status": "active",
                "notes": "x",
                "ip_addresses": [{"ip": f"198.51.100.{i + 1}"}],
                "alias": "a" * 200,
            },
        )
    target = tiny_fs / "sigma.json"
    target.write_text(OLD)
    try:  # fill the disk up
        with open(tiny_fs / "filler", "wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
    except OSError:
        pass
    r = cli("export", "prometheus", "-o", target)
    assert r.code == 1
    assert "No space left on device" in r.err and "previous file was kept" in r.err
    assert target.read_text() == OLD
    assert sorted(p.name for p in tiny_fs.iterdir()) == ["filler", "sigma.json"]


# ------------------------------------------------------------------ promtool

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (Debian: prometheus)"
)


def _config(tmp_path, sd_file) -> str:
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "scrape_configs:\n"
        "  - job_name: vps-node-exporter\n"
        "    file_sd_configs:\n"
        f"      - files: ['{sd_file}']\n"
        "        refresh_interval: 60s\n"
        "    relabel_configs:\n"
        "      - source_labels: [instance_name]\n"
        "        target_label: instance_display\n"
    )
    return str(cfg)


@needs_promtool
@pytest.mark.local_only(
    "promtool checks the file; local and remote write the same one (test_prometheus)"
)
def test_promtool_accepts_the_exported_file(cli, run, tmp_path):
    seed_fleet(run)
    sd = tmp_path / "targets" / "sigma.json"
    sd.parent.mkdir()
    assert cli("export", "prometheus", "-o", sd).code == 0
    cfg = _config(tmp_path, sd)
    r = subprocess.run(["promtool", "check", "config", cfg], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout

    r = subprocess.run(
        ["promtool", "check", "service-discovery", "--timeout=3s", cfg, "vps-node-exporter"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    found = {t["labels"]["instance_name"]: t["labels"] for t in json.loads(r.stdout)}
    assert set(found) == {"hk-exit-01", "jp-relay-02", "sg-internal"}
    hk = found["hk-exit-01"]
    assert hk["__address__"] == "103.1.2.3:9100" and hk["instance"] == "103.1.2.3:9100"
    assert hk["instance_display"] == "hk-exit-01" and hk["job"] == "vps-node-exporter"
    assert (
        hk["tags"] == "cn-optimized,p:airport" and hk["provider"] == "DMIT" and hk["dc"] == "MEGA-i"
    )
    assert found["jp-relay-02"]["__address__"] == "[2001:db8::2]:9101"


@needs_promtool
@pytest.mark.parametrize(
    "broken",
    [
        '[{"targets": ["192.0.2.1:9100"], "labels": {"bad-label": "x"}}]',  # invalid label name
        '[{"targets": ["192.0.2.1:9100"], "labels": {"a": "b"}}',  # truncated JSON
        '{"targets": ["192.0.2.1:9100"]}',  # an object, not a list of groups
    ],
)
def test_promtool_rejects_a_broken_file(tmp_path, broken):
    sd = tmp_path / "sigma.json"
    sd.write_text(broken)
    r = subprocess.run(
        ["promtool", "check", "config", _config(tmp_path, sd)], capture_output=True, text=True
    )
    assert r.returncode != 0, r.stdout + r.stderr
    assert "FAILED" in r.stdout + r.stderr
