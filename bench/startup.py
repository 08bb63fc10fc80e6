"""CLI startup budgets (bench/README.md), each a ratio to its import floor
measured in the same run:

  sigma --help                             <= 1.3 x  python -c "import typer"
  sigma vps list, local SQLite, 1,000 VPS  <= 1.2 x  python -c "import typer, rich.table, sqlmodel"
  sigma vps list, remote, 1,000 VPS        <= 1.3 x  python -c "import typer, rich.table, httpx"

Method: the real interpreter (sys.executable) and the real `sigma` console script next to it,
never a pyenv/asdf shim (a shim is a bash script that costs ~150 ms by itself). Each command
and its floor run alternately (A B, B A, A B ...) so that drift (CPU frequency, other load on
the machine) hits both sides alike; the figure is the median wall time. The default timer
spawns each run with posix_spawn (stdin/stdout/stderr on /dev/null) and also records the
child's CPU time (user + system, from wait4), whose ratio is steadier than wall time on a
busy machine. `--method hyperfine` uses rounds of `hyperfine -N` instead, both commands per
round, their order flipped every round (hyperfine cannot alternate single runs).
`sigma vps list` reads a temporary SQLite file loaded by bench/fleet.py, with SIGMA_CONFIG
pointing at a file that does not exist and SIGMA_DATA_DIR at an empty directory.
The remote case starts a real `sigma serve` on a free loopback port over another such file
(its first admin from SIGMA_ADMIN_EMAIL/PASSWORD), logs in as a user would (`sigma login URL
--email ... --password-stdin`: the server URL goes to the client's config file, the token to
the OS keyring or, without one, to the client's data dir), times `sigma vps list` against it,
then logs out and stops the server.

    python bench/startup.py [--runs 15] [--method subprocess|hyperfine] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
# measure the sigma of this checkout, whatever `pip install -e` last pointed site-packages at
SRC = HERE.parent / "src"
for path in (HERE, SRC, HERE.parent / "tests"):  # tests/serverproc.py: free_port
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

PY = sys.executable
FLOOR_HELP = "import typer"
FLOOR_LOCAL = "import typer, rich.table, sqlmodel"
FLOOR_REMOTE = "import typer, rich.table, httpx"
FLEET_VPS = 1_000
# settings that would distort the timings if the caller's shell had them
DROP_ENV = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONTRACEMALLOC",
    "PYTHONDEVMODE",
    "PYTHONMALLOC",
    "PYTHONVERBOSE",
    "PYTHONINSPECT",
)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class Result:
    what: str
    command: str
    times_ms: list[float]  # wall time of each run
    cpu_ms: list[float] = field(default_factory=list)  # user + system of each run
    floor: str | None = None
    floor_command: str | None = None
    floor_times_ms: list[float] = field(default_factory=list)
    floor_cpu_ms: list[float] = field(default_factory=list)
    budget: float | None = None  # max ratio to the floor; None = for information

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def floor_ms(self) -> float | None:
        return _median(self.floor_times_ms)

    @property
    def iqr_ms(self) -> float:
        if len(self.times_ms) < 4:
            return 0.0
        q = statistics.quantiles(self.times_ms, n=4)
        return q[2] - q[0]

    @property
    def ratio(self) -> float | None:
        return self.median_ms / self.floor_ms if self.floor_ms else None

    @property
    def cpu_ratio(self) -> float | None:
        cmd, floor = _median(self.cpu_ms), _median(self.floor_cpu_ms)
        return cmd / floor if cmd and floor else None

    @property
    def verdict(self) -> str:
        if self.budget is None or self.ratio is None:
            return "info"
        return "PASS" if self.ratio <= self.budget else "FAIL"

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "median_ms": self.median_ms,
            "floor_ms": self.floor_ms,
            "median_cpu_ms": _median(self.cpu_ms),
            "floor_cpu_ms_median": _median(self.floor_cpu_ms),
            "ratio": self.ratio,
            "cpu_ratio": self.cpu_ratio,
            "verdict": self.verdict,
        }


def sigma_script() -> str:
    """The console script installed beside this interpreter (not a version-manager shim)."""
    candidate = Path(sysconfig.get_path("scripts")) / ("sigma.exe" if os.name == "nt" else "sigma")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("sigma")
    if not found:
        raise SystemExit("no `sigma` command: pip install -e . first")
    return found


# ------------------------------------------------------------------------- timers


_DEVNULL_ACTIONS = [
    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
]


def spawn_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """One run, stdin/stdout/stderr on /dev/null: (wall ms, CPU ms = user + system of the child).
    posix_spawn + wait4: no shell, no pipes, the child's own rusage."""
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=_DEVNULL_ACTIONS)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter_ns() - t0) / 1e6
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{shlex.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def time_subprocess(
    commands: list[list[str]], runs: int, env: dict[str, str], warmup: int = 2
) -> tuple[list[list[float]], list[list[float]]]:
    """Alternate single runs (A B, then B A, ...): wall and CPU ms of each run, per command."""
    for _ in range(warmup):
        for argv in commands:
            spawn_once(argv, env)
    wall: list[list[float]] = [[] for _ in commands]
    cpu: list[list[float]] = [[] for _ in commands]
    order = list(range(len(commands)))
    for _ in range(runs):
        for i in order:
            w, c = spawn_once(commands[i], env)
            wall[i].append(w)
            cpu[i].append(c)
        order.reverse()
    return wall, cpu


def time_hyperfine(
    commands: list[list[str]], runs: int, env: dict[str, str], per_round: int = 3
) -> list[list[float]]:
    """Rounds of `hyperfine -N` with all commands, order flipped each round; times in ms."""
    times: list[list[float]] = [[] for _ in commands]
    order = list(range(len(commands)))
    rounds = max(1, -(-runs // per_round))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hf.json"
        for r in range(rounds):
            argv = [
                "hyperfine",
                "-N",
                "--style",
                "none",
                "--output",
                "null",
                "--warmup",
                "2" if r == 0 else "1",
                "--runs",
                str(per_round),
                "--export-json",
                str(out),
            ]
            argv += [shlex.join(commands[i]) for i in order]
            subprocess.run(
                argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            data = json.loads(out.read_text())["results"]
            for i, res in zip(order, data, strict=True):
                times[i].extend(t * 1000 for t in res["times"])
            order.reverse()
    return times


def measure(
    commands: list[list[str]], runs: int, env: dict[str, str], method: str
) -> tuple[list[list[float]], list[list[float]]]:
    """Wall ms and CPU ms (empty lists with hyperfine, which reports only means) per command."""
    if method == "hyperfine":
        return time_hyperfine(commands, runs, env), [[] for _ in commands]
    return time_subprocess(commands, runs, env)


# ------------------------------------------------------------------------- the benchmark


def _check(argv: list[str], env: dict[str, str], expect_lines: int = 0) -> None:
    """Run once for real: a benchmark of an error path would be worthless."""
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(
            f"{shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"
        )
    if len(proc.stdout.splitlines()) < expect_lines:
        raise SystemExit(
            f"{shlex.join(argv)} printed {len(proc.stdout.splitlines())} lines, "
            f"expected >= {expect_lines}"
        )


class RemoteServer:
    """A real `sigma serve` on a loopback port over a SQLite file, and a client logged in to
    it the way a user logs in (config file + stored token), in `tmp`."""

    ADMIN = ("bench@sigma.local", "bench-password-123")

    def __init__(self, sigma: str, db: Path, tmp: Path, env: dict[str, str]):
        self.sigma, self.tmp = sigma, tmp
        from serverproc import free_port

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        base_env = {k: v for k, v in env.items() if not k.startswith("SIGMA_")}
        self.server_env = {
            **base_env,
            "SIGMA_DATABASE_URL": f"sqlite:///{db}",
            "SIGMA_CONFIG": str(tmp / "server-config.yaml"),
            "SIGMA_DATA_DIR": str(tmp / "server-data"),
            "SIGMA_JWT_SECRET": "bench-startup-jwt-secret-0123456789",
            "SIGMA_ADMIN_EMAIL": self.ADMIN[0],
            "SIGMA_ADMIN_PASSWORD": self.ADMIN[1],
            # the benchmark sends a few hundred requests a minute
            "SIGMA_RATE_LIMIT_REQUESTS": "1000000",
            "SIGMA_JOBS_ENABLED": "false",  # no background jobs competing with the timed runs
        }
        self.client_env = {
            **base_env,
            "SIGMA_CONFIG": str(tmp / "client-config.yaml"),
            "SIGMA_DATA_DIR": str(tmp / "client-data"),
        }
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        import urllib.request

        log = open(self.tmp / "serve.log", "ab")  # noqa: SIM115 - the child keeps its own copy
        with log:
            self.proc = subprocess.Popen(
                [
                    self.sigma,
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                env=self.server_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"sigma serve exited: {(self.tmp / 'serve.log').read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise SystemExit("sigma serve did not answer /healthz in time")
        proc = subprocess.run(
            [self.sigma, "login", self.base, "--email", self.ADMIN[0], "--password-stdin"],
            input=self.ADMIN[1] + "\n",
            capture_output=True,
            text=True,
            env=self.client_env,
        )
        if proc.returncode != 0:
            self.stop()
            raise SystemExit(
                f"sigma login failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"
            )

    def stop(self) -> None:
        import signal

        if self.proc is None:
            return
        # forget the token (it may be in the OS keyring), then stop the server
        subprocess.run([self.sigma, "logout"], capture_output=True, env=self.client_env)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None


def run(runs: int = 15, method: str | None = None, quiet: bool = False) -> list[Result]:
    from fleet import build

    method = method or "subprocess"
    if method == "hyperfine" and not shutil.which("hyperfine"):
        raise SystemExit("hyperfine is not installed (apt-get install -y hyperfine)")
    sigma = sigma_script()
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="sigma-bench-") as tmp:
        db = Path(tmp) / "fleet.db"
        stats = build(f"sqlite:///{db}", FLEET_VPS, FLEET_VPS)
        say(
            f"fleet: {stats.vps} VPS in {db} (load {stats.load_s:.2f} s); "
            f"timing with {method}, {runs} runs each"
        )
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("SIGMA_") and k not in DROP_ENV
        }
        env["PYTHONPATH"] = os.pathsep.join(
            [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        env.update(
            SIGMA_DATABASE_URL=f"sqlite:///{db}",
            SIGMA_CONFIG=str(Path(tmp) / "no-such-config.yaml"),
            SIGMA_DATA_DIR=str(Path(tmp) / "data"),
            COLUMNS="160",
        )
        has_sqlmodel = (
            subprocess.run([PY, "-c", "import sqlmodel"], capture_output=True).returncode == 0
        )
        where = subprocess.run(
            [sigma, "--version"], capture_output=True, text=True, env=env
        ).stdout.strip()
        origin = subprocess.run(
            [PY, "-c", "import sigma; print(sigma.__file__)"],
            capture_output=True,
            text=True,
            env=env,
        ).stdout.strip()
        say(f"measuring {where} from {origin}")

        cases = [
            # (what, command, floor code, budget)
            ("sigma --help", [sigma, "--help"], FLOOR_HELP, 1.3),
            (
                f"sigma vps list (local SQLite, {FLEET_VPS:,} VPS)",
                [sigma, "vps", "list"],
                FLOOR_LOCAL if has_sqlmodel else None,
                1.2,
            ),
            (
                f"sigma vps list --all (local SQLite, {FLEET_VPS:,} rows shown)",
                [sigma, "vps", "list", "--all"],
                FLOOR_LOCAL if has_sqlmodel else None,
                None,
            ),
        ]
        if not has_sqlmodel:
            say("sqlmodel is not installed: `pip install sqlmodel` to measure the local-list floor")
        _check([sigma, "vps", "list"], env, expect_lines=25)
        _check([sigma, "vps", "list", "--all"], env, expect_lines=FLEET_VPS)

        # the interpreter alone, for reference
        base = [PY, "-c", "pass"]
        (t_base,), (c_base,) = measure([base], runs, env, method)
        results.append(
            Result("python -c pass (interpreter + site)", shlex.join(base), t_base, c_base)
        )
        for what, argv, floor_code, budget in cases:
            results.append(_time_case(what, argv, floor_code, budget, env, runs, method, say))

        # remote: a real `sigma serve` on loopback over its own copy of the fleet
        server_db = Path(tmp) / "server.db"
        build(f"sqlite:///{server_db}", FLEET_VPS, FLEET_VPS)
        server = RemoteServer(sigma, server_db, Path(tmp), env)
        say(
            f"remote: sigma serve on {server.base} over {FLEET_VPS:,} VPS, "
            "client logged in with `sigma login`"
        )
        server.start()
        try:
            remote_env = server.client_env
            _check([sigma, "vps", "list"], remote_env, expect_lines=25)
            results.append(
                _time_case(
                    f"sigma vps list (remote, sigma serve on loopback, {FLEET_VPS:,} VPS)",
                    [sigma, "vps", "list"],
                    FLOOR_REMOTE,
                    1.3,
                    remote_env,
                    runs,
                    method,
                    say,
                )
            )
        finally:
            server.stop()
    return results


def _time_case(
    what: str,
    argv: list[str],
    floor_code: str | None,
    budget: float | None,
    env: dict[str, str],
    runs: int,
    method: str,
    say,
) -> Result:
    _check(argv, env)
    floor = [PY, "-c", floor_code] if floor_code else None
    say(f"timing: {shlex.join(argv)}" + (f"  vs  {shlex.join(floor)}" if floor else ""))
    if floor:
        (t_cmd, t_floor), (c_cmd, c_floor) = measure([argv, floor], runs, env, method)
    else:
        (t_cmd,), (c_cmd,) = measure([argv], runs, env, method)
        t_floor, c_floor = [], []
    return Result(
        what=what,
        command=shlex.join(argv),
        times_ms=t_cmd,
        cpu_ms=c_cmd,
        floor=f'python -c "{floor_code}"' if floor else None,
        floor_command=shlex.join(floor) if floor else None,
        floor_times_ms=t_floor,
        floor_cpu_ms=c_floor,
        budget=budget if floor else None,
    )


def table(results: list[Result]) -> str:
    head = ("what", "median ms", "IQR", "floor", "floor ms", "ratio", "budget", "", "CPU ratio")
    rows = [head]
    for r in results:
        rows.append(
            (
                r.what,
                f"{r.median_ms:.0f}",
                f"{r.iqr_ms:.0f}",
                r.floor or "-",
                f"{r.floor_ms:.0f}" if r.floor_ms else "-",
                f"{r.ratio:.2f}x" if r.ratio else "-",
                f"<= {r.budget}x" if r.budget else "-",
                r.verdict,
                f"{r.cpu_ratio:.2f}x" if r.cpu_ratio else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            cell.ljust(w) if i in (0, 3) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="CLI startup budgets")
    ap.add_argument("--runs", type=int, default=15, help="runs per command (>= 10; default 15)")
    ap.add_argument(
        "--method",
        choices=("subprocess", "hyperfine"),
        default="subprocess",
        help="subprocess (default): alternates single runs, records CPU time too; "
        "hyperfine: rounds of hyperfine -N, order flipped each round",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    results = run(max(args.runs, 10), args.method)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    return 1 if any(r.verdict == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
