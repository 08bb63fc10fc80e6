"""An import killed halfway (SIGKILL) leaves the database exactly as it was: imports are one
transaction, so a writer that dies mid-way commits nothing."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest


def _snapshot(cli):
    r = cli("vps", "list", "--all", "--format", "json")
    assert r.code == 0, r.err
    return sorted((v["id"], v["hostname"], v["updated_at"]) for v in r.json())


@pytest.mark.local_only("the import process writes to the database itself")
def test_sigkill_mid_import_changes_nothing(cli, db_url, tmp_path):
    assert cli("provider", "add", "KillCo").code == 0
    for i in range(3):
        assert (
            cli("vps", "add", f"keep-{i}", "--provider", "KillCo", "--ip", f"192.0.2.{i + 1}").code
            == 0
        )
    before = _snapshot(cli)

    path = tmp_path / "big.csv"
    header = [
        "hostname",
        "provider_name",
        "ip_addresses",
        "status",
        "tags",
        "cost_monthly",
        "currency",
    ]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i in range(40_000):
            ip = f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}"
            w.writerow(
                [
                    f"bulk-{i}",
                    "KillCo",
                    f'[{{"ip":"{ip}","label":"overseas"}}]',
                    "active",
                    "a;b",
                    "3.50",
                    "USD",
                ]
            )

    env = {**os.environ, "SIGMA_DATABASE_URL": db_url}
    started = time.monotonic()
    full = subprocess.run(
        [sys.executable, "-m", "sigma", "import", "vps", str(path), "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert full.returncode == 0, full.stderr
    dry_run_seconds = time.monotonic() - started

    # kill once while the rows are being validated and once as they are written (validation
    # takes about as long as the dry run); each time nothing may have changed
    for fraction in (0.6, 1.15):
        proc = subprocess.Popen(
            [sys.executable, "-m", "sigma", "import", "vps", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(max(0.5, dry_run_seconds * fraction))
        if proc.poll() is not None:
            assert fraction > 1, (
                "the import finished before it could be killed; make the file bigger"
            )
            break  # it committed: too fast to catch in the write phase on this machine
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert _snapshot(cli) == before, f"killed at {fraction:.2f} x the dry-run time"
        r = cli("vps", "list", "--search", "bulk-", "--format", "json")
        assert r.code == 0 and r.json() == []
