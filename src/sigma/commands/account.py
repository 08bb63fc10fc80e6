"""`sigma account add|list|show|edit|test|rm|kinds|rotate-key`: the provider and DNS accounts
sigma syncs from (issue 19). Admins only. Credentials are read from standard input or a
hidden prompt, never from the command line (shell history, `ps`), and never printed."""

from __future__ import annotations

import sys
from typing import Any

import typer

from sigma.commands.common import FormatOption, QuietOption, confirm_or_yes, done, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

COLUMNS = (
    ("Name", lambda a: a["name"], "key"),
    ("Kind", lambda a: a["kind"], "keep"),
    ("Provider", lambda a: a.get("provider_name") or "-", "text", 2),
    ("Instances", lambda a: str(a["instances"]), "keep"),
    ("Every", lambda a: f"{a['interval_minutes']} min", "keep", 1),
    ("Enabled", lambda a: "yes" if a["enabled"] else "no", "keep", 1),
    ("Last sync", lambda a: (a["last_sync_at"] or "never")[:16], "keep", 2),
    ("Status", lambda a: a["last_status"], "keep"),
    ("Error", lambda a: a["last_error"][:60], "text", 3),
)
SECRET_HELP = (
    "Read the secret from standard input (first line): the API token; Alibaba's "
    "AccessKeySecret; Virtualizor's API pass; KiwiVM's API key. Without it, a terminal "
    "prompts (hidden)."
)


def _read_secret(from_stdin: bool, what: str) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            from sigma.errors import InvalidInput

            raise InvalidInput("--token-stdin: standard input is empty", field="token")
        return line.strip()
    if not sys.stdin.isatty():
        from sigma.errors import InvalidInput

        raise InvalidInput(
            f"the {what} is needed: pipe it with --token-stdin (no terminal to prompt on)",
            field="token",
        )
    return str(typer.prompt(f"{what} (hidden)", hide_input=True))


def _secret_field(kind: str) -> str:
    """Which credential field the secret read from stdin is for `kind`."""
    from sigma.cloud import adapter

    needs = adapter(kind).NEEDS
    return "secret" if "secret" in needs else "token"


@app.command("kinds")
def kinds(ctx: typer.Context, fmt: str = FormatOption) -> None:
    """The kinds of account: what each syncs, the credentials it needs, its API base.

    Example: sigma account kinds
    """
    from sigma.output import emit

    rows = [k.model_dump(mode="json") for k in state(ctx).backend.account_kinds()]
    cols = (
        ("Kind", lambda k: k["kind"], "key"),
        ("Provider", lambda k: k["title"], "text"),
        ("Syncs", lambda k: k["role"], "keep"),
        ("Needs", lambda k: ", ".join(k["needs"]), "keep"),
        ("Where to find them", lambda k: k["help"], "text", 3),
    )
    emit(rows, fmt, columns=cols)


