"""Developer and CI sessions. `nox -s tests` is the README's test command."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """The whole test suite against real SQLite, PostgreSQL and Redis (in the current env)."""
    session.run("python", "-m", "pip", "install", "-q", "-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the sources, tests and benchmarks; the layer contracts (import-linter, in
    pyproject.toml)."""
    session.install("ruff>=0.5", "import-linter>=2.1")
    session.install("-e", ".")
    session.run("ruff", "check", "src", "tests", "bench", "noxfile.py")
    session.run("lint-imports")


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Benchmarks of the DESIGN.md budgets; figures go to bench/README.md by hand."""
    session.run("python", "-m", "pip", "install", "-q", "-e", ".[test]")
    # sqlmodel only for the import floor of the local-listing budget (sigma does not use it)
    session.run("python", "-m", "pip", "install", "-q", "sqlmodel")
    session.run("python", "bench/run.py", *session.posargs)


# ---- docs (issue 7)
@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """Regenerate completions/ (bash, zsh, fish) and man/ from the command tree; commit them."""
    session.run("python", "-m", "pip", "install", "-q", "-e", ".")
    session.run("python", "-m", "sigma.docs_gen", "--out", ".")


# ---- hostile input (issue 8)
@nox.session(python=False)
def schemathesis(session: nox.Session) -> None:
    """schemathesis over the whole OpenAPI document (fixed seed, bounded examples), as each role."""
    session.run("python", "-m", "pip", "install", "-q", "-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", "tests/api/test_schemathesis.py", *session.posargs)
