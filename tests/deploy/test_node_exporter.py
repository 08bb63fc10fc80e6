"""`sigma deploy node-exporter` against a real sshd on loopback (see conftest.py).

This sandbox has no running systemd: the service-manager step is covered with a recording
`systemctl` stand-in on the remote PATH, and, without it, the real systemctl, whose
refusal must show as the host's failure."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest

from sigma.deploy.node_exporter import Layout, Options, Target, deploy_host, make_plan, render_unit
from sigma.deploy.ssh import DeployError, SshOptions

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def add_vps(cli, name: str, ssh_port: int, metrics_port: int, *extra: str) -> dict:
    r = cli(
        "vps",
        "add",
        name,
        "--ip",
        "10.0.0.1=internal",
        "--ip",
        "127.0.0.1=overseas",
        "--ssh-port",
        ssh_port,
        "--node-exporter-port",
        metrics_port,
        "--no-monitoring",
        "--status",
        "active",
        *extra,
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    return r.json()


def deploy(cli, sshd, *args: str):
    return cli(
        "deploy", "node-exporter", *args, *sshd.args(), "--metrics-wait", "3", "--format", "json"
    )


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def analyze(unit_path) -> subprocess.CompletedProcess:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is required (Debian package systemd)")
    return subprocess.run(
        [tool, "verify", "--man=no", str(unit_path)], capture_output=True, text=True
    )


# ------------------------------------------------------------------ whole runs


def test_deploy_installs_then_second_run_is_unchanged(cli, sshd, metrics_port, fake_node_exporter):
    vps = add_vps(cli, "hk-exit-01", sshd.port, metrics_port)
    sshd.trust()
    sshd.fake_systemd()

    r = deploy(cli, sshd, "hk-exit-01", "--binary", str(fake_node_exporter))
    assert r.code == 0, r.err + r.out
    [row] = r.json()
    assert row["status"] == "changed", row
    assert row["host"] == "hk-exit-01" and row["address"] == "127.0.0.1"  # internal IP skipped
    assert any(a.startswith("installed binary") for a in row["actions"])
    assert "inventory: monitoring enabled" in row["actions"]

    # the binary arrived intact and executable; the unit names it and the inventory's port
    assert sha(sshd.bin_path) == sha(fake_node_exporter)
    assert sshd.bin_path.stat().st_mode & 0o777 == 0o755
    unit = sshd.unit_dir / "node_exporter.service"
    text = unit.read_text()
    assert f"ExecStart={sshd.bin_path} --web.listen-address=:{metrics_port}\n" in text
    assert "DynamicUser=yes" in text and "WantedBy=multi-user.target" in text
    check = analyze(unit)
    assert check.returncode == 0 and not (check.stdout + check.stderr).strip(), check.stderr
    calls = sshd.systemctl_calls()
    assert "daemon-reload" in calls and "enable node_exporter.service" in calls
    assert "start node_exporter.service" in calls

    # inventory updated through the backend, with its audit row
    shown = cli("vps", "show", "hk-exit-01", "--format", "json").json()
    assert shown["monitoring_enabled"] is True and shown["node_exporter_port"] == metrics_port
    audit = cli("audit", "list", "--resource", "vps", "--action", "update", "--format", "json")
    assert audit.code == 0, audit.err
    assert [e["resource_id"] for e in audit.json()] == [vps["id"]]

    # second run: same checksums, service running -> unchanged, nothing restarted or written
    before = (sshd.bin_path.stat().st_mtime_ns, unit.stat().st_mtime_ns, len(calls))
    r = deploy(cli, sshd, "hk-exit-01", "--binary", str(fake_node_exporter))
    assert r.code == 0, r.err
    [row] = r.json()
    assert row["status"] == "unchanged" and row["actions"] == [], row
    assert (sshd.bin_path.stat().st_mtime_ns, unit.stat().st_mtime_ns) == before[:2]
    new_calls = sshd.systemctl_calls()[before[2] :]
    assert not [
        c for c in new_calls if c.split()[0] in ("start", "restart", "daemon-reload", "enable")
    ]
    audit = cli("audit", "list", "--resource", "vps", "--action", "update", "--format", "json")
    assert len(audit.json()) == 1  # no second inventory write

    # a new binary: uploaded again, and only then restarted
    fake_node_exporter.write_text(fake_node_exporter.read_text() + "# 1.8.3\n")
    r = deploy(cli, sshd, "hk-exit-01", "--binary", str(fake_node_exporter))
    [row] = r.json()
    assert row["status"] == "changed" and "restarted" in row["actions"], row
    assert sha(sshd.bin_path) == sha(fake_node_exporter)


@SQLITE_ONLY
def test_table_output_and_exit_status(cli, sshd, metrics_port, fake_node_exporter):
    add_vps(cli, "jp-relay-01", sshd.port, metrics_port)
    sshd.trust()
    sshd.fake_systemd()
    r = cli(
        "deploy", "node-exporter", "jp-relay-01", "--binary", str(fake_node_exporter), *sshd.args()
    )
    assert r.code == 0, r.err + r.out
    assert "jp-relay-01" in r.out and "changed" in r.out and "Result" in r.out


@SQLITE_ONLY
def test_unknown_host_key_is_refused(cli, sshd, metrics_port, fake_node_exporter):
    add_vps(cli, "h1", sshd.port, metrics_port)
    sshd.fake_systemd()
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter))
    assert r.code == 1
    [row] = r.json()
    assert row["status"] == "failed"
    assert "unknown" in row["reason"] and "--accept-new" in row["reason"]
    assert not sshd.known_hosts.exists()
    assert not sshd.bin_path.exists()
    assert "1 of 1 hosts failed" in r.err
    assert cli("vps", "show", "h1", "--format", "json").json()["monitoring_enabled"] is False


@SQLITE_ONLY
def test_accept_new_records_the_key_then_it_is_checked(cli, sshd, metrics_port, fake_node_exporter):
    add_vps(cli, "h1", sshd.port, metrics_port)
    sshd.fake_systemd()
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter), "--accept-new")
    assert r.code == 0, r.out
    assert sshd.known_hosts.read_text() == sshd.known_line()
    # now known: accepted without --accept-new, and not recorded twice
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter))
    assert r.code == 0 and r.json()[0]["status"] == "unchanged"
    assert sshd.known_hosts.read_text() == sshd.known_line()
    # hashed host names (Debian's ssh default, HashKnownHosts yes) are understood too
    subprocess.run(
        ["ssh-keygen", "-q", "-H", "-f", str(sshd.known_hosts)], check=True, capture_output=True
    )
    assert sshd.known_hosts.read_text().startswith("|1|")
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter))
    assert r.code == 0 and r.json()[0]["status"] == "unchanged", r.out


def other_host_key(tmp_path, kind: str = "ed25519") -> str:
    path = tmp_path / f"impostor_{kind}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


@SQLITE_ONLY
@pytest.mark.parametrize("kind", ["ed25519", "ecdsa"])
def test_changed_host_key_is_refused_even_with_accept_new(
    cli, sshd, metrics_port, fake_node_exporter, tmp_path, kind
):
    """Same key type with another key, or only a key of another type recorded: refused."""
    add_vps(cli, "h1", sshd.port, metrics_port)
    sshd.fake_systemd()
    recorded = f"[127.0.0.1]:{sshd.port} {other_host_key(tmp_path, kind)}\n"
    sshd.known_hosts.write_text(recorded)
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter), "--accept-new")
    assert r.code == 1
    [row] = r.json()
    assert row["status"] == "failed" and "CHANGED" in row["reason"], row
    assert sshd.known_hosts.read_text() == recorded  # not overwritten, nothing appended
    assert not sshd.bin_path.exists()


@SQLITE_ONLY
def test_wrong_user_key_is_an_authentication_failure(
    cli, sshd, metrics_port, fake_node_exporter, tmp_path
):
    add_vps(cli, "h1", sshd.port, metrics_port)
    sshd.trust()
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    args = sshd.args()
    args[args.index("--identity") + 1] = str(stranger)
    r = cli(
        "deploy",
        "node-exporter",
        "h1",
        "--binary",
        str(fake_node_exporter),
        *args,
        "--format",
        "json",
    )
    assert r.code == 1
    assert "authentication failed for root@127.0.0.1" in r.json()[0]["reason"]


@SQLITE_ONLY
def test_checksum_is_verified_on_the_host(cli, sshd, metrics_port, fake_node_exporter):
    """A host whose copy does not hash as ours (here: a lying sha256sum) gets nothing moved
    into place, and the host fails with the two checksums."""
    add_vps(cli, "h1", sshd.port, metrics_port)
    sshd.trust()
    sshd.fake_systemd()
    sshd.fake(
        "sha256sum",
        "cat >/dev/null; echo 0000000000000000000000000000000000000000000000000000000000000000 -\n",
    )
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter))
    assert r.code == 1
    [row] = r.json()
    assert "checksum mismatch after uploading the binary" in row["reason"]
    assert sha(fake_node_exporter) in row["reason"]
    assert not sshd.bin_path.exists()
    assert not list(sshd.bin_path.parent.glob("*")) if sshd.bin_path.parent.exists() else True
    assert not [c for c in sshd.systemctl_calls() if not c.startswith(("is-", "daemon"))]


@SQLITE_ONLY
def test_expected_sha256_of_the_local_binary(cli, sshd, metrics_port, fake_node_exporter):
    add_vps(cli, "h1", sshd.port, metrics_port)
    sshd.trust()
    sshd.fake_systemd()
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter), "--sha256", "ab" * 32)
    assert r.code == 2 and "sha256:" in r.err and sha(fake_node_exporter) in r.err
    assert not sshd.bin_path.exists()
    r = deploy(
        cli,
        sshd,
        "h1",
        "--binary",
        str(fake_node_exporter),
        "--sha256",
        sha(fake_node_exporter).upper(),
    )
    assert r.code == 0, r.out


@SQLITE_ONLY
def test_no_systemd_is_reported_as_a_failure(cli, sshd, metrics_port, fake_node_exporter):
    """No stand-in: the sandbox's real systemctl, with no systemd as PID 1."""
    add_vps(cli, "h1", sshd.port, metrics_port)
    sshd.trust()
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter))
    assert r.code == 1
    [row] = r.json()
    assert row["status"] == "failed"
    assert row["reason"].startswith("service manager:"), row
    assert "systemd" in row["reason"]
    # what was done before the step is reported, and is on disk
    assert any(a.startswith("installed binary") for a in row["actions"])
    assert sshd.bin_path.exists() and (sshd.unit_dir / "node_exporter.service").exists()
    assert cli("vps", "show", "h1", "--format", "json").json()["monitoring_enabled"] is False
    # and it stays a failure on the next run (nothing to install, still no service manager)
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter))
    [row] = r.json()
    assert r.code == 1 and row["status"] == "failed" and row["actions"] == []


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@SQLITE_ONLY
def test_one_host_failing_does_not_stop_the_others(cli, sshd, metrics_port, fake_node_exporter):
    add_vps(cli, "good", sshd.port, metrics_port)
    add_vps(cli, "no-metrics", sshd.port, closed_port())  # /metrics unreachable from here
    add_vps(cli, "no-sshd", closed_port(), metrics_port)  # nothing listens for SSH
    r = cli("vps", "retire", "no-sshd")
    assert r.code == 0
    add_vps(cli, "retired-but-named", closed_port(), metrics_port)
    cli("vps", "retire", "retired-but-named")
    add_vps(cli, "down", closed_port(), metrics_port)
    sshd.trust()
    sshd.fake_systemd()
    r = cli(
        "deploy",
        "node-exporter",
        "good",
        "no-metrics",
        "down",
        "retired-but-named",
        "--binary",
        str(fake_node_exporter),
        *sshd.args(),
        "--metrics-wait",
        "0.5",
        # one at a time: "good" and "no-metrics" are the same test sshd, i.e. one filesystem,
        # and two concurrent installs into it race (real VPS never share a disk)
        "--parallel",
        "1",
        "--format",
        "json",
    )
    assert r.code == 1
    rows = {row["host"]: row for row in r.json()}
    assert list(rows) == ["good", "no-metrics", "down", "retired-but-named"]  # input order
    assert rows["good"]["status"] == "changed"
    assert rows["no-metrics"]["status"] == "failed"
    assert "/metrics did not answer from here" in rows["no-metrics"]["reason"]
    assert (
        rows["down"]["status"] == "failed"
        and "cannot connect to root@127.0.0.1" in rows["down"]["reason"]
    )
    assert rows["retired-but-named"]["reason"] == "the VPS is retired"
    assert "3 of 4 hosts failed" in r.err
    shown = {
        h: cli("vps", "show", h, "--format", "json").json()["monitoring_enabled"] for h in rows
    }
    assert shown == {"good": True, "no-metrics": False, "down": False, "retired-but-named": False}