@app.command("add")
def add(
    ctx: typer.Context,
    kind: str = typer.Argument(
        ...,
        help="hetzner, vultr, digitalocean, linode, alibaba, "
        "virtualizor, kiwivm or cloudflare (see `sigma account kinds`).",
    ),
    name: str = typer.Argument(..., help="A name for the account (unique)."),
    provider: str = typer.Option(
        None, "--provider", help="Provider (name or id) the account's VPS belong to."
    ),
    api_base: str = typer.Option(
        None,
        "--api-base",
        help="API endpoint instead of the documented one (a proxy, a "
        "regional endpoint, Virtualizor's panel https://HOST:4083).",
    ),
    key_id: str = typer.Option(
        None,
        "--key-id",
        help="The public half: Alibaba AccessKeyId, Virtualizor API key, KiwiVM VEID.",
    ),
    region: str = typer.Option(
        None, "--region", help="Alibaba: region id(s), comma-separated (cn-hongkong,...)."
    ),
    token_stdin: bool = typer.Option(False, "--token-stdin", help=SECRET_HELP),
    interval: int = typer.Option(60, "--interval", help="Minutes between scheduled syncs."),
    api_wins: bool = typer.Option(
        False, "--api-wins", help="The API's values overwrite the ones changed by hand."
    ),
    disabled: bool = typer.Option(False, "--disabled", help="Add it without scheduled syncs."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Add a provider or DNS account; its credentials are stored encrypted.

    Examples:

    \b
      echo "$HCLOUD_TOKEN" | sigma account add hetzner hz-main --provider Hetzner --token-stdin
      sigma account add alibaba ali-hk --key-id LTAI5t... --region cn-hongkong --token-stdin
      sigma account add kiwivm bwh-la --key-id 1234567 --token-stdin < kiwivm.key
      sigma account add cloudflare cf-dns --token-stdin
    """
    from sigma.output import emit
    from sigma.schemas.accounts import AccountCreate
    from sigma.schemas.common import validate
    from sigma.vocab import ACCOUNT_KINDS

    kind_ = kind.strip().lower()
    if kind_ not in ACCOUNT_KINDS:
        from sigma.errors import InvalidInput

        raise InvalidInput(
            f"unknown account kind '{kind[:40]}'; expected one of: {', '.join(ACCOUNT_KINDS)}",
            field="kind",
        )
    body: dict[str, Any] = {
        "kind": kind_,
        "name": name,
        "interval_minutes": interval,
        "api_wins": api_wins,
        "enabled": not disabled,
    }
    if provider is not None:
        body["provider"] = provider
    if api_base is not None:
        body["api_base"] = api_base
    if key_id is not None:
        body["key_id"] = key_id
    if region is not None:
        body["options"] = {"region": region}
    body[_secret_field(kind_)] = _read_secret(token_stdin, "secret")
    data = validate(AccountCreate, body)
    a = state(ctx).backend.create_account(data).model_dump(mode="json")
    if quiet or fmt != "table":
        emit(a, fmt, quiet=quiet)
    else:
        done(f"Added account {a['name']} ({a['kind']}, {a['id']}); `sigma sync {a['name']}`")


@app.command("list")
def list_(ctx: typer.Context, fmt: str = FormatOption, quiet: bool = QuietOption) -> None:
    """List the accounts with their last sync.

    Example: sigma account list
    """
    from sigma.output import emit
    from sigma.schemas.accounts import Account

    rows = [a.model_dump(mode="json") for a in state(ctx).backend.list_accounts()]
    emit(rows, fmt, columns=COLUMNS, quiet=quiet, fields=list(Account.model_fields))


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Account name, id or id prefix."),
    fmt: str = FormatOption,
) -> None:
    """Show an account (never its credentials) and the instances its syncs saw.

    Example: sigma account show hz-main
    """
    from sigma.output import emit

    backend = state(ctx).backend
    a = backend.get_account(ref).model_dump(mode="json")
    a["synced_instances"] = backend.account_instances(a["id"])
    if fmt != "table":
        emit(a, fmt)
        return
    shown = {k: v for k, v in a.items() if k != "synced_instances"}
    emit(shown, fmt)
    cols = (
        ("Instance", lambda i: i["instance_id"], "key"),
        ("VPS", lambda i: i["hostname"] or "-", "text"),
        ("Status", lambda i: i["status"] or "-", "keep"),
        ("Region", lambda i: i["region"] or "-", "keep", 2),
        ("Plan", lambda i: i["plan"] or "-", "text", 3),
        ("Expires", lambda i: (i["expires_at"] or "-")[:10], "keep", 2),
        ("Gone", lambda i: (i["gone_at"] or "")[:16], "keep", 1),
    )
    if a["synced_instances"]:
        emit(a["synced_instances"], "table", columns=cols)


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Account name, id or id prefix."),
    name: str = typer.Option(None, "--name", help="New name."),
    provider: str = typer.Option(None, "--provider", help="Provider ('' for none)."),
    api_base: str = typer.Option(None, "--api-base", help="API endpoint ('' = the default)."),
    key_id: str = typer.Option(None, "--key-id", help="New public half of the credentials."),
    region: str = typer.Option(None, "--region", help="Alibaba: region id(s)."),
    token_stdin: bool = typer.Option(
        False, "--token-stdin", help="Replace the secret: " + SECRET_HELP
    ),
    interval: int = typer.Option(None, "--interval", help="Minutes between scheduled syncs."),
    api_wins: bool = typer.Option(
        None, "--api-wins/--operator-wins", help="Whose value wins when both changed."
    ),
    enabled: bool = typer.Option(None, "--enable/--disable", help="Scheduled syncs on or off."),
    fmt: str = FormatOption,
) -> None:
    """Change an account; give --token-stdin to replace its secret (after a rotation at
    the provider).

    Examples:

    \b
      sigma account edit hz-main --interval 30 --operator-wins
      echo "$NEW_TOKEN" | sigma account edit hz-main --token-stdin
    """
    from sigma.output import emit
    from sigma.schemas.accounts import AccountUpdate
    from sigma.schemas.common import validate

    backend = state(ctx).backend
    body: dict[str, Any] = {
        k: v
        for k, v in {
            "name": name,
            "provider": provider,
            "api_base": api_base,
            "key_id": key_id,
            "interval_minutes": interval,
            "api_wins": api_wins,
            "enabled": enabled,
        }.items()
        if v is not None
    }
    if region is not None:
        body["options"] = {"region": region}
    if token_stdin:
        kind = backend.get_account(ref).kind
        body[_secret_field(kind)] = _read_secret(True, "secret")
    if not body:
        from sigma.errors import InvalidInput

        raise InvalidInput("nothing to change: give at least one option (see --help)")
    a = backend.update_account(ref, validate(AccountUpdate, body)).model_dump(mode="json")
    if fmt != "table":
        emit(a, fmt)
    else:
        done(f"Updated account {a['name']}")


@app.command("test")
def test(ctx: typer.Context, ref: str = typer.Argument(..., help="Account name or id.")) -> None:
    """Ask the provider's API with the stored credentials; change nothing. Exit code 1 when
    the provider refuses or fails.

    Example: sigma account test hz-main
    """
    result = state(ctx).backend.test_account(ref)
    if not result.get("ok"):
        typer.echo(f"{result.get('account')}: FAILED: {result.get('error')}", err=True)
        raise typer.Exit(1)
    listed = ", ".join(f"{v} {k}" for k, v in result.items() if k not in ("account", "ok"))
    typer.echo(f"{result.get('account')}: ok ({listed})")


@app.command("rm")
def rm(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Account name or id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
) -> None:
    """Remove an account, its sync links and its DNS copy. Its VPS stay as they are.

    Example: sigma account rm hz-old --yes
    """
    backend = state(ctx).backend
    a = backend.get_account(ref)
    confirm_or_yes(f"Remove account {a.name} ({a.kind}, {a.instances} instances)?", yes)
    backend.delete_account(a.id)
    done(f"Removed account {a.name}")


app.command("delete", hidden=True)(rm)


@app.command("rotate-key")
def rotate_key(
    ctx: typer.Context, yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask.")
) -> None:
    """Re-encrypt every account's credentials with a new key (local database only: the
    key lives with it). With the key file, a new key is made and the old one dropped after;
    with account_key set, put the new key first (new,old), run this, then drop the old one.

    Example: sigma account rotate-key --yes
    """
    from sigma.errors import InvalidInput

    backend: Any = state(ctx).backend
    if not hasattr(backend, "rotate_account_key"):
        raise InvalidInput(
            "rotate-key runs where the database and its key are (sigma --local on the server)"
        )
    confirm_or_yes("Re-encrypt every account's credentials with a new key?", yes)
    result = backend.rotate_account_key()
    done(f"Re-encrypted the credentials of {result['accounts']} accounts")
