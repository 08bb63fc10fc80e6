"""`sigma mfa enable|disable`: TOTP for your own account (remote mode)."""

import typer

from sigma.commands.common import done, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


@app.command("enable")
def enable(
    ctx: typer.Context,
    code: str = typer.Option(None, "--code", help="First code from the app (prompted if missing)."),
) -> None:
    """Enrol an authenticator app: prints a QR code and the secret, then asks for a code.

    Example: sigma mfa enable
    """
    backend = state(ctx).backend
    setup = backend.totp_setup()
    _print_qr(setup.otpauth_url)
    typer.echo(f"Secret: {setup.secret}", err=True)
    typer.echo(f"URI:    {setup.otpauth_url}", err=True)
    code = code or typer.prompt("Code from the app", err=True)
    backend.totp_verify(code)
    done("MFA enabled: logins now ask for a code.")


@app.command("disable")
def disable(
    ctx: typer.Context,
    code: str = typer.Option(None, "--code", help="Current code (prompted if missing)."),
) -> None:
    """Turn MFA off for your account (needs a current code).

    Example: sigma mfa disable --code 123456
    """
    code = code or typer.prompt("Current code", err=True)
    state(ctx).backend.totp_disable(code)
    done("MFA disabled.")


def _print_qr(uri: str) -> None:
    import sys

    import segno

    segno.make(uri, error="m").terminal(out=sys.stderr, compact=True)