@SQLITE_ONLY
def test_filter_selects_vps_and_leaves_retired_out(cli, sshd, metrics_port, fake_node_exporter):
    add_vps(cli, "tagged", sshd.port, metrics_port, "--tag", "cn-optimized")
    add_vps(cli, "untagged", sshd.port, metrics_port)
    add_vps(cli, "tagged-retired", sshd.port, metrics_port, "--tag", "cn-optimized")
    cli("vps", "retire", "tagged-retired")
    sshd.trust()
    sshd.fake_systemd()
    r = cli(
        "deploy",
        "node-exporter",
        "--filter",
        "tag=cn-optimized",
        "--filter",
        "country=",
        "--binary",
        str(fake_node_exporter),
        *sshd.args(),
        "--format",
        "json",
    )
    assert r.code == 0, r.out + r.err
    assert [row["host"] for row in r.json()] == ["tagged"]
    r = cli("deploy", "node-exporter", "--filter", "tag=nothing-has-this", *sshd.args())
    assert r.code == 3 and "no VPS matches the filter" in r.err


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give VPS references or --filter"),
        (("h1", "--filter", "status=active"), "give VPS references or --filter"),
        (("--filter", "colour=blue"), "filter: 'colour=blue' is not KEY=VALUE"),
        (("--filter", "status=gone"), "status"),
        (("h1", "--parallel", "0"), "parallel: must be between 1 and 64"),
        (
            ("h1", "--binary", "/nonexistent/node_exporter"),
            "binary: /nonexistent/node_exporter is not a file",
        ),
        (("h1", "--sha256", "ab" * 32), "sha256: only meaningful with --binary"),
        (("h1", "--port", "70000"), "port: must be between 1 and 65535"),
        (("h1", "--unit-dir", "relative/dir"), "unit_dir: must be an absolute path"),
        (("no-such-vps",), "no-such-vps"),
    ],
)
def test_bad_input_is_refused_before_connecting(cli, args, message, tmp_path):
    add_vps(cli, "h1", closed_port(), 9100)
    r = cli("deploy", "node-exporter", *args, "--known-hosts", str(tmp_path / "kh"), "--accept-new")
    assert r.code in (2, 3), r.err
    assert message in r.err
    assert not (tmp_path / "kh").exists()


