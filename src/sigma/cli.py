"""The `sigma` command: root Typer app, global options, sub-command table, and main(),
the single place where errors become one line on stderr and an exit code.

Only typer and the standard library are imported here; command modules import their heavy
dependencies (SQLAlchemy, httpx, FastAPI...) inside the functions that need them.
"""

import os
import sys
from typing import Any

import typer
import typer.main

from sigma import __version__
from sigma.commands import serve as serve_cmd
from sigma.commands import session as session_cmd
from sigma.commands import stats as stats_cmd
from sigma.commands import sync as sync_cmd
from sigma.commands.common import State
from sigma.commands.lazy import Lazy, LazyGroup


class SigmaGroup(LazyGroup):
    """The groups of `sigma`, each imported when it is used (commands/lazy.py)."""

    LAZY = {
        "provider": Lazy("sigma.commands.provider", "Hosting providers."),
        "providers": Lazy(
            "sigma.commands.provider",
            "Alias of `provider` (the original CLI's spelling).",
            hidden=True,
        ),
        "vps": Lazy(
            "sigma.commands.vps",
            "VPS: add, list, show, edit, retire, remove; history, duplicates, merge, trash.",
        ),
        "config": Lazy("sigma.commands.config", "Show where settings come from and what they are."),
        "db": Lazy("sigma.commands.db", "Database schema: upgrade, current revision."),
        "user": Lazy("sigma.commands.user", "Users and roles (admin); your password."),
        "api-key": Lazy("sigma.commands.apikey", "API keys for scripts, agents and probes."),
        "mfa": Lazy("sigma.commands.mfa", "TOTP multi-factor authentication for your account."),
        "audit": Lazy("sigma.commands.audit", "The audit log of every change (admin)."),
        "ticket": Lazy("sigma.commands.ticket", "Tickets: open, comment, start, resolve, close."),
        "tickets": Lazy("sigma.commands.ticket", "Alias of `ticket`.", hidden=True),
        "deploy": Lazy("sigma.commands.deploy", "Deploy to fleet hosts over SSH: node_exporter."),
        "export": Lazy(
            "sigma.commands.export",
            "Prometheus targets, Ansible inventory, iCalendar, VPS/provider files.",
        ),
        "import": Lazy(
            "sigma.commands.transfer",
            "Import VPS or providers from CSV, JSON or YAML (all or nothing).",
        ),
        "cost": Lazy("sigma.commands.cost", "Costs per currency and month; exchange rates."),
        "notify": Lazy(
            "sigma.commands.notify", "Notices: Apprise channels (notify_urls), Telegram, webhooks."
        ),
        "agent": Lazy(
            "sigma.commands.agent",
            "The agent on each VPS: run, install, provision its key; offline events.",
        ),
        "probe": Lazy(
            "sigma.commands.probe",
            "The reachability probe (run it inside China, and one control outside).",
        ),
        "ip": Lazy("sigma.commands.ip", "IP history: which VPS held an address, and when."),
        "ip-check": Lazy(
            "sigma.commands.ipcheck",
            "IP reachability checks: list, add, summary, purge, status matrix.",
        ),
        "ip-checks": Lazy(
            "sigma.commands.ipcheck",
            "Alias of `ip-check` (the original CLI's spelling).",
            hidden=True,
        ),
        "account": Lazy(
            "sigma.commands.account",
            "Provider and DNS accounts sigma syncs from (admin): add, list, test, rm.",
        ),
        "dns": Lazy(
            "sigma.commands.dns", "DNS records from the DNS accounts, linked to the fleet."
        ),
        "status": Lazy(
            "sigma.commands.status",
            "What needs attention now, worst first; acknowledge or snooze an item.",
        ),
    }


HELP = """sigma: one source of truth for a fleet of short-lived VPS.

The inventory lives in an embedded SQLite database unless `database_url` points at
PostgreSQL, or `server` points at a running `sigma serve` (then every command runs remotely).

Examples:

  sigma provider add DMIT --country US --rating 4

  sigma vps add hk-exit-01 --provider DMIT --ip 103.1.2.3=china-telecom --cost 15.99 --expire-date 2026-12-25

  sigma vps list --status active --tag cn-optimized --expiring-within 7

  sigma vps retire hk-exit-01
"""  # noqa: E501 (an example command, kept on one line)

app = typer.Typer(
    cls=SigmaGroup,
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
        None,
        "--database-url",
        help="SQLAlchemy URL of the inventory (overrides SIGMA_DATABASE_URL).",
        show_default=False,
    ),
    server: str = typer.Option(
        None,
        "--server",
        help="URL of a sigma server: run every command remotely (SIGMA_SERVER).",
        show_default=False,
    ),
    local: bool = typer.Option(
        False, "--local", help="Use the local database even when a server is configured."
    ),
    config: str = typer.Option(
        None,
        "--config",
        help="Config file to read instead of the default (SIGMA_CONFIG).",
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


app.command("serve")(serve_cmd.serve)
app.command("login")(session_cmd.login)
app.command("logout")(session_cmd.logout)
app.command("whoami")(session_cmd.whoami)
app.command("stats")(stats_cmd.stats)
app.command("sync")(sync_cmd.sync)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; map every error to one stderr line and an exit code."""
    import gc

    import click

    # a command's life is mostly imports, which allocate hundreds of thousands of objects that
    # live to the end: with CPython's default thresholds the collector walks them again and
    # again (~3 % of `sigma vps list`, bench/README.md). Commands that keep running put the
    # defaults back (commands.common.long_running).
    gc.set_threshold(50_000, 50, 50)

    from sigma.errors import SigmaError

    debug = "--debug" in (argv if argv is not None else sys.argv)
    try:
        rv = typer.main.get_command(app)(args=argv, prog_name="sigma", standalone_mode=False)
    except SigmaError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        _fail(f"error: {exc.message}", exc.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", 1)
    except click.UsageError as exc:
        # one style for every error: click's "Usage: ... Error: ..." block becomes one line
        command = exc.ctx.command_path if exc.ctx else "sigma"
        message = exc.format_message()
        hint = message.find(" Did you mean ")
        if hint != -1:  # typer adds its suggestion each time click resolves the name
            message = message[: message.index("?", hint) + 1]
        _fail(f"error: {message.rstrip('.')} (see '{command} --help')", 2)
    except click.ClickException as exc:
        _fail(f"error: {exc.format_message()}", exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors are reported
        if debug:
            raise
        _fail(
            f"unexpected error: {type(exc).__name__}: {_safe(exc)} (run with --debug for details)",
            1,
        )
    sys.exit(rv if isinstance(rv, int) else 0)


def _safe(exc: Exception) -> Any:
    from sigma.settings import redact_url

    return redact_url(str(exc).splitlines()[0] if str(exc) else "")


def _fail(message: str, code: int) -> None:
    from sigma.text import for_terminal

    sys.stderr.write(for_terminal(message.rstrip()) + "\n")
    sys.exit(code)
