"""Startup is a feature: `import sigma.cli` must not pull in the heavy libraries."""

import json
import os
import shutil
import subprocess
import sys

HEAVY = [
    "sqlalchemy",
    "sqlmodel",
    "fastapi",
    "uvicorn",
    "httpx",
    "alembic",
    "pydantic",
    "starlette",
]


def test_import_sigma_cli_is_light():
    code = (
        f"import sys, json, sigma.cli;print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_help_is_light():
    code = (
        "import sys, json\n"
        "from sigma.cli import main\n"
        "try:\n    main(['vps', 'add', '--help'])\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stderr.strip().splitlines()[-1]) == []


# what a real command imports (the CLI start-up budgets, bench/README.md)


def _modules_after(
    args: list[str], tmp_path, env: dict[str, str] | None = None
) -> tuple[str, set[str]]:
    """Run `sigma ARGS` in a fresh interpreter, stdout a pipe: (its stdout, sys.modules after)."""
    report = tmp_path / "modules.json"
    code = (
        "import json, sys\n"
        "from sigma.cli import main\n"
        "code = 0\n"
        f"try:\n    main({args!r})\nexcept SystemExit as exc:\n    code = exc.code\n"
        f"open({str(report)!r}, 'w')"
        ".write(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
    )
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SIGMA_") or k in ("SIGMA_CONFIG", "SIGMA_DATA_DIR")
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**base, **(env or {})}
    )
    data = json.loads(report.read_text())
    assert data["code"] in (0, None), proc.stderr
    return proc.stdout, set(data["modules"])


def test_local_vps_list_on_sqlite_skips_the_postgresql_dialect_and_rich(sqlite_template, tmp_path):
    """JSONB and the GIN index options are PostgreSQL-only: declaring them loaded SQLAlchemy's
    whole PostgreSQL dialect package (~25 ms) on every SQLite command. And a listing written
    to a pipe is plain text: rich (~35 ms) is not even imported."""
    db = tmp_path / "sigma.db"
    shutil.copyfile(sqlite_template, db)
    env = {"SIGMA_DATABASE_URL": f"sqlite:///{db}"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sigma",
            "vps",
            "add",
            "hk-light-01",
            "--ip",
            "192.0.2.7=ct",
            "--country",
            "HK",
            "--expire-date",
            "2031-01-01",
            "--tag",
            "edge",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, **env},
    )
    out, loaded = _modules_after(["vps", "list"], tmp_path, env)
    assert "hk-light-01" in out and "192.0.2.7 CT" in out
    assert "sqlalchemy.dialects.postgresql" not in loaded
    assert not [m for m in loaded if m == "rich" or m.startswith("rich.")]
    other_schemas = [
        m
        for m in loaded
        if m.startswith("sigma.schemas.")
        and m not in ("sigma.schemas.common", "sigma.schemas.inventory")
    ]
    other_tables = [
        m for m in loaded if m.startswith("sigma.db.models.") and m != "sigma.db.models.core"
    ]
    assert not other_schemas and not other_tables  # the other areas


def test_remote_vps_list_skips_pydantic_sqlalchemy_keyring_and_trio(tmp_path):
    """Against a real `sigma serve`, logged in as a user logs in: no pydantic (settings and
    schemas, ~130 ms: the listing is the server's JSON), no SQLAlchemy, no keyring when the
    token is in the credentials file (~100-150 ms), no httpx CLI or trio (~100 ms)."""
    from serverproc import ADMIN, start_server

    server = start_server(tmp_path / "server")
    try:
        with server.admin() as admin:
            admin.post(
                "/api/vps",
                json={
                    "hostname": "hk-remote-01",
                    "country": "HK",
                    "ip_addresses": [{"ip": "192.0.2.9", "label": "china-telecom"}],
                    "expire_date": "2031-01-01",
                },
            ).raise_for_status()
        env = {
            "SIGMA_CONFIG": str(tmp_path / "client.yaml"),
            "SIGMA_DATA_DIR": str(tmp_path / "client-data"),
        }
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sigma",
                "login",
                server.base,
                "--email",
                ADMIN[0],
                "--password-stdin",
            ],
            input=ADMIN[1] + "\n",
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        )
        out, loaded = _modules_after(["vps", "list"], tmp_path, env)
    finally:
        server.stop()
    assert "hk-remote-01" in out and "192.0.2.9 CT" in out
    heavy = (
        "pydantic",
        "sigma.schemas",
        "sigma.settings",
        "sqlalchemy",
        "keyring",
        "trio",
        "httpx._main",
        "rich",
    )
    assert not [m for m in loaded if m.split(".")[0] in heavy or m.startswith(heavy)]


def test_no_module_level_getattr():
    """Every schema and table is imported from the module that defines it, by name: no
    module-level __getattr__ turns names into something tools cannot see."""
    import ast
    from pathlib import Path

    src = Path(__file__).parents[1] / "src" / "sigma"
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert not names & {"__getattr__", "__dir__"}, path


def test_tables_holds_every_table_and_a_command_maps_only_its_own():
    """sigma.db.tables imports every area (the migrations and the autogenerate check read its
    metadata); the core area alone maps only providers and VPS."""
    code = (
        "import json, sqlmodel\n"
        "import sigma.db.models.core\n"
        "core = sorted(sqlmodel.SQLModel.metadata.tables)\n"
        "from sigma.db.tables import metadata\n"
        "print(json.dumps({'core': core, 'all': sorted(metadata.tables)}))"
    )
    out = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    assert out["core"] == ["providers", "vps"]
    assert {
        "tickets",
        "ticket_comments",
        "ip_checks",
        "reachability",
        "vps_events",
        "exchange_rates",
        "notification_log",
        "vps",
        "providers",
        "users",
        "api_keys",
        "audit_logs",
    } <= set(out["all"])


def test_root_help_imports_no_command_group(tmp_path):
    """`sigma --help` lists the groups from what cli.py gives add_typer: their modules (~20 of
    them, ~10-35 ms) are imported only when a group is built (commands/lazy.py: LazyTyper)."""
    out, loaded = _modules_after(["--help"], tmp_path)
    assert "vps" in out and "ip-check" in out
    groups = {
        "vps",
        "provider",
        "ticket",
        "user",
        "apikey",
        "mfa",
        "audit",
        "config",
        "db",
        "deploy",
        "export",
        "transfer",
        "cost",
        "notify",
        "agent",
        "probe",
        "ipcheck",
    }
    assert not groups & {
        m.removeprefix("sigma.commands.") for m in loaded if m.startswith("sigma.commands.")
    }