@SQLITE_ONLY
def test_dry_run_changes_nothing(cli, sshd, metrics_port, fake_node_exporter):
    add_vps(cli, "h1", sshd.port, metrics_port)
    sshd.fake_systemd()
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter), "--dry-run", "--accept-new")
    assert r.code == 0, r.out
    [row] = r.json()
    assert row["status"] == "would change"
    assert row["actions"] == [
        "upload binary",
        "write node_exporter.service",
        "daemon-reload",
        "enable",
        "start",
    ]
    assert "dry run: nothing was changed" in r.err
    assert (
        not sshd.bin_path.exists() and not sshd.known_hosts.exists()
    )  # key accepted, not recorded
    assert [c.split()[0] for c in sshd.systemctl_calls()] == [
        "is-system-running",
        "is-enabled",
        "is-active",
    ]
    assert cli("vps", "show", "h1", "--format", "json").json()["monitoring_enabled"] is False

    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter), "--accept-new")
    assert r.json()[0]["status"] == "changed"
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter), "--dry-run")
    assert r.json()[0]["status"] == "unchanged" and r.json()[0]["actions"] == []
    # another port (saved to the inventory when deployed for real)
    r = deploy(cli, sshd, "h1", "--binary", str(fake_node_exporter), "--dry-run", "--port", "9199")
    assert r.json()[0]["actions"] == ["write node_exporter.service", "daemon-reload", "restart"]


