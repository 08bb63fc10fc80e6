"""A real OpenSSH server for deploy tests: started by the test on a free loopback port,
with a throwaway host key, a throwaway user key, and a per-test `fakebin` directory put
first on the remote PATH (for the tools this sandbox cannot really run, e.g. systemctl)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from serverproc import free_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(ok: bool, why: str) -> None:
    if not ok:
        if IN_CI:
            pytest.fail(f"required under CI=true: {why}")
        pytest.skip(why)


def keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sigma-test", "-f", str(path)],
        check=True,
    )
    return path


@dataclass
class Sshd:
    port: int
    dir: Path
    host_key: Path
    user_key: Path
    known_hosts: Path
    fakebin: Path
    root: Path  # where the deploy installs things on the "host" (a tmp dir, not /usr)
    proc: subprocess.Popen

    def known_line(self) -> str:
        kind, b64 = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {b64}\n"

    def trust(self) -> None:
        self.known_hosts.write_text(self.known_line())

    def fake(self, name: str, script: str) -> Path:
        path = self.fakebin / name
        path.write_text("#!/bin/sh\n" + textwrap.dedent(script))
        path.chmod(0o755)
        return path

    def fake_systemd(self) -> Path:
        """A stateful systemctl stand-in: records every call, remembers enabled/active."""
        state = self.dir / "systemd-state"
        state.mkdir(exist_ok=True)
        self.fake(
            "systemctl",
            f"""\
            echo "$*" >> {self.dir}/systemctl.log
            S={state}
            case "$1" in
              is-system-running) echo running ;;
              is-enabled) [ -f "$S/enabled-$2" ] ;;
              is-active) [ -f "$S/active-$2" ] ;;
              enable) touch "$S/enabled-$2" ;;
              disable) shift; [ "$1" = --now ] && shift; rm -f "$S/enabled-$1" "$S/active-$1" ;;
              start|restart) touch "$S/active-$2" ;;
              daemon-reload) ;;
              *) echo "fake systemctl: unsupported $*" >&2; exit 1 ;;
            esac
            """,
        )
        return state

    def systemctl_calls(self) -> list[str]:
        log = self.dir / "systemctl.log"
        return log.read_text().splitlines() if log.exists() else []

    @property
    def bin_path(self) -> Path:
        return self.root / "usr/local/bin/node_exporter"

    @property
    def unit_dir(self) -> Path:
        return self.root / "etc/systemd/system"

    def args(self) -> list[str]:
        """The CLI options pointing a deploy at this server and its tmp install root."""
        return [
            "--identity",
            str(self.user_key),
            "--known-hosts",
            str(self.known_hosts),
            "--bin-path",
            str(self.bin_path),
            "--unit-dir",
            str(self.unit_dir),
        ]


@pytest.fixture
def sshd(tmp_path, monkeypatch) -> Iterator[Sshd]:
    _need(
        os.path.exists(SSHD),
        f"OpenSSH server not installed ({SSHD}): apt-get install openssh-server",
    )
    _need(os.geteuid() == 0, "sshd tests run as root (as on the development machines and CI)")
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # only the throwaway key may log in
    d = tmp_path / "sshd"
    d.mkdir()
    fakebin = d / "fakebin"
    fakebin.mkdir()
    host_key, user_key = keygen(d / "host_key"), keygen(d / "user_key")
    port = free_port()
    config = d / "sshd_config"
    config.write_text(
        textwrap.dedent(f"""\
        Port {port}
        ListenAddress 127.0.0.1
        HostKey {host_key}
        PidFile {d}/sshd.pid
        AuthorizedKeysFile {user_key}.pub
        PermitRootLogin prohibit-password
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UsePAM no
        StrictModes no
        Subsystem sftp internal-sftp
        SetEnv PATH={fakebin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SHLVL=1
        """)
    )
    # SHLVL=1: bash skips ~/.bashrc for commands run by sshd (this machine's root .bashrc
    # runs `pyenv init`, about a second per command, which no fleet host has)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    log = open(d / "sshd.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            log.close()
            pytest.fail(f"sshd exited: {(d / 'sshd.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("sshd did not start listening")
            time.sleep(0.05)
    root = tmp_path / "hostroot"
    root.mkdir()
    yield Sshd(port, d, host_key, user_key, tmp_path / "known_hosts", fakebin, root, proc)
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


METRICS = b"# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 0.25\n"


@pytest.fixture
def metrics_port() -> Iterator[int]:
    """A loopback HTTP server answering /metrics as node_exporter would (the real one
    cannot be started here without systemd)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path != "/metrics":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(METRICS)))
            self.end_headers()
            self.wfile.write(METRICS)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_node_exporter(tmp_path) -> Path:
    """The 'binary' to upload: a small script standing in for node_exporter."""
    path = tmp_path / "node_exporter"
    path.write_text("#!/bin/sh\necho 'node_exporter, version 1.8.2 (sigma test stand-in)'\n")
    path.chmod(0o755)
    return path
