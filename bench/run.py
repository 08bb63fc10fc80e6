"""Run the benchmarks of the performance budgets (bench/README.md) and print every figure.

    python bench/run.py                  # all benchmarks
    python bench/run.py startup --runs 20
    python bench/run.py --json figures.json

`nox -s bench` calls this. Exit status 1 when a budget is missed. The figures that go into
bench/README.md are copied from this output, with the machine header it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BENCHMARKS = (
    "startup",
    "list_filtered",
    "exports",
    "heartbeats",
    "import_csv",
    "probe_targets",
    "agent_resources",
    "web_pages",
    "history",
    "verdicts",
    "check_history",
    "attention",
    "sync",
)
# the arguments run.py gives each (besides startup, which takes --runs)
ARGS = {
    "list_filtered": ["--runs", "100"],
    "exports": ["--runs", "15"],
    "heartbeats": ["--seconds", "20"],
    "import_csv": [],
    "probe_targets": [],  # ICMP needs root; `bench/probe_targets.py --check-types tcp` otherwise
    "agent_resources": ["--seconds", "300"],
    "web_pages": ["--runs", "50"],
    "history": ["--runs", "100"],
    "verdicts": ["--runs", "30", "--ingest-runs", "3"],
    "check_history": ["--runs", "20"],
    "attention": ["--runs", "20"],
    "sync": ["--runs", "3"],
}


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        ram = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, IndexError, ValueError):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": (
            f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})"
        ),
        "os": platform.platform(),
        "load average": " ".join(f"{x:.2f}" for x in load),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "only",
        nargs="*",
        metavar="BENCHMARK",
        help=f"any of: {', '.join(BENCHMARKS)} (default: all)",
    )
    ap.add_argument("--runs", type=int, default=15, help="runs per timed command (>= 10)")
    ap.add_argument("--json", type=Path, default=None, help="also write all figures here")
    args = ap.parse_args(argv)
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        ap.error(
            f"unknown benchmark {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}"
        )
    chosen = args.only or list(BENCHMARKS)

    info = machine()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    figures: dict[str, object] = {"machine": info}
    failed = False
    if "startup" in chosen:
        import startup

        t0 = time.perf_counter()
        results = startup.run(runs=max(args.runs, 10))
        print(
            f"\n== CLI startup ({time.perf_counter() - t0:.0f} s; load average now "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})"
        )
        print(startup.table(results), flush=True)
        figures["startup"] = [r.as_dict() for r in results]
        failed |= any(r.verdict == "FAIL" for r in results)
    for name, bench_args in ARGS.items():  # each prints its own figures and verdict
        if name in chosen:
            print(f"\n== {name}", flush=True)
            module = __import__(name)
            failed |= module.main(bench_args) != 0
            print(f"(load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())})", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