@SQLITE_ONLY
def test_port_option_is_saved_to_the_inventory(cli, sshd, metrics_port, fake_node_exporter):
    add_vps(cli, "h1", sshd.port, 9100)
    sshd.trust()
    sshd.fake_systemd()
    r = deploy(
        cli, sshd, "h1", "--binary", str(fake_node_exporter), "--port", str(metrics_port), "-q"
    )
    assert r.code == 0
    shown = cli("vps", "show", "h1", "--format", "json").json()
    assert r.out.strip() == shown["id"]
    assert (shown["monitoring_enabled"], shown["node_exporter_port"]) == (True, metrics_port)
    assert (
        f"--web.listen-address=:{metrics_port}"
        in (sshd.unit_dir / "node_exporter.service").read_text()
    )


# ------------------------------------------------------------------ the package path


def test_debian_package_path(sshd, metrics_port, tmp_path):
    """No --binary: apt-get installs prometheus-node-exporter (stand-ins for apt-get and
    dpkg-query here, since the test must not install packages on the machine), the
    service the package starts is disabled, our unit runs the package's binary."""
    state = sshd.fake_systemd()
    pkg_unit = "prometheus-node-exporter.service"
    pkg_bin = sshd.root / "usr/bin/prometheus-node-exporter"
    marker = sshd.dir / "pkg-installed"
    sshd.fake("dpkg-query", f'[ -f {marker} ] && printf "install ok installed" || exit 1\n')
    sshd.fake(
        "apt-get",
        f"""\
        echo "$*" >> {sshd.dir}/apt.log
        case " $* " in *" install "*) mkdir -p {pkg_bin.parent}; printf '#!/bin/sh\\n' > {pkg_bin};
          chmod 755 {pkg_bin}; touch {marker};
          touch {state}/enabled-{pkg_unit} {state}/active-{pkg_unit} ;; esac  # as its postinst does
        """,
    )
    sshd.trust()
    layout = Layout(
        binary=str(sshd.bin_path), package_binary=str(pkg_bin), unit_dir=str(sshd.unit_dir)
    )
    opts = Options(
        ssh=SshOptions(identity=str(sshd.user_key), known_hosts=str(sshd.known_hosts)),
        layout=layout,
        metrics_wait=3,
    )
    target = Target("pkg-host", "127.0.0.1", sshd.port, metrics_port, vps_id="x")

    res = deploy_host(target, opts)
    assert res.status == "changed", res
    assert res.actions[0] == "installed package prometheus-node-exporter"
    assert "disabled prometheus-node-exporter.service" in res.actions  # it would hold the port
    assert (
        not (state / f"active-{pkg_unit}").exists() and not (state / f"enabled-{pkg_unit}").exists()
    )
    assert "install" in (sshd.dir / "apt.log").read_text()
    unit = sshd.unit_dir / "node_exporter.service"
    assert f"ExecStart={pkg_bin} --web.listen-address=:{metrics_port}" in unit.read_text()
    check = analyze(unit)
    assert check.returncode == 0 and not (check.stdout + check.stderr).strip(), check.stderr

    again = deploy_host(target, opts)
    assert (again.status, again.actions) == ("unchanged", [])
    assert len((sshd.dir / "apt.log").read_text().splitlines()) == 1  # not installed again


