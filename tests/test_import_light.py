"""Startup is a feature: `import sigma.cli` must not pull in the heavy libraries."""

import json
import subprocess
import sys

HEAVY = ["sqlalchemy", "sqlmodel", "fastapi", "uvicorn", "httpx", "alembic", "pydantic", "starlette"]


def test_import_sigma_cli_is_light():
    code = (
        "import sys, json, sigma.cli;"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
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
