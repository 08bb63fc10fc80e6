"""Tables in a real terminal (a pseudo-terminal of 80 and 120 columns): every line fits, ids,
hostnames and IP addresses are never broken or cut, free text gives way with an ellipsis,
and the footer says which columns were hidden."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import sysconfig
import termios
from pathlib import Path

import pytest

SIGMA = str(Path(sysconfig.get_path("scripts")) / "sigma")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_terminal(argv: list[str], columns: int, env: dict[str, str]) -> str:
    """Run argv with its stdout and stderr on a pseudo-terminal `columns` wide; the text it
    printed, without colours."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal's size is set before it starts
        os.execve(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out.decode(errors="replace")
    return ANSI.sub("", out.decode()).replace("\r", "")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> tuple[dict[str, str], list[dict[str, str]]]:
    home = tmp_path_factory.mktemp("terminal")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGMA_") and k != "COLUMNS"}
    env.update(SIGMA_DATA_DIR=str(home / "data"), SIGMA_CONFIG=str(home / "none.yaml"))
    env.pop("FORCE_COLOR", None)
    env.pop("TTY_COMPATIBLE", None)
    rows = ["hostname,alias,ip_addresses,country,status,cost_monthly,currency,expire_date,tags"]
    for i in range(12):
        ips = f"103.1.{i}.1=china-telecom;2001:db8:1234:5678:90ab:cdef:{i:04x}:1=overseas"
        rows.append(
            f"hk-exit-{i:02d},Hong Kong exit number {i} with a long alias,{ips},HK,active,"
            f"15.99,USD,2027-01-{i + 1:02d},cn-optimized;premium-route;tag-{i}"
        )
    (home / "fleet.csv").write_text("\n".join(rows) + "\n")
    subprocess.run(
        [SIGMA, "import", "vps", str(home / "fleet.csv")], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [SIGMA, "ticket", "open", "Packet loss to Guangzhou " * 4, "--vps", "hk-exit-03"],
        env=env,
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        [sys.executable, "-m", "sigma", "vps", "list", "--format", "json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    import json

    return env, json.loads(listed.stdout)


@pytest.mark.parametrize("columns", [80, 120])
def test_vps_list_fits_the_terminal(fleet, columns):
    env, vpss = fleet
    text = run_in_terminal([SIGMA, "vps", "list"], columns, env)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= columns, text
    for v in vpss:  # one line per VPS, with its whole id prefix and hostname
        line = next(line for line in lines if line.startswith(v["id"][:8]))
        assert f" {v['hostname']}" in line, text
    assert "hidden to fit" in text  # 11 columns never fit in 120
    if columns == 120:  # the IPs column is shown there, each address whole
        for v in vpss:
            for entry in v["ip_addresses"]:
                assert entry["ip"] in text, text


@pytest.mark.parametrize("columns", [80, 120])
def test_ticket_and_audit_lists_fit_the_terminal(fleet, columns):
    env, _ = fleet
    for argv in ([SIGMA, "ticket", "list"], [SIGMA, "audit", "list"]):
        text = run_in_terminal(argv, columns, env)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= columns, text
        assert "…" in text  # the long title or details are cut, not folded
    text = run_in_terminal([SIGMA, "ticket", "list"], columns, env)
    row = next(line for line in text.splitlines() if "Packet loss" in line)
    assert re.match(r"^[0-9a-f]{8} ", row), text


def test_a_pipe_gets_whole_cells(fleet):
    """Out of a terminal nothing is cut or hidden: grep and cut see every value."""
    env, vpss = fleet
    out = subprocess.run(
        [SIGMA, "vps", "list"], env={**env, "COLUMNS": "80"}, capture_output=True, text=True
    ).stdout
    assert "Hong Kong exit number 3 with a long alias" in out
    assert vpss[0]["ip_addresses"][1]["ip"] in out and "…" not in out