# ------------------------------------------------------------------ pure parts


def test_unit_file_passes_systemd_analyze(tmp_path):
    binary = tmp_path / "node_exporter"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    unit = tmp_path / "node_exporter.service"
    unit.write_text(render_unit(str(binary), 9100, ("--collector.systemd",)))
    check = analyze(unit)
    assert check.returncode == 0 and not (check.stdout + check.stderr).strip(), check.stderr
    # and systemd-analyze does catch a broken one
    unit.write_text(render_unit(str(tmp_path / "missing"), 9100))
    assert analyze(unit).returncode != 0


FACTS = {"have_sha256sum": "1", "have_apt": "1"}


def test_plan_from_facts():
    t = Target("h", "1.2.3.4", 22, 9100)
    pkg = Options()
    plan = make_plan(FACTS, t, pkg)
    assert (plan.install, plan.write_unit, plan.restart) == ("package", True, True)
    unit_sha = hashlib.sha256(plan.unit_text.encode()).hexdigest()
    done = make_plan(
        {**FACTS, "pkg_status": "install ok installed", "unit_sha256": unit_sha}, t, pkg
    )
    assert (done.install, done.write_unit, done.restart) == (None, False, False)
    with pytest.raises(DeployError, match="pass --binary PATH"):
        make_plan({"have_sha256sum": "1"}, t, pkg)
    with pytest.raises(DeployError, match="sha256sum not found"):
        make_plan({}, t, pkg)
    up = Options(binary="/x", binary_sha256="a" * 64)
    plan = make_plan({"have_sha256sum": "1", "bin_sha256": "a" * 64}, t, up)
    assert plan.install == "upload"  # present but not executable
    plan = make_plan({"have_sha256sum": "1", "bin_sha256": "a" * 64, "bin_exec": "1"}, t, up)
    assert plan.install is None and plan.write_unit


def test_json_rows_are_stable():
    from sigma.deploy.node_exporter import HostResult

    row = HostResult("h", "1.2.3.4", "failed", ["wrote x"], "boom", "id-1", 9100).as_row()
    assert json.loads(json.dumps(row)) == {
        "host": "h",
        "address": "1.2.3.4",
        "port": 9100,
        "status": "failed",
        "actions": ["wrote x"],
        "reason": "boom",
        "id": "id-1",
    }
