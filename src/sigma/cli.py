"""The `sigma` command: root Typer app, global options, sub-command table, and main(),
the single place where errors become one line on stderr and an exit code.

Only typer and the standard library are imported here; command modules import their heavy
dependencies (SQLAlchemy, httpx, FastAPI...) inside the functions that need them.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from sigma import __version__
from sigma.commands import serve as serve_cmd
from sigma.commands import session as session_cmd
from sigma.commands.common import State
from sigma.commands.lazy import LazyTyper as _sub_app

# sub-apps by module name: a command module is imported when its group is built (lazy.py)
provider_app = _sub_app("sigma.commands.provider")
ticket_app = _sub_app("sigma.commands.ticket")

HELP = """sigma: one source of truth for a fleet of short-lived VPS.

The inventory lives in an embedded SQLite database unless `database_url` points at
PostgreSQL, or `server` points at a running `sigma serve` (then every command runs remotely).

Examples:

  sigma provider add DMIT --country US --rating 4

  sigma vps add hk-exit-01 --provider DMIT --ip 103.1.2.3=china-telecom --cost 15.99 --expire-date 2026-12-25

  sigma vps list --status active --tag cn-optimized --expiring-within 7

  sigma vps retire hk-exit-01
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sigma {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    database_url: str = typer.Option(
        None, "--database-url", help="SQLAlchemy URL of the inventory (overrides SIGMA_DATABASE_URL).",
        show_default=False,
    ),
    server: str = typer.Option(
        None, "--server", help="URL of a sigma server: run every command remotely (SIGMA_SERVER).",
        show_default=False,
    ),
    local: bool = typer.Option(
        False, "--local", help="Use the local database even when a server is configured."
    ),
    config: str = typer.Option(
        None, "--config", help="Config file to read instead of the default (SIGMA_CONFIG).",
        show_default=False,
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    if config:
        os.environ["SIGMA_CONFIG"] = config
    ctx.obj = State({"database_url": database_url, "server": server}, debug=debug, local=local)
    ctx.call_on_close(ctx.obj.close)


app.add_typer(provider_app, name="provider", help="Hosting providers.")
app.add_typer(provider_app, name="providers", hidden=True, help="Alias of `provider` (the original CLI's spelling).")
app.add_typer(_sub_app("sigma.commands.vps"), name="vps", help="VPS: add, list, show, edit, retire, remove.")
app.add_typer(_sub_app("sigma.commands.config"), name="config", help="Show where settings come from and what they are.")
app.add_typer(_sub_app("sigma.commands.db"), name="db", help="Database schema: upgrade, current revision.")
app.add_typer(_sub_app("sigma.commands.user"), name="user", help="Users and roles (admin); your password.")
app.add_typer(_sub_app("sigma.commands.apikey"), name="api-key", help="API keys for scripts, agents and probes.")
app.add_typer(_sub_app("sigma.commands.mfa"), name="mfa", help="TOTP multi-factor authentication for your account.")
app.add_typer(_sub_app("sigma.commands.audit"), name="audit", help="The audit log of every change (admin).")
app.add_typer(ticket_app, name="ticket", help="Tickets: open, comment, start, resolve, close.")
app.add_typer(ticket_app, name="tickets", hidden=True, help="Alias of `ticket`.")
app.command("serve")(serve_cmd.serve)
app.command("login")(session_cmd.login)
app.command("logout")(session_cmd.logout)

# ---- deploy
app.add_typer(_sub_app("sigma.commands.deploy"), name="deploy", help="Deploy to fleet hosts over SSH: node_exporter.")
# ---- end deploy

# ---- derived from the inventory (issue 4)
from sigma.commands import stats as stats_cmd  # noqa: E402

app.add_typer(_sub_app("sigma.commands.export"), name="export", help="Prometheus targets, Ansible inventory, iCalendar, VPS/provider files.")
app.add_typer(_sub_app("sigma.commands.transfer"), name="import", help="Import VPS or providers from CSV, JSON or YAML (all or nothing).")
app.add_typer(_sub_app("sigma.commands.cost"), name="cost", help="Costs per currency and month; exchange rates.")
app.add_typer(_sub_app("sigma.commands.notify"), name="notify", help="Expiry notifications over Telegram and webhooks.")
app.command("stats")(stats_cmd.stats)
# the original CLI's spellings `sigma vps export|import`, `sigma providers export|import` are
# registered by commands/vps.py and commands/provider.py themselves
# ---- end derived


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; map every error to one stderr line and an exit code."""
    import click

    from sigma.commands.lazy import lazy_command
    from sigma.errors import SigmaError

    debug = "--debug" in (argv if argv is not None else sys.argv)
    try:
        # the click tree built on demand: only the sub-command being run (see commands/lazy.py)
        rv = lazy_command(app)(args=argv, prog_name="sigma", standalone_mode=False)
    except SigmaError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        _fail(f"error: {exc.message}", exc.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", 1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors are reported
        if debug:
            raise
        _fail(f"unexpected error: {type(exc).__name__}: {_safe(exc)} (run with --debug for details)", 1)
    sys.exit(rv if isinstance(rv, int) else 0)


def _safe(exc: Exception) -> Any:
    from sigma.settings import redact_url

    return redact_url(str(exc).splitlines()[0] if str(exc) else "")


def _fail(message: str, code: int) -> None:
    from sigma.text import for_terminal

    sys.stderr.write(for_terminal(message.rstrip()) + "\n")
    sys.exit(code)

# ---- agents, probes and IP checks (issue 5)
ipcheck_app = _sub_app("sigma.commands.ipcheck")
app.add_typer(_sub_app("sigma.commands.agent"), name="agent", help="The agent on each VPS: run, install its systemd unit; offline events.")
app.add_typer(_sub_app("sigma.commands.probe"), name="probe", help="The reachability probe (run it inside China, and one control outside).")
app.add_typer(ipcheck_app, name="ip-check", help="IP reachability checks: list, add, summary, purge, status matrix.")
app.add_typer(ipcheck_app, name="ip-checks", hidden=True, help="Alias of `ip-check` (the original CLI's spelling).")
# ---- end agents
