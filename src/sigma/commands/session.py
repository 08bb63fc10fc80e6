"""`sigma login [URL]`, `sigma logout` (remote mode) and `sigma whoami`."""

import typer

from sigma.commands.common import FormatOption, done, state


def login(
    ctx: typer.Context,
    url: str | None = typer.Argument(
        None, help="Server URL, e.g. https://sigma.example.com (default: the configured server)."
    ),
    email: str = typer.Option(None, "--email", "-u", help="Your email (prompted if missing)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    api_key: str = typer.Option(
        None, "--api-key", help="Log in with an API key instead of a password."
    ),
) -> None:
    """Log in to a sigma server; later commands then run against it.

    The server URL is saved in the config file; the token goes to the OS keyring (or a
    0600 file when there is none).

    Example: sigma login https://sigma.example.com --email me@example.com
    """
    import sys

    from sigma.client import credentials, remote
    from sigma.errors import InvalidInput, SigmaError
    from sigma.settings import save_config_values

    st = state(ctx)
    url = url or st.flags.get("server") or st.settings.server
    if not url:
        raise InvalidInput(
            "give the server URL: sigma login https://sigma.example.com", field="url"
        )
    base = remote.server_base(url)
    if api_key:
        with remote.make_client(base, {"X-Api-Key": api_key}) as http:
            backend = remote.RemoteBackend.__new__(remote.RemoteBackend)
            backend.base, backend.where, backend.http = base, base, http
            user = backend.me()
        secret = api_key
    else:
        email = email or typer.prompt("Email", err=True)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = typer.prompt("Password", hide_input=True, err=True)
        result = remote.login(base, email, password, lambda: typer.prompt("TOTP code", err=True))
        if result.token is None or result.user is None:
            raise SigmaError(f"{base} did not answer like a sigma server (no token, no user)")
        secret, user = result.token, result.user
    where = credentials.save(base, secret)
    save_config_values({"server": base})
    how = "an API key" if api_key else "a session token"
    done(
        f"Logged in to {base} as {user.email} ({user.role}) with {how}, kept in {where}. "
        "Commands now run against this server (`sigma logout` goes back to the local database)."
    )
    if getattr(user, "force_password_change", False):
        if api_key:
            done(
                f"The server refuses this key until {user.email} changes its password: "
                f"sign in with the password (`sigma login {base}`), then `sigma user passwd`."
            )
        else:
            done("Your password must be changed before anything else: run `sigma user passwd`.")


def logout(
    ctx: typer.Context,
    all_sessions: bool = typer.Option(
        False,
        "--all",
        help="Also sign out every other session of your user (every token issued so far).",
    ),
) -> None:
    """Forget the token for the configured server and leave remote mode.

    Example: sigma logout --all
    """
    from sigma.client import credentials, remote
    from sigma.settings import save_config_values

    st = state(ctx)
    server = st.settings.server
    if not server:
        done("Not logged in to any server.")
        return
    base = remote.server_base(server)
    if all_sessions:
        st.backend.logout_all()
        done(f"Every session of your user on {base} is signed out.")
    credentials.delete(base)
    save_config_values({"server": None})
    from sigma.settings import load_settings

    local = load_settings().database_url
    done(f"Logged out of {base}. Commands now run on the local database ({_redacted(local)}).")


def _redacted(url: str) -> str:
    from sigma.settings import redact_url

    return redact_url(url)


def whoami(ctx: typer.Context, fmt: str = FormatOption) -> None:
    """Who and where the next command runs as: the server (or the local database), the
    user, its role and how it is signed in.

    Example: sigma whoami --format json
    """
    from sigma.output import emit

    st = state(ctx)
    backend = st.backend
    user = backend.me()
    remote = not backend.where.startswith("local ")
    record = {
        "where": backend.where.removeprefix("local "),
        "mode": "remote" if remote else "local",
        "email": user.email,
        "role": user.role,
        "mfa": user.totp_enabled,
        "password_change_required": user.force_password_change,
    }
    if fmt != "table":
        emit(record, fmt)
        return
    if remote:
        typer.echo(f"{user.email} ({user.role}) on {record['where']}")
        if user.force_password_change:
            typer.echo("Your password must be changed first: `sigma user passwd`.")
    else:
        typer.echo(
            f"{user.email} (admin) on the local database {record['where']}: no sign-in, "
            "every change is audited under this name"
        )
