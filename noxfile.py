"""Developer and CI sessions. `nox -s tests` is the README's test command."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """The whole test suite against real SQLite, PostgreSQL and Redis, in the current Python,
    spread over every core (pytest-xdist). `nox -s tests -- -m "not slow"` skips the suites
    that drive real external tools (Chromium, sshd, PgBouncer, ansible, promtool)."""
    session.run("python", "-m", "pip", "install", "-q", "-e", ".[test]")
    session.run("python", "-m", "pytest", "-n", "auto", "--dist", "loadgroup", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (rules and formatting) over the sources, tests and benchmarks; the layer
    contracts (import-linter, in pyproject.toml); mypy (strict where pyproject.toml says)."""
    session.install(
        "ruff>=0.5", "import-linter>=2.1", "mypy>=1.10", "types-PyYAML", "types-cachetools"
    )
    session.install("-e", ".")
    session.run("ruff", "check", "src", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "bench", "noxfile.py")
    session.run("lint-imports")
    session.run("mypy")


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """The performance budgets (bench/README.md), each beside its floor in the same run."""
    session.run("python", "-m", "pip", "install", "-q", "-e", ".[test]")
    session.run("python", "bench/run.py", *session.posargs)


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """Regenerate completions/ (bash, zsh, fish) and man/ from the command tree; commit them."""
    session.run("python", "-m", "pip", "install", "-q", "-e", ".")
    session.run("python", "-m", "sigma.docs_gen", "--out", ".")


@nox.session(python=False)
def schemathesis(session: nox.Session) -> None:
    """schemathesis over the whole OpenAPI document (fixed seed, bounded examples), as each role."""
    session.run("python", "-m", "pip", "install", "-q", "-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", "tests/api/test_schemathesis.py", *session.posargs)
